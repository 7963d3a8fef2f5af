"""Booking mock interviews: book, cancel, reschedule, outcomes, feedback, fair use, reminders.

The database has the last word on double booking (see services/models/booking.py): the checks here
give a clear answer in the common case, and an overlap that slips past them under concurrency is
refused by the constraint and answered with the same ``slot_unavailable``.

Writers call ``begin_write`` first thing in their transaction (the view ends the read transaction of
its authentication check before calling the service): on SQLite a write transaction must not start
as a reader, or a concurrent commit makes its first write fail at once instead of waiting its turn.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload, selectinload

from services import availability, calendar, localtime, outbox
from services.availability import Shape, free_starts
from services.db import MAX_ID, begin_write, db, utcnow
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.models import (
    Booking,
    BookingEvent,
    BookingStatus,
    CoachBookingSettings,
    IdempotencyKey,
    InterviewType,
    LearnerSuspension,
    ProposalStatus,
    Role,
    SessionFeedback,
    TimeProposal,
    User,
)
from services.models.booking import OCCUPYING, VISIBLE
from services.notifications import Message, base_url, handles, register_kind
from services.pagination import Page, paginate


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


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    max_upcoming_per_type: int = 2
    max_reschedules: int = 2
    no_show_limit: int = 3
    no_show_window_days: int = 60
    suspension_days: int = 14
    hold_minutes: int = 30
    meeting_base_url: str = "https://meet.jit.si"


def policy() -> Policy:
    config: Any = current_app.config if has_app_context() else {}
    default = Policy()
    return Policy(
        max_upcoming_per_type=int(
            config.get("BOOKING_MAX_UPCOMING_PER_TYPE", default.max_upcoming_per_type)
        ),
        max_reschedules=int(config.get("BOOKING_MAX_RESCHEDULES", default.max_reschedules)),
        no_show_limit=int(config.get("BOOKING_NO_SHOW_LIMIT", default.no_show_limit)),
        no_show_window_days=int(
            config.get("BOOKING_NO_SHOW_WINDOW_DAYS", default.no_show_window_days)
        ),
        suspension_days=int(config.get("BOOKING_SUSPENSION_DAYS", default.suspension_days)),
        hold_minutes=int(config.get("BOOKING_WAITLIST_HOLD_MINUTES", default.hold_minutes)),
        meeting_base_url=str(
            config.get("BOOKING_MEETING_BASE_URL", default.meeting_base_url)
        ).rstrip("/"),
    )


# --- transactions and locks ----------------------------------------------------------------------


def lock_users(*user_ids: int) -> None:
    """PostgreSQL: lock the users' rows until commit, serialising what one learner (or one coach's
    day) does. Every writer locks the learner before the coach, so two never wait on each other."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(
        select(User.id)
        .where(User.id.in_(sorted(set(user_ids))))
        .order_by(User.id)
        .with_for_update()
    ).all()


def try_lock_users(*user_ids: int) -> bool:
    """PostgreSQL: lock the rows of these users (the learner first, then the coach) without
    waiting; False if another transaction holds one. The waitlist locks several learners and
    coaches in one transaction, in no fixed order: skipping a busy row instead of waiting keeps it
    out of any deadlock with a booking that holds one row and waits for another."""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    got = set()
    for user_id in user_ids:
        row = db.session.execute(
            select(User.id).where(User.id == user_id).with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return False
        got.add(user_id)
    return got == set(user_ids)


def locked_user(user_id: int) -> User:
    """The user, its row locked until commit on PostgreSQL (see ``lock_users``), in one query.
    Raises NotFound."""
    query = select(User).where(User.id == user_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update().execution_options(populate_existing=True)
    user = db.session.scalar(query)
    if user is None or not user.active:
        raise NotFound("There is no such user.")
    return user


def _overlap(error: DBAPIError) -> str | None:
    """Which no-overlap rule refused a write: "coach", "learner", or None for another error.

    PostgreSQL can also answer two concurrent conflicting inserts into an exclusion constraint
    with a deadlock (each waits for the other's index entry); the one it aborts lost the slot.
    Our writers lock the learner's and coach's rows first, so that is a safety net only."""
    message = str(error.orig)
    if "ex_booking_coach_overlap" in message:
        return "coach"
    if "ex_booking_learner_overlap" in message:
        return "learner"
    if getattr(error.orig, "sqlstate", None) == "40P01":  # deadlock_detected
        return "coach"
    return None


LEARNER_BUSY = "You already have a session that overlaps this time."


# --- reading -------------------------------------------------------------------------------------


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("There is no such user.")
    return user


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


# --- validation ----------------------------------------------------------------------------------


def _check_start(itype: InterviewType, start: dt.datetime, now: dt.datetime) -> dt.datetime:
    if start.tzinfo is None:
        raise ValidationFailed.field("start", "Give the time with its offset, e.g. +00:00.")
    start = start.astimezone(dt.UTC)
    earliest, latest = availability.booking_window(itype, now)
    step = availability.step_minutes()
    if start <= now:
        raise ValidationFailed.field("start", "This time is in the past.")
    if start < earliest:
        raise ValidationFailed.field(
            "start",
            f"Book at least {itype.min_notice_hours} hours ahead (the minimum notice for "
            f"{itype.name}).",
        )
    if start > latest:
        raise ValidationFailed.field(
            "start", f"Book at most {itype.horizon_days} days ahead (the booking horizon)."
        )
    if not availability.on_grid(start, step):
        raise ValidationFailed.field(
            "start", f"Sessions start on the {step}-minute grid (for example :00 or :30)."
        )
    return start


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


# --- choosing a coach ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidates:
    free: list[User]
    caps: dict[int, int]


def _candidates(
    itype: InterviewType,
    start: dt.datetime,
    coach_id: int | None,
    learner_id: int,
    now: dt.datetime,
    *,
    exclude_booking_id: int | None = None,
    prefer_coach_id: int | None = None,
) -> _Candidates:
    """The coaches who could take this session, best first (round robin). Raises ValidationFailed
    when no coach works then (not a slot), SlotUnavailable when all who do are taken."""
    coaches = availability.eligible_coaches(itype, coach_id)
    if coach_id is not None and not coaches:
        raise availability.not_running(coach_id, itype)
    shape, step = Shape.of(itype), availability.step_minutes()
    around = (start - dt.timedelta(days=1), start + dt.timedelta(days=1))
    calendars = availability.load_calendars(coaches, *around, exclude_booking_id=exclude_booking_id)
    scheduled, free = [], []
    for coach in coaches:
        cal = calendars[coach.id]
        windows = cal.windows(*around)
        if free_starts(windows, shape, step=step, earliest=start, latest=start) != [start]:
            continue
        scheduled.append(coach)
        if cal.full_on(start):
            continue
        if free_starts(
            windows, shape, step=step, earliest=start, latest=start, blocks=cal.blocks
        ) == [start]:
            free.append(coach)
    if not scheduled:
        who = "This coach is" if coach_id is not None else "No coach is"
        raise ValidationFailed.field(
            "start", f"{who} available for {itype.name} then: pick one of the offered slots."
        )
    mine = availability.learner_sessions(
        learner_id, start, start + shape.duration, exclude_booking_id=exclude_booking_id
    )
    if mine:
        raise SlotUnavailable(LEARNER_BUSY)
    if not free:
        raise SlotUnavailable("This slot was just taken. Pick another time.")
    if len(free) > 1:
        free = _round_robin(free, itype, now)
    if prefer_coach_id is not None:
        free.sort(key=lambda c: c.id != prefer_coach_id)  # stable: keeps the rest in order
    return _Candidates(free=free, caps={c.id: calendars[c.id].cap for c in free})


def _round_robin(coaches: list[User], itype: InterviewType, now: dt.datetime) -> list[User]:
    """Least booked over the booking horizon first; ties go to whoever was assigned longest ago."""
    ids = [c.id for c in coaches]
    in_period = and_(
        Booking.status.in_(OCCUPYING),
        Booking.start_at >= now,
        Booking.start_at < now + dt.timedelta(days=itype.horizon_days),
    )
    rows = db.session.execute(
        select(
            Booking.coach_id,
            func.sum(case((in_period, 1), else_=0)),
            func.max(Booking.created_at),
        )
        .where(Booking.coach_id.in_(ids))
        .group_by(Booking.coach_id)
    ).all()
    load = {coach_id: (count or 0, last) for coach_id, count, last in rows}
    never = dt.datetime.min.replace(tzinfo=dt.UTC)

    def rank(coach: User) -> tuple[int, dt.datetime, int]:
        count, last = load.get(coach.id, (0, None))
        if isinstance(last, str):  # SQLite returns max() of a column as text
            last = dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC)
        return (int(count), last or never, coach.id)

    return sorted(coaches, key=rank)


def _within_cap(coach: User, start: dt.datetime, cap: int, exclude_booking_id: int | None) -> bool:
    """Re-counted under the coach's lock, so concurrent bookings cannot pass the cap together."""
    tz = localtime.zone(coach.timezone)
    day = start.astimezone(tz).date()
    day_from = availability.local_to_utc(day, dt.time(0), tz)
    day_to = availability.local_to_utc(day + dt.timedelta(days=1), dt.time(0), tz)
    query = select(func.count(Booking.id)).where(
        Booking.coach_id == coach.id,
        Booking.status.in_(OCCUPYING),
        Booking.start_at >= day_from,
        Booking.start_at < day_to,
    )
    if exclude_booking_id is not None:
        query = query.where(Booking.id != exclude_booking_id)
    return (db.session.scalar(query) or 0) < cap


def _place(
    booking: Booking,
    candidates: _Candidates,
    start: dt.datetime,
    shape: Shape,
    now: dt.datetime,
    *,
    new: bool,
) -> User:
    """Put ``booking`` at ``start`` with the first candidate the database accepts."""
    for coach in candidates.free:
        lock_users(coach.id)
        if not _within_cap(coach, start, candidates.caps[coach.id], None if new else booking.id):
            continue
        block_start, block_end = shape.block(start)
        try:
            with db.session.begin_nested():
                booking.coach_id = coach.id
                booking.start_at, booking.end_at = start, start + shape.duration
                booking.block_start_at, booking.block_end_at = block_start, block_end
                _arm_reminders(booking, now)
                if new:
                    db.session.add(booking)
                db.session.flush()
        except DBAPIError as exc:
            kind = _overlap(exc)
            if kind == "learner":
                raise SlotUnavailable(LEARNER_BUSY) from exc
            if kind is None:
                raise
            continue  # this coach was just taken: try the next
        return coach
    raise SlotUnavailable("This slot was just taken. Pick another time.")


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


class IdempotencyMismatch(ValidationFailed):
    pass


def _request_hash(request: BookingRequest) -> str:
    canonical = json.dumps(
        {
            "type": request.type,
            "start": request.start.astimezone(dt.UTC).isoformat()
            if request.start.tzinfo
            else request.start.isoformat(),
            "coach_id": request.coach_id,
            "notes": request.notes,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _meeting_url() -> str:
    return f"{policy().meeting_base_url}/CareerServices-{secrets.token_hex(10)}"


def _uid() -> str:
    host = "career-services"
    if has_app_context():
        host = urlsplit(base_url()).hostname or host
    return f"booking-{uuid.uuid4()}@{host}"


def _arm_reminders(booking: Booking, now: dt.datetime) -> None:
    """Reminders go 24 h and 1 h before; one whose moment passed already is skipped, not late."""
    lead = booking.start_at - now
    booking.reminder_24h_at = None if lead > dt.timedelta(hours=24) else now
    booking.reminder_1h_at = None if lead > dt.timedelta(hours=1) else now


def _history(booking: Booking, event: str, actor_id: int | None, **detail: Any) -> None:
    db.session.add(
        BookingEvent(booking_id=booking.id, event=event, actor_id=actor_id, detail=detail)
    )


def _snapshot(booking: Booking, **extra: Any) -> dict[str, Any]:
    return {
        "booking_id": booking.id,
        "sequence": booking.sequence,
        "start": booking.start_at.isoformat(),
        "end": booking.end_at.isoformat(),
        "coach_id": booking.coach_id,
        **extra,
    }


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
    begin_write()
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
    start = _check_start(itype, request.start, now)
    notes = request.notes.strip()
    if len(notes) > 2000:
        raise ValidationFailed.field("notes", "Use at most 2000 characters.")
    check_may_book(learner, itype, now)
    candidates = _candidates(
        itype, start, request.coach_id, learner_id, now, prefer_coach_id=request.prefer_coach_id
    )
    booking = Booking(
        uid=_uid(),
        learner_id=learner_id,
        interview_type_id=itype.id,
        status=BookingStatus.CONFIRMED,
        meeting_url=_meeting_url(),
        notes=notes,
        created_at=now,
    )
    coach = _place(booking, candidates, start, Shape.of(itype), now, new=True)
    _history(
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
    outbox.record("booking.confirmed", **_snapshot(booking, at=now.isoformat()))
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
    learner = _user(learner_id)
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
    start = _check_start(itype, request.start, now)
    check_may_book(learner, itype, now)
    candidates = _candidates(
        itype, start, request.coach_id, learner_id, now, prefer_coach_id=request.prefer_coach_id
    )
    return Preview.of_candidates(itype, start, candidates.free, now)


# --- cancel and reschedule -----------------------------------------------------------------------


def change_cutoff(itype: InterviewType, start: dt.datetime) -> dt.datetime:
    """The last moment a learner may move or cancel a session of ``itype`` at ``start`` online."""
    return start - dt.timedelta(hours=itype.cancel_cutoff_hours)


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
    begin_write()
    actor = _user(actor_id)
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
    _history(
        booking,
        "cancelled",
        actor.id,
        reason=reason,
        override=staff and now >= _cutoff(booking),
    )
    db.session.flush()
    outbox.record("booking.cancelled", **_snapshot(booking, by=actor.id, reason=reason))
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
    begin_write()
    actor = _user(actor_id)
    booking = get_booking(booking_id, actor, for_update=True)
    if actor.role == Role.COACH:
        raise Forbidden(COACHES_PROPOSE)
    lock_users(booking.learner_id)
    now = now or utcnow()
    start, candidates = _check_move(booking, actor, request, now)
    close_proposals(booking, actor.id, now)
    return move(booking, actor, start, candidates, now)


def move(
    booking: Booking,
    actor: User,
    start: dt.datetime,
    candidates: _Candidates,
    now: dt.datetime,
    *,
    counted: bool = True,
    **detail: Any,
) -> Booking:
    """Put a booking checked by ``_check_move`` at ``start``: the one way a session moves (its
    history, the calendar's SEQUENCE, the moved notice with its invitation to both, the waitlist
    offered the freed time). ``counted``: it uses up one of the learner's own moves. Raises
    SlotUnavailable when the time was taken meanwhile."""
    old_start, old_coach_id = booking.start_at, booking.coach_id
    coach = _place(booking, candidates, start, Shape.of(booking.interview_type), now, new=False)
    booking.sequence += 1
    if counted:
        booking.reschedule_count += 1
    _history(
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
        **_snapshot(
            booking, old_start=old_start.isoformat(), old_coach_id=old_coach_id, at=now.isoformat()
        ),
    )
    outbox.enqueue_after_commit("bookings.match_waitlist")
    return booking


def close_proposals(booking: Booking, actor_id: int | None, now: dt.datetime) -> None:
    """The session is cancelled or moved another way: a time its coach proposed no longer
    applies (services/proposals.py)."""
    for proposal in db.session.scalars(
        select(TimeProposal).where(
            TimeProposal.booking_id == booking.id, TimeProposal.status == ProposalStatus.OPEN
        )
    ):
        proposal.status = ProposalStatus.CLOSED
        proposal.closed_at, proposal.closed_by_id = now, actor_id


def _check_move(
    booking: Booking,
    actor: User,
    request: RescheduleRequest,
    now: dt.datetime,
    *,
    counted: bool = True,
) -> tuple[dt.datetime, _Candidates]:
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
    start = _check_start(itype, request.start, now)
    if start == booking.start_at and request.coach_id in (None, booking.coach_id):
        raise ValidationFailed.field("start", "The session is already at this time.")
    candidates = _candidates(
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
    actor = _user(actor_id)
    booking = get_booking(booking_id, actor)
    if actor.role == Role.COACH:
        raise Forbidden(COACHES_PROPOSE)
    now = now or utcnow()
    start, candidates = _check_move(booking, actor, request, now)
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
    begin_write()
    actor = _user(actor_id)
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
    _history(booking, outcome, actor.id)
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
    learner = _user(learner_id)
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


def lift_suspension(
    suspension_id: int, staff_id: int, reason: str = "", *, now: dt.datetime | None = None
) -> LearnerSuspension:
    """Staff lift a suspension early. Raises NotFound, Forbidden."""
    actor = _user(staff_id)
    if actor.role != Role.STAFF:
        raise Forbidden("Only staff lift a suspension.")
    suspension = (
        db.session.get(LearnerSuspension, suspension_id)
        if availability.valid_id(suspension_id)
        else None
    )
    if suspension is None:
        raise NotFound("There is no such suspension.")
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
    begin_write()
    actor = _user(actor_id)
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
    _history(booking, "feedback", actor.id)
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
    begin_write()
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


# --- presentation helpers ------------------------------------------------------------------------


def hours_text(hours: int) -> str:
    """``24 hours``, ``1 hour``."""
    return f"{hours} hour{'' if hours == 1 else 's'}"


def _sender() -> calendar.Person:
    from email.utils import parseaddr

    sender = str(current_app.config.get("MAIL_DEFAULT_SENDER", "")) if has_app_context() else ""
    name, address = parseaddr(sender)
    return calendar.Person(name or "Career Services", address or "careers@localhost")


def session_url(booking: Booking, viewer: User) -> str:
    """The page of the session for ``viewer``: the learner's booking page, the coach's session
    page, or the staff's sessions list (each role's own; another's page would refuse them)."""
    if viewer.id == booking.learner_id:
        return f"{base_url()}/learn/bookings/{booking.id}"
    if viewer.id == booking.coach_id:
        return f"{base_url()}/coach/sessions/{booking.id}"
    if viewer.role == Role.STAFF:
        return f"{base_url()}/staff/sessions"
    return f"{base_url()}/coach/sessions"  # a coach the session moved away from


def session_event(
    booking: Booking,
    *,
    viewer: User,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    sequence: int | None = None,
    coach: User | None = None,
    cancelled: bool | None = None,
) -> calendar.SessionEvent:
    """The booking as a calendar event for ``viewer`` (its link leads to their own page of it),
    as it stood at an event when the values are given."""
    coach = coach or booking.coach
    itype = booking.interview_type
    url = session_url(booking, viewer)
    return calendar.SessionEvent(
        uid=booking.uid,
        sequence=booking.sequence if sequence is None else sequence,
        start=start or booking.start_at,
        end=end or booking.end_at,
        summary=f"Mock interview: {itype.name} ({booking.learner.name} with {coach.name})",
        description=(
            f"{itype.name} mock interview with {coach.name}.\n"
            f"Join: {booking.meeting_url}\n"
            f"Details: {url}"
        ),
        meeting_url=booking.meeting_url,
        organizer=_sender(),
        attendees=(
            calendar.Person(booking.learner.name, booking.learner.email),
            calendar.Person(coach.name, coach.email),
        ),
        cancelled=booking.status == BookingStatus.CANCELLED if cancelled is None else cancelled,
        url=url,
    )


def ics_for(booking: Booking, viewer: User) -> str:
    """The .ics ``viewer`` downloads for a booking, as it stands now."""
    return calendar.download(session_event(booking, viewer=viewer))


# --- notifications -------------------------------------------------------------------------------


def _booking_messages(
    payload: dict[str, Any], kind: str, title: str, *, cancelled: bool = False
) -> list[Message]:
    booking = db.session.get(Booking, payload["booking_id"])
    if booking is None:
        return []
    start = dt.datetime.fromisoformat(payload["start"])
    end = dt.datetime.fromisoformat(payload["end"])
    coach = db.session.get(User, payload.get("coach_id") or booking.coach_id) or booking.coach
    # Whether the learner can still move or cancel it: not when it was placed inside the cutoff.
    cutoff = change_cutoff(booking.interview_type, start)
    placed = dt.datetime.fromisoformat(payload["at"]) if payload.get("at") else booking.created_at
    messages = []
    for user in (booking.learner, coach):
        # Each person's invitation links to their own page of the session.
        event = session_event(
            booking,
            viewer=user,
            start=start,
            end=end,
            sequence=payload["sequence"],
            coach=coach,
            cancelled=cancelled,
        )
        ics = calendar.invitation(event)
        other = coach if user.id == booking.learner_id else booking.learner
        when = localtime.span_for(start, end, user)
        context = {
            "booking": booking,
            "type_name": booking.interview_type.name,
            "when": when,
            "other_name": other.name,
            "learner_name": booking.learner.name,
            "coach_name": coach.name,
            "meeting_url": booking.meeting_url,
            "reason": payload.get("reason") or "",
            "old_when": localtime.for_user(dt.datetime.fromisoformat(payload["old_start"]), user)
            if payload.get("old_start")
            else "",
            "is_learner": user.id == booking.learner_id,
            "cutoff_text": hours_text(booking.interview_type.cancel_cutoff_hours),
            "change_until": localtime.for_user(cutoff, user),
            "locked": placed >= cutoff,
        }
        messages.append(
            Message(
                user=user,
                kind=kind,
                title=title.format(type=booking.interview_type.name, other=other.name),
                body=f"{booking.interview_type.name} with {other.name}, {when}.",
                link=session_url(booking, user),
                context=context,
                ics=ics,
            )
        )
    return messages


@handles("booking.confirmed")
def _confirmed(payload: dict[str, Any]) -> list[Message]:
    return _booking_messages(payload, "booking_confirmed", "Booked: {type} with {other}")


@handles("booking.cancelled")
def _cancelled(payload: dict[str, Any]) -> list[Message]:
    return _booking_messages(
        payload,
        "booking_cancelled",
        "Cancelled: {type} with {other}",
        cancelled=True,
    )


@handles("booking.rescheduled")
def _rescheduled(payload: dict[str, Any]) -> list[Message]:
    messages = _booking_messages(payload, "booking_rescheduled", "Moved: {type} with {other}")
    old_coach_id = payload.get("old_coach_id")
    booking = db.session.get(Booking, payload["booking_id"])
    if booking is None or not old_coach_id or old_coach_id == payload.get("coach_id"):
        return messages
    # The session moved to another coach: the first coach's calendar event is cancelled.
    old_coach = db.session.get(User, old_coach_id)
    if old_coach is None:
        return messages
    old_start = dt.datetime.fromisoformat(payload["old_start"])
    old_end = old_start + (booking.end_at - booking.start_at)
    event = session_event(
        booking,
        viewer=old_coach,
        start=old_start,
        end=old_end,
        sequence=payload["sequence"],
        coach=old_coach,
        cancelled=True,
    )
    when = localtime.span_for(old_start, old_end, old_coach)
    messages.append(
        Message(
            user=old_coach,
            kind="booking_cancelled",
            title=f"Moved to another coach: {booking.interview_type.name} with "
            f"{booking.learner.name}",
            body=f"The session on {when} moved to another coach; it is off your calendar.",
            link=f"{base_url()}/coach/sessions",
            context={
                "booking": booking,
                "type_name": booking.interview_type.name,
                "when": when,
                "other_name": booking.learner.name,
                "learner_name": booking.learner.name,
                "coach_name": old_coach.name,
                "meeting_url": booking.meeting_url,
                "reason": "The session moved to another coach.",
                "old_when": "",
                "is_learner": False,
            },
            ics=calendar.invitation(event),
        )
    )
    return messages


@handles("booking.reminder")
def _reminder(payload: dict[str, Any]) -> list[Message]:
    booking = db.session.get(Booking, payload["booking_id"])
    # Stale: cancelled, or moved since (the reschedule re-armed a reminder for the new time).
    if (
        booking is None
        or booking.status != BookingStatus.CONFIRMED
        or booking.start_at != dt.datetime.fromisoformat(payload["start"])
    ):
        return []
    lead = "in 24 hours" if payload.get("lead") == "24h" else "in 1 hour"
    messages = []
    for user in (booking.learner, booking.coach):
        other = booking.coach if user.id == booking.learner_id else booking.learner
        when = localtime.span_for(booking.start_at, booking.end_at, user)
        messages.append(
            Message(
                user=user,
                kind="booking_reminder",
                title=f"Reminder: {booking.interview_type.name} with {other.name} {lead}",
                body=f"{when}. Join at {booking.meeting_url}",
                link=session_url(booking, user),
                context={
                    "booking": booking,
                    "type_name": booking.interview_type.name,
                    "when": when,
                    "lead": lead,
                    "other_name": other.name,
                    "meeting_url": booking.meeting_url,
                    "is_learner": user.id == booking.learner_id,
                },
            )
        )
    return messages


@handles("booking.learner_suspended")
def _suspended(payload: dict[str, Any]) -> list[Message]:
    suspension = db.session.get(LearnerSuspension, payload["suspension_id"])
    if suspension is None:
        return []
    learner = suspension.learner
    message = suspension_message(suspension, learner)
    return [
        Message(
            user=learner,
            kind="booking_suspended",
            title="Booking is paused for your account",
            body=message,
            link=f"{base_url()}/learn/bookings",
            context={"message": message, "lifted": False},
        )
    ]


@handles("booking.feedback")
def _feedback(payload: dict[str, Any]) -> list[Message]:
    booking = db.session.get(Booking, payload["booking_id"])
    if booking is None or booking.feedback is None:
        return []
    return [
        Message(
            user=booking.learner,
            kind="session_feedback",
            title=f"Feedback on your {booking.interview_type.name} session",
            body=f"{booking.coach.name} wrote feedback on your session.",
            link=f"{base_url()}/learn/bookings/{booking.id}",
            context={
                "type_name": booking.interview_type.name,
                "coach_name": booking.coach.name,
                "when": localtime.for_user(booking.start_at, booking.learner),
            },
        )
    ]


register_kind(
    "booking_suspended",
    "Booking paused",
    email_template="booking_suspended",
    roles=(Role.LEARNER,),
    description="Booking is paused after missed sessions.",
    configurable=False,
)
register_kind(
    "session_feedback",
    "Session feedback",
    email_template="booking_feedback",
    roles=(Role.LEARNER,),
    description="Your coach wrote feedback on a session.",
)
register_kind(
    "waitlist_offer",
    "Waitlist offer",
    email_template="booking_waitlist_offer",
    roles=(Role.LEARNER,),
    description="A slot you waited for is held for you for a short while.",
)


# --- a coach's private calendar feed -------------------------------------------------------------

FEED_PAST_DAYS = 60


FEED_PURPOSE = "calendar-feed"


def _feed_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# A feed's secret is derived, never stored: an HMAC (keyed by SECRET_KEY) of the coach's id and
# the feed's creation time, so its owner can be shown the address again (after signing in) without
# the database holding it; the row keeps only its sha256, to find the feed from a request. A new
# feed (or a revoked one) changes the time, so the old address stops working. Changing SECRET_KEY
# keeps existing addresses working but they can no longer be shown: the coach makes a new one.
def _feed_secret(coach_id: int, created_at: dt.datetime) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    created = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    material = f"{FEED_PURPOSE}:{coach_id}:{created}".encode()
    digest = hmac.new(key, material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def feed_url(secret: str) -> str:
    """The address calendar apps fetch a feed from (the secret is its only credential)."""
    return f"{base_url()}/api/v1/calendar-feeds/{secret}.ics"


def _coach_settings(coach_id: int) -> CoachBookingSettings:
    coach = _user(coach_id)
    if coach.role != Role.COACH:
        raise Forbidden("Only coaches have a session feed.")
    settings = db.session.get(CoachBookingSettings, coach_id)
    if settings is None:
        settings = CoachBookingSettings(coach_id=coach_id)
        db.session.add(settings)
    return settings


def create_feed(coach_id: int, *, now: dt.datetime | None = None) -> str:
    """A new secret feed URL token for the coach (any earlier one stops working). Only its hash
    is kept; ``feed_secret_of`` derives it again for its owner."""
    settings = _coach_settings(coach_id)
    created = now or utcnow()
    previous = settings.feed_created_at
    if previous is not None and created <= previous:  # a new address, even within a microsecond
        created = previous + dt.timedelta(microseconds=1)
    secret = _feed_secret(coach_id, created)
    settings.feed_token_hash = _feed_hash(secret)
    settings.feed_created_at = created
    db.session.flush()
    return secret


def feed_secret_of(coach_id: int) -> str | None:
    """The secret of the coach's live feed, to show its owner (and only them) again; None when
    they have none, or when it cannot be derived (made before secrets were derived, or under
    another SECRET_KEY): it still works, but only a new one can be shown."""
    settings = db.session.get(CoachBookingSettings, coach_id)
    if settings is None or not settings.feed_token_hash or settings.feed_created_at is None:
        return None
    secret = _feed_secret(coach_id, settings.feed_created_at)
    if not hmac.compare_digest(_feed_hash(secret), settings.feed_token_hash):
        return None
    return secret


def revoke_feed(coach_id: int) -> None:
    settings = _coach_settings(coach_id)
    settings.feed_token_hash = None
    settings.feed_created_at = None
    db.session.flush()


def feed_created_at(coach_id: int) -> dt.datetime | None:
    settings = db.session.get(CoachBookingSettings, coach_id)
    return settings.feed_created_at if settings and settings.feed_token_hash else None


def feed_ics(secret: str, *, now: dt.datetime | None = None) -> str | None:
    """The coach's sessions as a subscribable calendar, or None for an unknown or revoked token.
    Cancelled sessions stay in it (STATUS:CANCELLED), so subscribed calendars drop them."""
    if not secret or len(secret) > 200:
        return None
    settings = db.session.scalar(
        select(CoachBookingSettings).where(
            CoachBookingSettings.feed_token_hash == _feed_hash(secret)
        )
    )
    if settings is None:
        return None
    coach = db.session.get(User, settings.coach_id)
    if coach is None or not coach.active:
        return None
    now = now or utcnow()
    bookings = db.session.scalars(
        select(Booking)
        .where(
            Booking.coach_id == coach.id,
            Booking.status.in_(VISIBLE),
            Booking.start_at >= now - dt.timedelta(days=FEED_PAST_DAYS),
        )
        .options(selectinload(Booking.learner), selectinload(Booking.interview_type))
        .order_by(Booking.start_at)
        .limit(2000)
    ).all()
    return calendar.feed(
        f"Mock interviews · {coach.name}",
        [session_event(b, viewer=coach, coach=coach) for b in bookings],
    )
