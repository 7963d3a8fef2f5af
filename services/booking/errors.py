"""The booking wing's refusals, each with its problem ``code``: the bookings', the waitlist's,
the proposals' and the requests' to staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.errors import Conflict, Forbidden, ValidationFailed

if TYPE_CHECKING:
    from services.models import Booking


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class AlreadyBooked(SlotUnavailable):
    """The learner already holds this very slot (a second click, or Back and confirm again)."""

    def __init__(self, booking: Booking) -> None:
        super().__init__("You already booked this time.")
        self.booking = booking


class TooLateToCancel(Conflict):
    code = "too_late_to_cancel"


class TooLateToReschedule(Conflict):
    code = "too_late_to_reschedule"


class RescheduleLimitReached(Conflict):
    code = "reschedule_limit_reached"


class BookingLimitReached(Conflict):
    code = "booking_limit_reached"


class InvalidState(Conflict):
    code = "invalid_state"


class BookingSuspended(Forbidden):
    code = "booking_suspended"


class IdempotencyMismatch(ValidationFailed):
    pass


class SlotsAvailable(Conflict):
    code = "slots_available"


class ProposalClosed(Conflict):
    """The proposal was answered, withdrawn or replaced, or the session changed since."""

    code = "proposal_closed"


class ProposalExpired(Conflict):
    """The proposal's time ran out, or its time is no longer free."""

    code = "proposal_expired"


class AlreadyAsked(Conflict):
    code = "request_open"


class AlreadyAnswered(Conflict):
    code = "request_answered"
