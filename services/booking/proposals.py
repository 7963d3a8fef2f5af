"""A coach proposes moving a session to another time; the learner accepts it (the session moves the
reschedule's one way: history, calendar invitation, notices) or declines it (the session stays and
the coach is told); the coach may withdraw it meanwhile.

The proposed start follows the booking rules (grid, minimum notice, horizon, the coach's hours, no
overlap with the coach's or the learner's other sessions). One proposal is open per booking: a new
one replaces it. An open proposal counts until the cutoff of the session's current time (after it
nobody moves the session online) or the last moment its start may still be booked (the minimum
notice), whichever comes first, and only while its time is still free: that is checked when it is
shown and again, under the locks, when it is accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from services import localtime, outbox, validation
from services.booking import operations, placement
from services.booking.availability import valid_id
from services.booking.errors import ProposalClosed, ProposalExpired, SlotUnavailable
from services.db import db, utcnow
from services.errors import DomainError, Forbidden, NotFound, ValidationFailed
from services.models import Booking, BookingStatus, ProposalStatus, Role, TimeProposal, User

MAX_TEXT = 1000


@dataclass(frozen=True)
class ProposalRequest:
    start: dt.datetime
    message: str = ""


@dataclass(frozen=True)
class Draft:
    """What proposing a time would send, as the coach's confirm page shows it."""

    booking: Booking
    start: dt.datetime
    end: dt.datetime
    expires_at: dt.datetime
    # True when the new time is inside its own cancellation cutoff: once moved there, the
    # learner can no longer change it online.
    locked: bool
    replaces: TimeProposal | None


@dataclass(frozen=True)
class Standing:
    """The latest proposal about a session's current time, as its pages show it. ``state``:
    ``pending`` (the learner may accept or decline it), ``expired`` (its time ran out),
    ``taken`` (its time is no longer free), ``declined`` or ``withdrawn``."""

    proposal: TimeProposal
    state: str

    @property
    def pending(self) -> bool:
        return self.state == "pending"


# --- reading -------------------------------------------------------------------------------------


def expiry(session: Booking, start: dt.datetime) -> dt.datetime:
    """Until when a proposal to move ``session`` to ``start`` counts: the cutoff of the session's
    current time, or the minimum notice before ``start``, whichever comes first."""
    itype = session.interview_type
    return min(
        operations.change_cutoff(itype, session.start_at),
        start - dt.timedelta(hours=itype.min_notice_hours),
    )


def _move_request(session: Booking, start: dt.datetime) -> operations.RescheduleRequest:
    # A proposal never hands the session to another coach.
    return operations.RescheduleRequest(start=start, coach_id=session.coach_id)


def _free(proposal: TimeProposal, now: dt.datetime) -> bool:
    """Whether the proposed time could still be booked for this session (the move's checks)."""
    session = proposal.booking
    try:
        operations.check_move(
            session,
            session.learner,
            _move_request(session, proposal.start_at),
            now,
            counted=False,
        )
    except DomainError:  # any rule that refuses the move now: not free, not acceptable
        return False
    return True


def standing(session: Booking, *, now: dt.datetime | None = None) -> Standing | None:
    """The latest proposal about the session's current time that its pages should mention (open,
    declined or withdrawn), with its state; None when there is none or the session is not an
    upcoming confirmed one. A fixed handful of queries (the free-time check is the move's)."""
    now = now or utcnow()
    if session.status != BookingStatus.CONFIRMED or session.start_at <= now:
        return None
    proposal = db.session.scalar(
        select(TimeProposal)
        .where(
            TimeProposal.booking_id == session.id,
            TimeProposal.original_start_at == session.start_at,
        )
        .order_by(TimeProposal.id.desc())
        .limit(1)
    )
    if proposal is None:
        return None
    if proposal.status in (ProposalStatus.DECLINED, ProposalStatus.WITHDRAWN):
        return Standing(proposal, proposal.status)
    if proposal.status != ProposalStatus.OPEN:
        return None
    if now >= proposal.expires_at:
        return Standing(proposal, "expired")
    return Standing(proposal, "pending" if _free(proposal, now) else "taken")


def open_for(booking_ids: Iterable[int], *, now: dt.datetime | None = None) -> set[int]:
    """Which of these bookings have an open proposal whose time has not run out (for lists)."""
    ids = list(booking_ids)
    if not ids:
        return set()
    now = now or utcnow()
    return set(
        db.session.scalars(
            select(TimeProposal.booking_id).where(
                TimeProposal.booking_id.in_(ids),
                TimeProposal.status == ProposalStatus.OPEN,
                TimeProposal.expires_at > now,
            )
        )
    )


# --- the coach: propose, withdraw ----------------------------------------------------------------


def _coachs_session(booking_id: int, coach_id: int, *, for_update: bool) -> tuple[User, Booking]:
    coach = placement.active_user(coach_id)
    if coach.role != Role.COACH:
        raise Forbidden("Only the session's coach proposes a new time.")
    return coach, operations.get_booking(booking_id, coach, for_update=for_update)


def _open(session: Booking) -> TimeProposal | None:
    return db.session.scalar(
        select(TimeProposal).where(
            TimeProposal.booking_id == session.id, TimeProposal.status == ProposalStatus.OPEN
        )
    )


def _check(
    session: Booking, coach: User, request: ProposalRequest, now: dt.datetime
) -> tuple[dt.datetime, str]:
    """The proposed start, checked as a move of the session there would be, and the message."""
    message = validation.text(request.message, "message", limit=MAX_TEXT)
    try:
        start, _ = operations.check_move(
            session, coach, _move_request(session, request.start), now, counted=False
        )
    except SlotUnavailable as exc:
        if exc.detail == placement.LEARNER_BUSY:
            raise SlotUnavailable(
                f"{session.learner.name} has another session then. Pick another time."
            ) from exc
        raise
    return start, message


def preview(
    booking_id: int, coach_id: int, request: ProposalRequest, *, now: dt.datetime | None = None
) -> Draft:
    """Check a proposal as ``propose`` would, writing nothing. Raises what ``propose`` raises."""
    coach, session = _coachs_session(booking_id, coach_id, for_update=False)
    now = now or utcnow()
    start, _ = _check(session, coach, request, now)
    end = start + dt.timedelta(minutes=session.interview_type.duration_minutes)
    return Draft(
        session,
        start,
        end,
        expiry(session, start),
        now >= operations.change_cutoff(session.interview_type, start),
        _open(session),
    )


def propose(
    booking_id: int, coach_id: int, request: ProposalRequest, *, now: dt.datetime | None = None
) -> TimeProposal:
    """The session's coach proposes moving it to ``request.start``, with an optional message; an
    open proposal is replaced; the learner is told. Raises NotFound, Forbidden, ValidationFailed,
    SlotUnavailable, InvalidState, TooLateToReschedule."""
    coach, session = _coachs_session(booking_id, coach_id, for_update=True)
    placement.lock_users(session.learner_id, session.coach_id)
    now = now or utcnow()
    start, message = _check(session, coach, request, now)
    earlier = _open(session)
    if earlier is not None:
        earlier.status = (
            ProposalStatus.EXPIRED if now >= earlier.expires_at else ProposalStatus.REPLACED
        )
        earlier.closed_at, earlier.closed_by_id = now, coach.id
        db.session.flush()  # closed before the new one opens: one open proposal per booking
    proposal = TimeProposal(
        booking_id=session.id,
        proposed_by_id=coach.id,
        original_start_at=session.start_at,
        start_at=start,
        end_at=start + dt.timedelta(minutes=session.interview_type.duration_minutes),
        message=message,
        status=ProposalStatus.OPEN,
        created_at=now,
        expires_at=expiry(session, start),
    )
    db.session.add(proposal)
    db.session.flush()
    placement.record_history(
        session,
        "time_proposed",
        coach.id,
        proposal_id=proposal.id,
        start=start.isoformat(),
        replaces=earlier.id if earlier is not None else None,
    )
    db.session.flush()
    outbox.record("booking.time_proposed", proposal_id=proposal.id)
    return proposal


def _proposal(session: Booking, proposal_id: int) -> TimeProposal:
    proposal = db.session.get(TimeProposal, proposal_id) if valid_id(proposal_id) else None
    if proposal is None or proposal.booking_id != session.id:
        raise NotFound("There is no such proposal for this session.")
    return proposal


def withdraw(
    booking_id: int, coach_id: int, proposal_id: int, *, now: dt.datetime | None = None
) -> TimeProposal:
    """The coach takes back an open proposal (twice changes nothing). Raises NotFound, Forbidden,
    ProposalClosed."""
    coach, session = _coachs_session(booking_id, coach_id, for_update=True)
    proposal = _proposal(session, proposal_id)
    if proposal.status == ProposalStatus.WITHDRAWN:
        return proposal
    if proposal.status != ProposalStatus.OPEN:
        raise ProposalClosed(_closed_text(proposal, session, coach))
    proposal.status = ProposalStatus.WITHDRAWN
    proposal.closed_at, proposal.closed_by_id = now or utcnow(), coach.id
    placement.record_history(session, "proposal_withdrawn", coach.id, proposal_id=proposal.id)
    db.session.flush()
    return proposal


# --- the learner: accept, decline ----------------------------------------------------------------


def _learners_session(booking_id: int, learner_id: int) -> tuple[User, Booking]:
    learner = placement.active_user(learner_id)
    session = operations.get_booking(booking_id, learner, for_update=True)
    if learner.id != session.learner_id:
        raise Forbidden("Only the session's learner answers a proposed time.")
    return learner, session


def _closed_text(proposal: TimeProposal, session: Booking, viewer: User) -> str:
    coach = proposal.proposed_by.name if proposal.proposed_by else "The coach"
    learner = "You" if viewer.id == session.learner_id else session.learner.name
    return {
        ProposalStatus.ACCEPTED: f"{learner} accepted this time already: the session moved.",
        ProposalStatus.DECLINED: f"{learner} declined this time: the session stays as it is.",
        ProposalStatus.WITHDRAWN: f"{coach} withdrew this proposal: the session stays as it is.",
        ProposalStatus.REPLACED: f"{coach} proposed another time since: see the session.",
        ProposalStatus.EXPIRED: "This proposal expired: the session stays as it is.",
    }.get(
        ProposalStatus(proposal.status),
        "The session changed since this time was proposed, so the proposal no longer applies.",
    )


def _answerable(proposal: TimeProposal, session: Booking, learner: User, now: dt.datetime) -> None:
    """Raises ProposalClosed or ProposalExpired unless the learner may still answer it."""
    if proposal.status != ProposalStatus.OPEN or session.status != BookingStatus.CONFIRMED:
        raise ProposalClosed(_closed_text(proposal, session, learner))
    if now >= proposal.expires_at:
        raise ProposalExpired(
            f"This proposal expired at {localtime.for_user(proposal.expires_at, learner)}: "
            f"your session stays at {localtime.for_user(session.start_at, learner)}."
        )


def accept(
    booking_id: int, learner_id: int, proposal_id: int, *, now: dt.datetime | None = None
) -> Booking:
    """The learner accepts the proposed time: the session moves there as a reschedule does (it
    does not use up one of the learner's own moves). Accepting twice changes nothing. Raises
    NotFound, Forbidden, ProposalClosed, ProposalExpired (its time ran out, or is no longer free:
    the session stays where it is)."""
    learner, session = _learners_session(booking_id, learner_id)
    placement.lock_users(session.learner_id)
    now = now or utcnow()
    proposal = _proposal(session, proposal_id)
    if proposal.status == ProposalStatus.ACCEPTED:
        return session
    _answerable(proposal, session, learner, now)
    try:
        start, candidates = operations.check_move(
            session, learner, _move_request(session, proposal.start_at), now, counted=False
        )
        proposal.status = ProposalStatus.ACCEPTED
        proposal.closed_at, proposal.closed_by_id = now, learner.id
        return operations.move(
            session, learner, start, candidates, now, counted=False, proposal_id=proposal.id
        )
    except (ValidationFailed, SlotUnavailable) as exc:
        proposed = localtime.for_user(proposal.start_at, learner)
        why = (
            f"you already have another session at the proposed time, {proposed}"
            if exc.detail == placement.LEARNER_BUSY
            else f"the proposed time, {proposed}, is no longer free"
        )
        raise ProposalExpired(
            f"This proposal has expired: {why}. Your session stays at "
            f"{localtime.for_user(session.start_at, learner)}."
        ) from exc


def decline(
    booking_id: int,
    learner_id: int,
    proposal_id: int,
    reply: str = "",
    *,
    now: dt.datetime | None = None,
) -> TimeProposal:
    """The learner declines the proposed time, with an optional note: the session stays; the
    coach is told. Declining twice changes nothing. Raises NotFound, Forbidden, ValidationFailed,
    ProposalClosed, ProposalExpired."""
    learner, session = _learners_session(booking_id, learner_id)
    now = now or utcnow()
    note = validation.text(reply, "reply", limit=MAX_TEXT)
    proposal = _proposal(session, proposal_id)
    if proposal.status == ProposalStatus.DECLINED:
        return proposal
    _answerable(proposal, session, learner, now)
    proposal.status = ProposalStatus.DECLINED
    proposal.reply = note
    proposal.closed_at, proposal.closed_by_id = now, learner.id
    placement.record_history(session, "proposal_declined", learner.id, proposal_id=proposal.id)
    db.session.flush()
    outbox.record("booking.proposal_declined", proposal_id=proposal.id)
    return proposal
