"""The résumé wing's domain errors (web turns each ``code`` into a problem response)."""

from __future__ import annotations

from services.errors import Conflict, OfferExpired

__all__ = ["CorrectionClosed", "InvalidStatus", "OfferExpired", "ReviewInProgress"]


class ReviewInProgress(Conflict):
    code = "review_in_progress"


class InvalidStatus(Conflict):
    code = "invalid_status"


class CorrectionClosed(Conflict):
    code = "correction_closed"
