"""The waitlist: when no slot suits, a learner waits; a freed slot is held for the first in line.

An offer is a ``held`` booking row, so the database's no-overlap rules protect it like any booking:
nobody else can take the slot while it is held. The learner accepts (the hold becomes a confirmed
booking) or lets it lapse; then it passes to the next in line, or is released to everyone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import selectinload

from services import audit, localtime, outbox
from services.access import require_staff
from services.booking import availability, intake, operations, placement
from services.booking.errors import BookingLimitReached, BookingSuspended, SlotsAvailable
from services.booking.settings import policy
from services.db import db, utcnow
from services.errors import Conflict, NotFound, OfferExpired, ValidationFailed
from services.models import (
    Booking,
    BookingStatus,
    InterviewType,
    Role,
    User,
    WaitlistEntry,
    WaitlistStatus,
)

# When in the day a waiting learner accepts a session to start, in their own zone: from the first
# hour up to (not including) the second; "any" takes every hour a coach works.
TIMES_OF_DAY: dict[str, tuple[int, int] | None] = {
    "any": None,
    "morning": (6, 12),
    "afternoon": (12, 17),
    "evening": (17, 22),
}


def time_of_day_hours(part: str) -> str:
    """``06:00–12:00`` for ``morning``; empty for ``any``."""
    hours = TIMES_OF_DAY.get(part)
    return f"{hours[0]:02d}:00–{hours[1]:02d}:00" if hours else ""


def time_of_day_label(part: str) -> str:
    """``Any time``, ``Mornings (06:00–12:00)``."""
    return (
        f"{part.capitalize()}s ({time_of_day_hours(part)})"
        if TIMES_OF_DAY.get(part)
        else "Any time"
    )


def fits_time_of_day(start: dt.datetime, tz: zoneinfo.ZoneInfo, part: str) -> bool:
    """Whether a session starting at ``start`` is in the learner's ``part`` of the day."""
    hours = TIMES_OF_DAY.get(part)
    if hours is None:
        return True
    return hours[0] <= start.astimezone(tz).hour < hours[1]


@dataclass(frozen=True)
class WaitlistRequest:
    type: str
    day: dt.date | None = None
    tz: str | None = None
    coach_id: int | None = None
    time_of_day: str = "any"
    # Intake answers, {question_id: value}: carried to the offered slot (services.booking.intake).
    answers: dict[str, Any] | None = None


def _learner(learner_id: int) -> User:
    learner = db.session.get(User, learner_id)
    if learner is None or learner.role != Role.LEARNER:
        raise NotFound("There is no such learner.")
    return learner


def join(
    learner_id: int, request: WaitlistRequest, *, now: dt.datetime | None = None
) -> WaitlistEntry:
    """Wait for a slot of a type (on one day in the learner's zone, or any time in the horizon;
    at any time of day, or in the morning, afternoon or evening there). Only a day and time some
    coach works can be waited for. Joining twice for the same thing returns the first entry.
    Raises ValidationFailed, SlotsAvailable, BookingSuspended, BookingLimitReached."""
    placement.lock_users(learner_id)
    learner = _learner(learner_id)
    now = now or utcnow()
    itype = availability.get_type(request.type)
    tz_name = request.tz or learner.timezone
    tz = availability.zone(tz_name)
    part = request.time_of_day
    if part not in TIMES_OF_DAY:
        raise ValidationFailed.field("time_of_day", f"Use one of {', '.join(TIMES_OF_DAY)}.")
    answers = intake.check_answers(itype, request.answers)
    operations.check_may_book(learner, itype, now)
    earliest, latest = availability.booking_window(itype, now)
    if request.day is not None:
        day_from = availability.local_to_utc(request.day, dt.time(0), tz)
        day_to = availability.local_to_utc(request.day + dt.timedelta(days=1), dt.time(0), tz)
        if day_to <= earliest or day_from > latest:
            raise ValidationFailed.field(
                "day", "Pick a day between the minimum notice and the booking horizon."
            )
        earliest, latest = max(earliest, day_from), min(latest, day_to - dt.timedelta(seconds=1))
    if request.coach_id is not None and not availability.eligible_coaches(itype, request.coach_id):
        raise availability.not_running(request.coach_id, itype)
    if next(_worked_starts(itype, earliest, latest, request.coach_id, tz, part), None) is None:
        raise _not_covered(itype, request.day, part)
    existing = db.session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.learner_id == learner_id,
            WaitlistEntry.interview_type_id == itype.id,
            WaitlistEntry.status.in_((WaitlistStatus.WAITING, WaitlistStatus.OFFERED)),
            WaitlistEntry.day.is_(None)
            if request.day is None
            else WaitlistEntry.day == request.day,
            WaitlistEntry.coach_id.is_(None)
            if request.coach_id is None
            else WaitlistEntry.coach_id == request.coach_id,
            WaitlistEntry.time_of_day == part,
        )
    )
    if existing is not None:
        if answers:
            existing.answers = answers
        return existing
    free = _first_free(
        itype, earliest, latest, request.coach_id, learner_id, now, tz=tz, time_of_day=part
    )
    if free is not None:
        when = localtime.format_time(free[0], tz_name, clock=learner.clock)
        raise SlotsAvailable(f"{when} is free: book it (or another free time) instead of waiting.")
    entry = WaitlistEntry(
        learner_id=learner_id,
        interview_type_id=itype.id,
        coach_id=request.coach_id,
        day=request.day,
        timezone=tz_name,
        earliest_at=earliest,
        latest_at=latest,
        time_of_day=part,
        answers=answers,
        status=WaitlistStatus.WAITING,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _worked_starts(
    itype: InterviewType,
    earliest: dt.datetime,
    latest: dt.datetime,
    coach_id: int | None,
    tz: zoneinfo.ZoneInfo,
    part: str,
    *,
    skip_days: set[dt.date] | None = None,
) -> Iterator[dt.datetime]:
    """Starts from ``earliest`` to ``latest`` in ``part`` of the day (in ``tz``) at which some coach
    who runs the type works, booked or not: the times worth waiting for. Window by window, coach by
    coach; a window lying wholly on days in ``skip_days`` (in ``tz``) is passed over."""
    coaches = availability.eligible_coaches(itype, coach_id)
    if not coaches or earliest > latest:
        return
    window_to = latest + dt.timedelta(minutes=itype.duration_minutes)
    shape, step = availability.Shape.of(itype), availability.step_minutes()
    for calendar in availability.load_calendars(coaches, earliest, window_to).values():
        for window in calendar.windows(earliest, window_to):
            if skip_days and _local_days(window, tz) <= skip_days:
                continue
            for start in availability.free_starts(
                [window], shape, step=step, earliest=earliest, latest=latest
            ):
                if fits_time_of_day(start, tz, part):
                    yield start


def _local_days(window: availability.Interval, tz: zoneinfo.ZoneInfo) -> set[dt.date]:
    first, last = window[0].astimezone(tz).date(), window[1].astimezone(tz).date()
    return {first + dt.timedelta(days=i) for i in range((last - first).days + 1)}


def covered_days(
    type_slug: str,
    tz_name: str,
    *,
    coach_id: int | None = None,
    time_of_day: str = "any",
    now: dt.datetime | None = None,
) -> list[dt.date]:
    """The days (in ``tz_name``) inside the booking window on which some coach who runs the type
    works: the days a learner can wait for. Raises ValidationFailed."""
    itype = availability.get_type(type_slug)
    tz = availability.zone(tz_name)
    earliest, latest = availability.booking_window(itype, now or utcnow())
    covered: set[dt.date] = set()
    for start in _worked_starts(
        itype, earliest, latest, coach_id, tz, time_of_day, skip_days=covered
    ):
        covered.add(start.astimezone(tz).date())
    return sorted(covered)


def _not_covered(itype: InterviewType, day: dt.date | None, part: str) -> ValidationFailed:
    when = f" in the {part} ({time_of_day_hours(part)})" if TIMES_OF_DAY.get(part) else ""
    if day is not None:
        return ValidationFailed.field(
            "day",
            f"No coach runs {itype.name} sessions on {day:%A %-d %B}{when}. Pick a day or time "
            "of day that the list offers.",
        )
    return ValidationFailed.field(
        "time_of_day",
        f"No coach runs {itype.name} sessions{when} in the next {itype.horizon_days} days. Pick "
        "another time of day.",
    )


def _first_free(
    itype: InterviewType,
    earliest: dt.datetime,
    latest: dt.datetime,
    coach_id: int | None,
    learner_id: int,
    now: dt.datetime,
    *,
    tz: zoneinfo.ZoneInfo | None = None,
    time_of_day: str = "any",
) -> tuple[dt.datetime, int] | None:
    """The earliest free (start, coach id) in the window and part of the day (in ``tz``), or
    None."""
    coaches = availability.eligible_coaches(itype, coach_id)
    if not coaches or earliest > latest:
        return None
    window_to = latest + dt.timedelta(minutes=itype.duration_minutes)
    calendars = availability.load_calendars(coaches, earliest, window_to)
    mine = availability.learner_sessions(learner_id, earliest, window_to)
    shape, step = availability.Shape.of(itype), availability.step_minutes()
    low, high = availability.booking_window(itype, now)
    best: tuple[dt.datetime, int] | None = None
    for coach_id_, calendar in calendars.items():
        for start in availability.free_starts(
            calendar.windows(earliest, window_to),
            shape,
            step=step,
            earliest=max(earliest, low),
            latest=min(latest, high),
            blocks=calendar.blocks,
            learner_busy=mine,
        ):
            if tz is not None and not fits_time_of_day(start, tz, time_of_day):
                continue
            if not calendar.full_on(start):
                if best is None or start < best[0]:
                    best = (start, coach_id_)
                break
    return best


def list_entries(viewer: User) -> list[WaitlistEntry]:
    query = (
        select(WaitlistEntry)
        .options(
            selectinload(WaitlistEntry.learner),
            selectinload(WaitlistEntry.interview_type),
            selectinload(WaitlistEntry.hold).selectinload(Booking.coach),
        )
        .order_by(WaitlistEntry.created_at.desc(), WaitlistEntry.id.desc())
    )
    if viewer.role != Role.STAFF:
        query = query.where(WaitlistEntry.learner_id == viewer.id)
    return list(db.session.scalars(query.limit(200)))


def _own_entry(entry_id: int, learner_id: int) -> WaitlistEntry:
    if not availability.valid_id(entry_id):
        raise NotFound("There is no such waitlist entry, or it is not yours.")
    entry = db.session.scalar(
        select(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id)
        .with_for_update(of=WaitlistEntry)
        .execution_options(populate_existing=True)
    )
    if entry is None or entry.learner_id != learner_id:
        raise NotFound("There is no such waitlist entry, or it is not yours.")
    return entry


def leave(entry_id: int, learner_id: int, *, now: dt.datetime | None = None) -> WaitlistEntry:
    """Stop waiting; a held offer passes to the next in line."""
    entry = _own_entry(entry_id, learner_id)
    now = now or utcnow()
    if entry.status == WaitlistStatus.OFFERED:
        _pass_on(entry, now, WaitlistStatus.CANCELLED)
    elif entry.status == WaitlistStatus.WAITING:
        entry.status = WaitlistStatus.CANCELLED
    db.session.flush()
    return entry


def decline(entry_id: int, learner_id: int, *, now: dt.datetime | None = None) -> WaitlistEntry:
    """Turn an offer down: the slot passes to the next in line at once."""
    entry = _own_entry(entry_id, learner_id)
    if entry.status != WaitlistStatus.OFFERED:
        raise OfferExpired("There is no open offer on this entry.")
    _pass_on(entry, now or utcnow(), WaitlistStatus.EXPIRED)
    db.session.flush()
    return entry


def accept(entry_id: int, learner_id: int, *, now: dt.datetime | None = None) -> Booking:
    """Take the held slot: it becomes a confirmed booking. Raises NotFound, OfferExpired,
    BookingSuspended, BookingLimitReached."""
    placement.lock_users(learner_id)
    entry = _own_entry(entry_id, learner_id)
    now = now or utcnow()
    hold = entry.hold
    if (
        entry.status != WaitlistStatus.OFFERED
        or hold is None
        or hold.status != BookingStatus.HELD
        or hold.learner_id != learner_id
        or (hold.hold_expires_at is not None and hold.hold_expires_at <= now)
    ):
        raise OfferExpired("This offer has lapsed or was taken back. Join the waitlist again.")
    operations.check_may_book(entry.learner, hold.interview_type, now)
    hold.status = BookingStatus.CONFIRMED
    hold.hold_expires_at = None
    hold.created_at = now
    placement.arm_reminders(hold, now)
    entry.status = WaitlistStatus.BOOKED
    placement.record_history(
        hold, "booked", learner_id, start=hold.start_at.isoformat(), via="waitlist"
    )
    db.session.flush()
    outbox.record("booking.confirmed", **placement.snapshot(hold, at=now.isoformat()))
    return hold


def _hold_for(entry: WaitlistEntry, hold: Booking, now: dt.datetime) -> bool:
    """Move the hold to ``entry``'s learner; False if the database refuses (they are busy then)."""
    minutes = policy().hold_minutes
    if not placement.try_lock_users(entry.learner_id, hold.coach_id):
        return False  # busy this instant: skip them rather than wait (see try_lock_users)
    try:
        with db.session.begin_nested():
            hold.learner_id = entry.learner_id
            hold.answers = list(entry.answers or [])  # the answers travel with the offer
            hold.notes, hold.placement_reason = "", ""
            hold.hold_expires_at = now + dt.timedelta(minutes=minutes)
            db.session.flush()
    except DBAPIError as exc:
        if placement.overlap_rule(exc) is None:
            raise
        return False
    entry.status = WaitlistStatus.OFFERED
    entry.hold_id = hold.id
    entry.offered_at = now
    entry.offer_expires_at = hold.hold_expires_at
    db.session.flush()
    outbox.record("waitlist.offered", entry_id=entry.id, booking_id=hold.id)
    return True


def _pass_on(entry: WaitlistEntry, now: dt.datetime, outcome: str) -> None:
    """End ``entry``'s offer and hand its held slot to the next in line, or release it."""
    hold = entry.hold
    entry.status = outcome
    entry.hold_id = None
    if hold is None or hold.status != BookingStatus.HELD:
        return
    for candidate in _waiting_for(hold, exclude_learner_id=entry.learner_id):
        if _eligible(candidate, hold.interview_type, now) and _hold_for(candidate, hold, now):
            return
    hold.status = BookingStatus.RELEASED
    hold.hold_expires_at = None
    db.session.flush()


def _waiting_for(hold: Booking, exclude_learner_id: int) -> list[WaitlistEntry]:
    """Who waits for this held slot, first come first: its type, day window, coach and time of
    day."""
    entries = list(
        db.session.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.status == WaitlistStatus.WAITING,
                WaitlistEntry.interview_type_id == hold.interview_type_id,
                WaitlistEntry.earliest_at <= hold.start_at,
                WaitlistEntry.latest_at >= hold.start_at,
                (WaitlistEntry.coach_id.is_(None)) | (WaitlistEntry.coach_id == hold.coach_id),
                WaitlistEntry.learner_id != exclude_learner_id,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(200)
        )
    )
    return [
        e
        for e in entries
        if fits_time_of_day(hold.start_at, localtime.zone(e.timezone), e.time_of_day)
    ]


def _eligible(entry: WaitlistEntry, itype: InterviewType, now: dt.datetime) -> bool:
    try:
        operations.check_may_book(entry.learner, itype, now)
    except (BookingSuspended, BookingLimitReached):
        return False
    return True


def match(now: dt.datetime | None = None, batch: int = 100) -> int:
    """The waitlist's heartbeat (a beat job, and after every cancel, reschedule or availability
    change): lapse offers past their time and pass them on, retire entries whose window closed,
    and offer freed slots to those waiting, first come first served. Returns offers made.
    Safe to run twice, even at once: every change is conditional on the state it saw."""
    now = now or utcnow()
    made = 0
    lapsed = db.session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            WaitlistEntry.offer_expires_at <= now,
        )
        .order_by(WaitlistEntry.offer_expires_at)
        .limit(batch)
        .with_for_update(of=WaitlistEntry, skip_locked=True)
    ).all()
    for entry in lapsed:
        _pass_on(entry, now, WaitlistStatus.EXPIRED)
    waiting = db.session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.status == WaitlistStatus.WAITING)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(batch)
        .with_for_update(of=WaitlistEntry, skip_locked=True)
    ).all()
    for entry in waiting:
        itype = entry.interview_type
        low, _high = availability.booking_window(itype, now)
        if entry.latest_at < low or not itype.active:
            entry.status = WaitlistStatus.EXPIRED
            continue
        if not _eligible(entry, itype, now):
            continue
        found = _first_free(
            itype,
            entry.earliest_at,
            entry.latest_at,
            entry.coach_id,
            entry.learner_id,
            now,
            tz=localtime.zone(entry.timezone),
            time_of_day=entry.time_of_day,
        )
        if found is None:
            continue
        start, coach_id = found
        if not placement.try_lock_users(entry.learner_id, coach_id):
            continue  # the next run tries again
        shape = availability.Shape.of(itype)
        block_start, block_end = shape.block(start)
        hold = Booking(
            uid=placement.new_uid(),
            learner_id=entry.learner_id,
            coach_id=coach_id,
            interview_type_id=itype.id,
            start_at=start,
            end_at=start + shape.duration,
            block_start_at=block_start,
            block_end_at=block_end,
            status=BookingStatus.HELD,
            meeting_url=placement.new_meeting_url(),
            answers=list(entry.answers or []),
            created_at=now,
        )
        try:
            with db.session.begin_nested():
                db.session.add(hold)
                db.session.flush()
        except DBAPIError as exc:
            if placement.overlap_rule(exc) is None:
                raise
            continue
        if _hold_for(entry, hold, now):
            made += 1
    db.session.flush()
    return made


def offer_deadline_text(entry: WaitlistEntry) -> str:
    if entry.offer_expires_at is None:
        return ""
    return localtime.for_user(entry.offer_expires_at, entry.learner, "%H:%M %Z")


# --- staff: the waitlist page ---------------------------------------------------

QUEUE_LIMIT = 500  # entries the staff page shows at once (waiting and offered)


@dataclass(frozen=True)
class QueueLine:
    entry: WaitlistEntry
    position: int | None  # 1 = offered next; None while the entry holds an offer


@dataclass(frozen=True)
class Queue:
    """Who waits for one type on one day (``day`` None: any time in the horizon), in turn."""

    itype: InterviewType
    day: dt.date | None
    lines: list[QueueLine]


def queues(actor: User) -> tuple[list[Queue], bool]:
    """Open entries (waiting, or holding an offer) per type and wanted day, first come first; and
    whether there were more than the page shows. Three queries however many entries."""
    require_staff(actor)
    rows = list(
        db.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.status.in_((WaitlistStatus.WAITING, WaitlistStatus.OFFERED)))
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .options(
                selectinload(WaitlistEntry.learner),
                selectinload(WaitlistEntry.hold).selectinload(Booking.coach),
            )
            .limit(QUEUE_LIMIT + 1)
        )
    )
    more = len(rows) > QUEUE_LIMIT
    types = {t.id: t for t in db.session.scalars(select(InterviewType))}
    grouped: dict[tuple[int, dt.date | None], list[QueueLine]] = {}
    for entry in rows[:QUEUE_LIMIT]:
        lines = grouped.setdefault((entry.interview_type_id, entry.day), [])
        waiting = sum(1 for line in lines if line.position is not None)
        offered = entry.status == WaitlistStatus.OFFERED
        lines.append(QueueLine(entry, None if offered else waiting + 1))
    ordered = sorted(grouped, key=lambda k: (k[0], k[1] is not None, k[1] or dt.date.min))
    return [Queue(types[key[0]], key[1], grouped[key]) for key in ordered], more


def remove_entry(
    actor: User, entry_id: int, reason: str, *, now: dt.datetime | None = None
) -> WaitlistEntry:
    """Staff take a learner off the waitlist (a held offer passes to the next in line), with an
    audit entry. Raises Forbidden, NotFound, ValidationFailed, Conflict."""
    require_staff(actor)
    why = audit.required_reason(reason)
    entry = (
        db.session.scalar(
            select(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id)
            .with_for_update(of=WaitlistEntry)
            .execution_options(populate_existing=True)
        )
        if availability.valid_id(entry_id)
        else None
    )
    if entry is None:
        raise NotFound("There is no such waitlist entry.")
    was = entry.status
    if was == WaitlistStatus.OFFERED:
        _pass_on(entry, now or utcnow(), WaitlistStatus.CANCELLED)
    elif was == WaitlistStatus.WAITING:
        entry.status = WaitlistStatus.CANCELLED
    else:
        raise Conflict(f"This entry is no longer on the waitlist (it is {was}).")
    db.session.flush()
    audit.record(
        actor,
        "waitlist.remove",
        "waitlist_entry",
        entry.id,
        why,
        learner_id=entry.learner_id,
        type=entry.interview_type.slug,
        day=entry.day.isoformat() if entry.day else None,
        was=was,
    )
    return entry
