"""Where a session goes, shared by every writer of a booking (book, move, the waitlist, the
proposals): the row locks, the start's checks, the coach chosen and the row placed, and the small
steps each write takes (its history, its outbox snapshot, its reminders, its uid and meeting link).

The database has the last word on double booking (see services/models/booking.py): ``place``
answers an overlap that slips past the checks under concurrency with ``slot_unavailable``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import has_app_context
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import DBAPIError

from services import localtime
from services.booking import availability, facts
from services.booking.availability import Shape, free_starts
from services.booking.errors import SlotUnavailable
from services.booking.settings import policy
from services.db import db
from services.errors import NotFound, ValidationFailed
from services.models import (
    Booking,
    BookingEvent,
    InterviewType,
    User,
)
from services.models.booking import OCCUPYING
from services.notifications import base_url

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


def overlap_rule(error: DBAPIError) -> str | None:
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


def active_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("There is no such user.")
    return user


# --- validation ----------------------------------------------------------------------------------


def check_start(itype: InterviewType, start: dt.datetime, now: dt.datetime) -> dt.datetime:
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


# --- choosing a coach ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    free: list[User]
    caps: dict[int, int]


def find_candidates(
    itype: InterviewType,
    start: dt.datetime,
    coach_id: int | None,
    learner_id: int,
    now: dt.datetime,
    *,
    exclude_booking_id: int | None = None,
    prefer_coach_id: int | None = None,
    prefer_tags: frozenset[str] = frozenset(),
) -> Candidates:
    """The coaches who could take this session, best first (round robin). With ``prefer_tags``
    (the expertise the learner's intake answers call for), those whose expertise covers more of
    them come first, round robin among equals; then ``prefer_coach_id`` (the one a page named)
    among those. Raises ValidationFailed when no coach works then (not a slot),
    SlotUnavailable when all who do are taken."""
    coaches = availability.eligible_coaches(itype, coach_id)
    if coach_id is not None and not coaches:
        raise availability.not_running(coach_id, itype)
    shape, step = Shape.of(itype), availability.step_minutes()
    around = (start - dt.timedelta(days=1), start + dt.timedelta(days=1))
    # Their hours as this process keeps them, as a slot search reads them; the bookings are read
    # now, under the locks (and on PostgreSQL the exclusion constraints) that keep sessions apart.
    calendars = availability.load_calendars(
        coaches, *around, exclude_booking_id=exclude_booking_id, kept=facts.current()
    )
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
    if prefer_tags:
        free.sort(key=lambda c: -len(expertise_covered(c, prefer_tags)))
    return Candidates(free=free, caps={c.id: calendars[c.id].cap for c in free})


def expertise_covered(coach: User, wanted: frozenset[str]) -> list[str]:
    """The tags of ``wanted`` the coach's expertise names, sorted."""
    return sorted(wanted & {t.lower() for t in coach.expertise or []})


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


def place(
    booking: Booking,
    candidates: Candidates,
    start: dt.datetime,
    shape: Shape,
    now: dt.datetime,
    *,
    new: bool,
) -> User:
    """Put ``booking`` at ``start`` with the first candidate the database accepts.

    Each candidate is tried in a savepoint that also takes the coach's lock: one that cannot take
    the session is let go (rolling back to the savepoint releases the row lock on PostgreSQL)
    before the next is locked. So a booking holds at most one coach's lock, and two bookings
    trying the same coaches in different orders cannot deadlock (they did, under 32 clients).
    A coach whose lock another booking holds right now is tried after the others, not waited
    for first: concurrent bookings spread over the free coaches instead of queueing for one."""
    busy = []
    for coach in candidates.free:
        outcome = _try_coach(booking, coach, candidates, start, shape, now, new=new, wait=False)
        if outcome == "placed":
            return coach
        if outcome == "busy":
            busy.append(coach)
    for coach in busy:
        outcome = _try_coach(booking, coach, candidates, start, shape, now, new=new, wait=True)
        if outcome == "placed":
            return coach
    raise SlotUnavailable("This slot was just taken. Pick another time.")


def _try_coach(
    booking: Booking,
    coach: User,
    candidates: Candidates,
    start: dt.datetime,
    shape: Shape,
    now: dt.datetime,
    *,
    new: bool,
    wait: bool,
) -> str:
    """ "placed", "taken" (the cap, or another session there), or "busy" (without ``wait``:
    another transaction holds the coach's lock). Raises SlotUnavailable for the learner's own
    overlap."""
    attempt = db.session.begin_nested()
    try:
        if wait:
            lock_users(coach.id)
        elif not try_lock_users(coach.id):
            attempt.rollback()
            return "busy"
        if not _within_cap(coach, start, candidates.caps[coach.id], None if new else booking.id):
            attempt.rollback()
            return "taken"
        booking.coach_id = coach.id
        booking.start_at, booking.end_at = start, start + shape.duration
        booking.block_start_at, booking.block_end_at = shape.block(start)
        arm_reminders(booking, now)
        if new:
            db.session.add(booking)
        db.session.flush()
    except DBAPIError as exc:
        attempt.rollback()
        kind = overlap_rule(exc)
        if kind == "learner":
            raise SlotUnavailable(LEARNER_BUSY) from exc
        if kind is None:
            raise
        return "taken"  # this coach was just taken: try the next
    except BaseException:
        attempt.rollback()
        raise
    attempt.commit()
    return "placed"


def new_meeting_url() -> str:
    return f"{policy().meeting_base_url}/CareerServices-{secrets.token_hex(10)}"


def new_uid() -> str:
    host = "career-services"
    if has_app_context():
        host = urlsplit(base_url()).hostname or host
    return f"booking-{uuid.uuid4()}@{host}"


def arm_reminders(booking: Booking, now: dt.datetime) -> None:
    """Reminders go 24 h and 1 h before; one whose moment passed already is skipped, not late."""
    lead = booking.start_at - now
    booking.reminder_24h_at = None if lead > dt.timedelta(hours=24) else now
    booking.reminder_1h_at = None if lead > dt.timedelta(hours=1) else now


def record_history(booking: Booking, event: str, actor_id: int | None, **detail: Any) -> None:
    db.session.add(
        BookingEvent(booking_id=booking.id, event=event, actor_id=actor_id, detail=detail)
    )


def snapshot(booking: Booking, **extra: Any) -> dict[str, Any]:
    return {
        "booking_id": booking.id,
        "sequence": booking.sequence,
        "start": booking.start_at.isoformat(),
        "end": booking.end_at.isoformat(),
        "coach_id": booking.coach_id,
        **extra,
    }
