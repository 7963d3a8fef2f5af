"""Domain errors. `web` turns them into problem responses or form errors, `workers` into retries."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was not met; ``code`` is the stable machine word clients read (the
    problem's ``code`` in the served OpenAPI document, /api/v1/openapi.json)."""

    code = "domain_error"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class ValidationFailed(DomainError):
    code = "validation_error"

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(message, {name: [message]})


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class OfferExpired(Conflict):
    """An offer (a résumé to review, a waitlist's held slot) lapsed or went to someone else."""

    code = "offer_expired"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class TooLarge(DomainError):
    """The request carries more than allowed (HTTP 413)."""

    code = "too_large"


class UnsupportedType(DomainError):
    """The content is of a type that is not accepted (HTTP 415)."""

    code = "unsupported_media_type"
