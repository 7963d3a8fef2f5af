"""Booking mock interviews: book, cancel, reschedule, outcomes, feedback, fair use, reminders.
Where a session goes (the locks, the coach chosen, the row placed) is ``placement``, shared with
the waitlist and the proposals.

The database has the last word on double booking (see services/models/booking.py): the checks here
give a clear answer in the common case, and an overlap that slips past them under concurrency is
refused by the constraint and answered with the same ``slot_unavailable``.

Writers are called inside one write transaction that their caller began as a writer (a view's
``writing()``, a task's or command's ``services.db.writer``): on SQLite it holds the write lock from
its first statement, so a concurrent commit cannot make its first write fail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from services import localtime, outbox
from services.booking import availability, intake
from services.booking.availability import Shape
from services.booking.errors import (
    AlreadyBooked,
    BookingLimitReached,
    BookingSuspended,
    IdempotencyMismatch,
    InvalidState,
    RescheduleLimitReached,
    TooLateToCancel,
    TooLateToReschedule,
)
from services.booking.placement import (
    Candidates,
    active_user,
    check_start,
    expertise_covered,
    find_candidates,
    lock_users,
    locked_user,
    new_meeting_url,
    new_uid,
    place,
    record_history,
    snapshot,
)
from services.booking.settings import policy
from services.db import db, utcnow
from services.errors import Forbidden, NotFound, ValidationFailed
from services.models import (
    Booking,
    BookingEvent,
    BookingStatus,
    IdempotencyKey,
    InterviewType,
    LearnerSuspension,
    ProposalStatus,
    Role,
    SessionFeedback,
    TimeProposal,
    User,
)
from services.models.booking import VISIBLE
from services.pagination import Page, paginate
from services.validation import MAX_ID

# --- reading -------------------------------------------------------------------------------------


def may_see(booking: Booking, viewer: User) -> bool:
    if booking.status not in VISIBLE:
        return False  # waitlist holds are not bookings
    if viewer.role == Role.STAFF:
        return True
    return viewer.id in (booking.learner_id, booking.coach_id)


def get_booking(booking_id: int, viewer: User, *, for_update: bool = False) -> Booking:
    """The booking if ``viewer`` may see it (owner, its coach, staff). Raises NotFound."""
    if not availability.valid_id(booking_id):
        raise NotFound("There is no such booking, or it is not yours to see.")
    query = select(Booking).where(Booking.id == booking_id)
    if for_update:
        query = query.with_for_update(of=Booking).execution_options(populate_existing=True)
    booking = db.session.scalar(query)
    if booking is None or not may_see(booking, viewer):
        raise NotFound("There is no such booking, or it is not yours to see.")
    return booking


def for_display(booking_id: int) -> Booking:
    """A booking with everything its JSON or page shows, in three queries."""
    booking = db.session.scalar(
        select(Booking)
        .where(Booking.id == min(booking_id, MAX_ID))
        .options(
            joinedload(Booking.coach),
            joinedload(Booking.learner),
            joinedload(Booking.interview_type),
            selectinload(Booking.feedback),
            selectinload(Booking.events).joinedload(BookingEvent.actor),
        )
    )
    if booking is None:
        raise NotFound("There is no such booking.")
    return booking


@dataclass(frozen=True)
class BookingFilter:
    status: str | None = None
    start_from: dt.datetime | None = None
    start_to: dt.datetime | None = None


def list_bookings(
    viewer: User, filters: BookingFilter, *, limit: int | None, cursor: str | None
) -> Page[Booking]:
    """Learner: own bookings; coach: own sessions; staff: all. Soonest first."""
    query: Select[tuple[Booking]] = select(Booking).where(Booking.status.in_(VISIBLE))
    if viewer.role == Role.LEARNER:
        query = query.where(Booking.learner_id == viewer.id)
    elif viewer.role == Role.COACH:
        query = query.where(Booking.coach_id == viewer.id)
    if filters.status:
        if filters.status not in VISIBLE:
            raise ValidationFailed.field("status", f"Use one of {', '.join(VISIBLE)}.")
        query = query.where(Booking.status == filters.status)
    if filters.start_from:
        query = query.where(Booking.start_at >= filters.start_from)
    if filters.start_to:
        query = query.where(Booking.start_at < filters.start_to)
    query = query.options(
        selectinload(Booking.coach),
        selectinload(Booking.learner),
        selectinload(Booking.interview_type),
        selectinload(Booking.feedback),
        selectinload(Booking.events).selectinload(BookingEvent.actor),
    )
    return paginate(
        query,
        [(Booking.start_at, "asc"), (Booking.id, "asc")],
        limit=limit,
        cursor=cursor,
        key=lambda b: (b.start_at, b.id),
    )


# --- fair use -----------------------------------------------------------------------------------


def active_suspension(learner_id: int, now: dt.datetime | None = None) -> LearnerSuspension | None:
    now = now or utcnow()
    return db.session.scalar(
        select(LearnerSuspension)
        .where(
            LearnerSuspension.learner_id == learner_id,
            LearnerSuspension.lifted_at.is_(None),
            LearnerSuspension.starts_at <= now,
            LearnerSuspension.ends_at > now,
        )
        .order_by(LearnerSuspension.ends_at.desc())
        .limit(1)
    )


def suspension_message(suspension: LearnerSuspension, learner: User) -> str:
    until = localtime.for_user(suspension.ends_at, learner)
    return f"Booking is paused for your account until {until}: {suspension.reason}"


def check_may_book(learner: User, itype: InterviewType, now: dt.datetime) -> None:
    """Fair use: no booking while suspended; at most N upcoming sessions of one type."""
    suspension = active_suspension(learner.id, now)
    if suspension is not None:
        raise BookingSuspended(suspension_message(suspension, learner))
    rules = policy()
    upcoming = (
        db.session.scalar(
            select(func.count(Booking.id)).where(
                Booking.learner_id == learner.id,
                Booking.interview_type_id == itype.id,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.start_at > now,
            )
        )
        or 0
    )
    if upcoming >= rules.max_upcoming_per_type:
        raise BookingLimitReached(
            f"You already hold {upcoming} upcoming {itype.name} sessions, the most at once. "
            "Attend or cancel one to book another."
        )


def explain(
    type_slug: str,
    start: dt.datetime,
    *,
    coach_id: int | None = None,
    learner_id: int | None = None,
    now: dt.datetime | None = None,
) -> availability.Explanation:
    """Why ``start`` is or is not bookable (``availability.explain``, the slot search's own tests)
    and, for a learner, whether fair use lets them book at all. Raises ValidationFailed."""
    now = now or utcnow()
    explanation = availability.explain(
        type_slug,
        start,
        coach_id=coach_id,
        learner_id=learner_id,
        now=now,
        name_feeds=learner_id is None,
    )
    learner = db.session.get(User, learner_id) if learner_id is not None else None
    if learner is None:
        return explanation
    try:
        check_may_book(learner, explanation.itype, now)
    except (BookingSuspended, BookingLimitReached) as refused:
        code = "suspended" if isinstance(refused, BookingSuspended) else "fair_use"
        reason = availability.Reason(code, refused.detail)
        return dataclasses.replace(explanation, reasons=(*explanation.reasons, reason))
    return explanation


# --- booking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRequest:
    type: str
    start: dt.datetime
    coach_id: int | None = None
    notes: str = ""
    # Try this coach first, if free (the one the confirm page named); others if not. Not part of
    # an idempotent request's identity: only the pages send it.
    prefer_coach_id: int | None = None
    # The intake answers, {question_id: value} (services.booking.intake).
    answers: dict[str, Any] | None = None


def _request_hash(request: BookingRequest) -> str:
    canonical = json.dumps(
        {
            "type": request.type,
            "start": request.start.astimezone(dt.UTC).isoformat()
            if request.start.tzinfo
            else request.start.isoformat(),
            "coach_id": request.coach_id,
            "notes": request.notes,
            **({"answers": request.answers} if request.answers else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def book(
    learner_id: int,
    request: BookingRequest,
    *,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Booking, bool]:
    """Book a session; returns it and whether it is a replay of an earlier request with the same
    Idempotency-Key. Raises ValidationFailed, SlotUnavailable, BookingLimitReached,
    BookingSuspended."""
    learner = locked_user(learner_id)
    if learner.role != Role.LEARNER:
        raise Forbidden("Only learners book sessions.")
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise ValidationFailed.field("Idempotency-Key", "Use 1 to 255 characters.")
        earlier = db.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.learner_id == learner_id, IdempotencyKey.key == idempotency_key
            )
        )
        if earlier is not None:
            if earlier.request_hash != _request_hash(request):
                raise IdempotencyMismatch.field(
                    "Idempotency-Key",
                    "This key was used for a different request. Use a new key for a new booking.",
                )
            replay = db.session.get(Booking, earlier.booking_id)
            assert replay is not None
            return replay, True
    now = now or utcnow()
    itype = availability.get_type(request.type)
    existing = _own_booking_at(learner_id, itype, request.start)
    if existing is not None:
        raise AlreadyBooked(existing)
    start = check_start(itype, request.start, now)
    notes = request.notes.strip()
    if len(notes) > 2000:
        raise ValidationFailed.field("notes", "Use at most 2000 characters.")
    answers = intake.check_answers(itype, request.answers)
    check_may_book(learner, itype, now)
    named = intake.skills_named(answers)
    wanted = intake.wanted_tags(answers)
    candidates = find_candidates(
        itype,
        start,
        request.coach_id,
        learner_id,
        now,
        prefer_coach_id=request.prefer_coach_id,
        prefer_tags=wanted if request.coach_id is None else frozenset(),
    )
    booking = Booking(
        uid=new_uid(),
        learner_id=learner_id,
        interview_type_id=itype.id,
        status=BookingStatus.CONFIRMED,
        meeting_url=new_meeting_url(),
        notes=notes,
        answers=answers,
        created_at=now,
    )
    coach = place(booking, candidates, start, Shape.of(itype), now, new=True)
    if request.coach_id is None and wanted:
        booking.placement_reason = intake.placement_reason(
            named, expertise_covered(coach, wanted), len(candidates.free)
        )
    record_history(
        booking,
        "booked",
        learner_id,
        start=start.isoformat(),
        coach_id=coach.id,
        assigned="chosen" if request.coach_id else "round robin",
    )
    if idempotency_key is not None:
        db.session.add(
            IdempotencyKey(
                learner_id=learner_id,
                key=idempotency_key,
                request_hash=_request_hash(request),
                booking_id=booking.id,
            )
        )
    db.session.flush()
    outbox.record("booking.confirmed", **snapshot(booking, at=now.isoformat()))
    return booking, False


def _own_booking_at(learner_id: int, itype: InterviewType, start: dt.datetime) -> Booking | None:
    """The learner's confirmed booking of this type at exactly ``start``, if any."""
    if start.tzinfo is None:
        return None
    return db.session.scalar(
        select(Booking)
        .where(
            Booking.learner_id == learner_id,
            Booking.interview_type_id == itype.id,
            Booking.start_at == start.astimezone(dt.UTC),
            Booking.status == BookingStatus.CONFIRMED,
        )
        .limit(1)
    )


@dataclass(frozen=True)
class Preview:
    """What booking a slot would do, as the confirm page shows it before the learner commits."""

    itype: InterviewType
    start: dt.datetime
    end: dt.datetime
    # The coach the session would go to (the one picked, or the round robin's choice now), and
    # the other coaches free then who would take it if that one is taken meanwhile.
    coach: User | None
    others: tuple[User, ...]
    cutoff: dt.datetime
    # True when the slot is inside the cancellation cutoff already: once booked, it cannot be
    # moved or cancelled online (a minimum notice shorter than the cutoff allows such a slot).
    locked: bool
    existing: Booking | None = None

    @classmethod
    def of_candidates(
        cls, itype: InterviewType, start: dt.datetime, free: list[User], now: dt.datetime
    ) -> Preview:
        """A new session of ``itype`` at ``start`` for the first of the ``free`` coaches."""
        cutoff = change_cutoff(itype, start)
        return cls(
            itype,
            start,
            start + dt.timedelta(minutes=itype.duration_minutes),
            free[0],
            tuple(free[1:]),
            cutoff,
            now >= cutoff,
        )


def preview(learner_id: int, request: BookingRequest, *, now: dt.datetime | None = None) -> Preview:
    """Check ``request`` as ``book`` would, writing nothing: the coach it would go to and whether
    the learner could still change it online. A slot the learner already booked comes back as
    ``existing`` rather than an error. Raises what ``book`` raises (ValidationFailed for a past,
    off-grid, too-soon or beyond-horizon start; SlotUnavailable; BookingLimitReached;
    BookingSuspended)."""
    learner = active_user(learner_id)
    now = now or utcnow()
    itype = availability.get_type(request.type)
    existing = _own_booking_at(learner_id, itype, request.start)
    if existing is not None:
        return Preview(
            itype,
            existing.start_at,
            existing.end_at,
            existing.coach,
            (),
            _cutoff(existing),
            now >= _cutoff(existing),
            existing,
        )
    start = check_start(itype, request.start, now)
    check_may_book(learner, itype, now)
    candidates = find_candidates(
        itype, start, request.coach_id, learner_id, now, prefer_coach_id=request.prefer_coach_id
    )
    return Preview.of_candidates(itype, start, candidates.free, now)


# --- cancel and reschedule -----------------------------------------------------------------------


def change_cutoff(itype: InterviewType, start: dt.datetime) -> dt.datetime:
    """The last moment a learner may move or cancel a session of ``itype`` at ``start`` online."""
    return start - dt.timedelta(hours=itype.cancel_cutoff_hours)


def hours_text(hours: int) -> str:
    """``24 hours``, ``1 hour``."""
    return f"{hours} hour{'' if hours == 1 else 's'}"


def _cutoff(booking: Booking) -> dt.datetime:
    return change_cutoff(booking.interview_type, booking.start_at)


def placed_at(booking: Booking) -> dt.datetime:
    """When the booking was put at its current time: booked (or accepted from the waitlist), or
    last moved. A session placed at or after its cutoff was never changeable online."""
    moved = [e.at for e in booking.events if e.event == "rescheduled"]
    return max([booking.created_at, *moved])


def locked_from_the_start(booking: Booking) -> bool:
    """True when the booking was placed inside its cancellation cutoff (the minimum notice is
    shorter than the cutoff), so the learner could never move or cancel it online."""
    return placed_at(booking) >= _cutoff(booking)


def cancel(
    booking_id: int, actor_id: int, *, reason: str = "", now: dt.datetime | None = None
) -> Booking:
    """Cancel within the policy (staff may cancel any time). Cancelling twice changes nothing.
    Raises NotFound, TooLateToCancel, InvalidState, ValidationFailed."""
    actor = active_user(actor_id)
    booking = get_booking(booking_id, actor, for_update=True)
    now = now or utcnow()
    reason = reason.strip()
    if len(reason) > 1000:
        raise ValidationFailed.field("reason", "Use at most 1000 characters.")
    if booking.status == BookingStatus.CANCELLED:
        return booking
    if booking.status != BookingStatus.CONFIRMED:
        raise InvalidState("This session is over; it can no longer be cancelled.")
    staff = actor.role == Role.STAFF
    if not staff and now >= _cutoff(booking):
        hours = booking.interview_type.cancel_cutoff_hours
        raise TooLateToCancel(
            f"Sessions can be cancelled up to {hours} hours before they start "
            f"(until {localtime.for_user(_cutoff(booking), actor)}). Ask staff if you must."
        )
    close_proposals(booking, actor.id, now)
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    booking.cancelled_by_id = actor.id
    booking.cancel_reason = reason or None
    booking.sequence += 1
    record_history(
        booking,
        "cancelled",
        actor.id,
        reason=reason,
        override=staff and now >= _cutoff(booking),
    )
    db.session.flush()
    outbox.record("booking.cancelled", **snapshot(booking, by=actor.id, reason=reason))
    outbox.enqueue_after_commit("bookings.match_waitlist")
    return booking


COACHES_PROPOSE = (
    "Coaches do not move a session themselves: propose a new time, which the learner accepts or "
    "declines, or ask staff."
)


@dataclass(frozen=True)
class RescheduleRequest:
    start: dt.datetime
    coach_id: int | None = None


def reschedule(
    booking_id: int,
    actor_id: int,
    request: RescheduleRequest,
    *,
    now: dt.datetime | None = None,
) -> Booking:
    """Move a booking to a new time in one step: the old slot frees only if the new one is taken.
    The learner may do it twice per booking, outside the cutoff; staff any time. Raises NotFound,
    Forbidden, ValidationFailed, SlotUnavailable, TooLateToReschedule, RescheduleLimitReached."""
    actor = active_user(actor_id)
    booking = get_booking(booking_id, actor, for_update=True)
    if actor.role == Role.COACH:
        raise Forbidden(COACHES_PROPOSE)
    lock_users(booking.learner_id)
    now = now or utcnow()
    start, candidates = check_move(booking, actor, request, now)
    close_proposals(booking, actor.id, now)
    return move(booking, actor, start, candidates, now)


def move(
    booking: Booking,
    actor: User,
    start: dt.datetime,
    candidates: Candidates,
    now: dt.datetime,
    *,
    counted: bool = True,
    **detail: Any,
) -> Booking:
    """Put a booking checked by ``check_move`` at ``start``: the one way a session moves (its
    history, the calendar's SEQUENCE, the moved notice with its invitation to both, the waitlist
    offered the freed time). ``counted``: it uses up one of the learner's own moves. Raises
    SlotUnavailable when the time was taken meanwhile."""
    old_start, old_coach_id = booking.start_at, booking.coach_id
    coach = place(booking, candidates, start, Shape.of(booking.interview_type), now, new=False)
    booking.sequence += 1
    if counted:
        booking.reschedule_count += 1
    record_history(
        booking,
        "rescheduled",
        actor.id,
        old_start=old_start.isoformat(),
        start=start.isoformat(),
        old_coach_id=old_coach_id,
        coach_id=coach.id,
        **detail,
    )
    db.session.flush()
    outbox.record(
        "booking.rescheduled",
        **snapshot(
            booking, old_start=old_start.isoformat(), old_coach_id=old_coach_id, at=now.isoformat()
        ),
    )
    outbox.enqueue_after_commit("bookings.match_waitlist")
    return booking


def close_proposals(booking: Booking, actor_id: int | None, now: dt.datetime) -> None:
    """The session is cancelled or moved another way: a time its coach proposed no longer
    applies (services/booking/proposals.py)."""
    for proposal in db.session.scalars(
        select(TimeProposal).where(
            TimeProposal.booking_id == booking.id, TimeProposal.status == ProposalStatus.OPEN
        )
    ):
        proposal.status = ProposalStatus.CLOSED
        proposal.closed_at, proposal.closed_by_id = now, actor_id


def check_move(
    booking: Booking,
    actor: User,
    request: RescheduleRequest,
    now: dt.datetime,
    *,
    counted: bool = True,
) -> tuple[dt.datetime, Candidates]:
    """The new start and the coaches free then, if the actor may move the booking there
    (``counted``: a move of the learner's own, which has a limit)."""
    rules, staff = policy(), actor.role == Role.STAFF
    itype = booking.interview_type
    if booking.status != BookingStatus.CONFIRMED:
        raise InvalidState("Only a confirmed, upcoming session can be moved.")
    if not staff and now >= _cutoff(booking):
        raise TooLateToReschedule(
            f"Sessions can be moved up to {itype.cancel_cutoff_hours} hours before they start "
            f"(until {localtime.for_user(_cutoff(booking), actor)}). Ask staff if you must."
        )
    if counted and not staff and booking.reschedule_count >= rules.max_reschedules:
        raise RescheduleLimitReached(
            f"A booking can be moved at most {rules.max_reschedules} times. Cancel it and book "
            "again, or ask staff."
        )
    start = check_start(itype, request.start, now)
    if start == booking.start_at and request.coach_id in (None, booking.coach_id):
        raise ValidationFailed.field("start", "The session is already at this time.")
    candidates = find_candidates(
        itype,
        start,
        request.coach_id,
        booking.learner_id,
        now,
        exclude_booking_id=booking.id,
        prefer_coach_id=booking.coach_id,
    )
    return start, candidates


def preview_move(
    booking_id: int, actor_id: int, request: RescheduleRequest, *, now: dt.datetime | None = None
) -> Preview:
    """Check a move as ``reschedule`` would, writing nothing: who would run the session then and
    whether it could still be changed online. Raises what ``reschedule`` raises."""
    actor = active_user(actor_id)
    booking = get_booking(booking_id, actor)
    if actor.role == Role.COACH:
        raise Forbidden(COACHES_PROPOSE)
    now = now or utcnow()
    start, candidates = check_move(booking, actor, request, now)
    itype = booking.interview_type
    return Preview.of_candidates(itype, start, candidates.free, now)


# --- after the session ---------------------------------------------------------------------------


def _own_session(booking_id: int, actor: User) -> Booking:
    booking = get_booking(booking_id, actor, for_update=True)
    if actor.role == Role.LEARNER:
        raise Forbidden("Only the coach or staff record how a session went.")
    return booking


def mark_outcome(
    booking_id: int, actor_id: int, outcome: str, *, now: dt.datetime | None = None
) -> Booking:
    """Mark a session completed or no-show (a mistake can be corrected). Three no-shows in the
    window suspend the learner's booking. Raises NotFound, Forbidden, InvalidState."""
    if outcome not in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
        raise ValidationFailed.field("status", "Use completed or no_show.")
    actor = active_user(actor_id)
    booking = _own_session(booking_id, actor)
    now = now or utcnow()
    if booking.status not in (
        BookingStatus.CONFIRMED,
        BookingStatus.COMPLETED,
        BookingStatus.NO_SHOW,
    ):
        raise InvalidState("A cancelled session has no outcome.")
    if booking.start_at > now:
        raise InvalidState("The session has not started yet.")
    if booking.status == outcome:
        return booking
    booking.status = outcome
    record_history(booking, outcome, actor.id)
    db.session.flush()
    if outcome == BookingStatus.NO_SHOW:
        _maybe_suspend(booking.learner_id, now)
    return booking


def _maybe_suspend(learner_id: int, now: dt.datetime) -> LearnerSuspension | None:
    rules = policy()
    if active_suspension(learner_id, now) is not None:
        return None
    since = now - dt.timedelta(days=rules.no_show_window_days)
    last = db.session.scalar(
        select(func.max(LearnerSuspension.created_at)).where(
            LearnerSuspension.learner_id == learner_id
        )
    )
    query = select(Booking.start_at).where(
        Booking.learner_id == learner_id,
        Booking.status == BookingStatus.NO_SHOW,
        Booking.start_at >= since,
    )
    if last is not None:  # no-shows that caused an earlier suspension do not count twice
        query = query.where(Booking.start_at > last)
    missed = sorted(db.session.scalars(query))
    if len(missed) < rules.no_show_limit:
        return None
    learner = active_user(learner_id)
    days = ", ".join(localtime.for_user(m, learner, "%-d %b") for m in missed)
    suspension = LearnerSuspension(
        learner_id=learner_id,
        starts_at=now,
        ends_at=now + dt.timedelta(days=rules.suspension_days),
        reason=(
            f"you missed {len(missed)} sessions in {rules.no_show_window_days} days ({days}) "
            "without cancelling. Staff can lift this early."
        ),
        created_at=now,
    )
    db.session.add(suspension)
    db.session.flush()
    outbox.record("booking.learner_suspended", suspension_id=suspension.id)
    return suspension


def list_suspensions(
    *, active_only: bool, now: dt.datetime | None = None
) -> list[LearnerSuspension]:
    now = now or utcnow()
    query = (
        select(LearnerSuspension)
        .options(selectinload(LearnerSuspension.learner))
        .order_by(LearnerSuspension.created_at.desc())
    )
    if active_only:
        query = query.where(LearnerSuspension.lifted_at.is_(None), LearnerSuspension.ends_at > now)
    return list(db.session.scalars(query.limit(500)))


def find_suspension(suspension_id: int) -> LearnerSuspension:
    """The suspension. Raises NotFound."""
    suspension = (
        db.session.get(LearnerSuspension, suspension_id)
        if availability.valid_id(suspension_id)
        else None
    )
    if suspension is None:
        raise NotFound("There is no such suspension.")
    return suspension


def lift_suspension(
    suspension_id: int, staff_id: int, reason: str = "", *, now: dt.datetime | None = None
) -> LearnerSuspension:
    """Staff lift a suspension early. Raises NotFound, Forbidden."""
    actor = active_user(staff_id)
    if actor.role != Role.STAFF:
        raise Forbidden("Only staff lift a suspension.")
    suspension = find_suspension(suspension_id)
    if suspension.lifted_at is None:
        suspension.lifted_at = now or utcnow()
        suspension.lifted_by_id = actor.id
        suspension.lift_reason = reason.strip()[:1000]
        db.session.flush()
    return suspension


@dataclass(frozen=True)
class FeedbackInput:
    communication: int
    technical_depth: int
    problem_solving: int
    ml_knowledge: int
    notes: str = ""


SCORES = ("communication", "technical_depth", "problem_solving", "ml_knowledge")


def save_feedback(booking_id: int, actor_id: int, data: FeedbackInput) -> SessionFeedback:
    """The coach's feedback on a completed session (created or replaced); the learner is told the
    first time. Raises NotFound, Forbidden, InvalidState, ValidationFailed."""
    actor = active_user(actor_id)
    booking = _own_session(booking_id, actor)
    errors = {name: ["Score from 1 to 5."] for name in SCORES if not 1 <= getattr(data, name) <= 5}
    if len(data.notes) > 10000:
        errors["notes"] = ["Use at most 10000 characters."]
    if errors:
        raise ValidationFailed("Some scores are not valid.", errors)
    if booking.status != BookingStatus.COMPLETED:
        raise InvalidState("Mark the session completed before writing feedback.")
    feedback = booking.feedback
    first = feedback is None
    if feedback is None:
        feedback = SessionFeedback(booking_id=booking.id, coach_id=actor.id, **_scores(data))
        db.session.add(feedback)
    else:
        for name, value in _scores(data).items():
            setattr(feedback, name, value)
    record_history(booking, "feedback", actor.id)
    db.session.flush()
    if first:
        outbox.record("booking.feedback", booking_id=booking.id)
    return feedback


def _scores(data: FeedbackInput) -> dict[str, Any]:
    return {**{name: int(getattr(data, name)) for name in SCORES}, "notes": data.notes.strip()}


# --- reminders -----------------------------------------------------------------------------------

REMINDERS = (("24h", dt.timedelta(hours=24)), ("1h", dt.timedelta(hours=1)))


def queue_reminders(now: dt.datetime | None = None, batch: int = 500) -> int:
    """Queue the reminders that are due: each booking's 24 h and 1 h reminder, once each, never
    for a cancelled booking; a reschedule re-arms them. Safe to run twice, even at once."""
    now = now or utcnow()
    queued = 0
    for label, lead in REMINDERS:
        column = Booking.reminder_24h_at if label == "24h" else Booking.reminder_1h_at
        # A 24 h reminder whose moment passed unsent (the scheduler was down) is dropped once
        # the 1 h reminder is due: one reminder then, not two.
        not_after = now + dt.timedelta(hours=1) if label == "24h" else now
        due = db.session.execute(
            select(Booking.id, Booking.start_at)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                column.is_(None),
                Booking.start_at > not_after,
                Booking.start_at <= now + lead,
            )
            .order_by(Booking.start_at)
            .limit(batch)
        ).all()
        for booking_id, start_at in due:
            claimed = db.session.execute(
                update(Booking)
                .where(
                    Booking.id == booking_id,
                    Booking.status == BookingStatus.CONFIRMED,
                    Booking.start_at == start_at,
                    column.is_(None),
                )
                .values({column.key: now})
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) == 1:
                outbox.record(
                    "booking.reminder",
                    booking_id=booking_id,
                    lead=label,
                    start=start_at.isoformat(),
                )
                queued += 1
    return queued
