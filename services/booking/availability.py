"""Coach availability and bookable slots.

Slots come from each coach's weekly rules (in the coach's own zone), plus dated extra hours, minus
dated time off, minus existing bookings widened by their buffers, on a grid of start times. The
arithmetic is pure (``open_windows``, ``free_starts``) and property-tested; ``find_slots`` loads
what it needs for any number of coaches and days in a fixed handful of queries.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import selectinload

from services import localtime, outbox
from services.booking import facts, interview_types
from services.booking.facts import CoachFacts, TypeFacts
from services.booking.settings import Policy, policy
from services.db import db, utcnow
from services.errors import NotFound, ValidationFailed
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    CoachBookingSettings,
    InterviewType,
    Role,
    User,
)
from services.models.booking import OCCUPYING
from services.validation import is_id

UTC = dt.UTC
MAX_RANGE_DAYS = 62
# Ids are 32-bit integers in the database; anything larger names nothing (and must not reach it).
MAX_DAILY_CAP = 24  # sessions a coach may set for a day, at most
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PAST_EXCEPTION = (
    "That time has already passed: time off and extra hours are for times still to come."
)

Interval = tuple[dt.datetime, dt.datetime]


# --- settings ------------------------------------------------------------------------------------


def step_minutes() -> int:
    """The grid of start times, in minutes from the Unix epoch (so every zone shares it)."""
    return policy().slot_step_minutes


def default_daily_cap() -> int:
    return policy().default_daily_cap


def feed_stale_after() -> dt.timedelta:
    """A calendar feed not read successfully for this long is stale."""
    return dt.timedelta(hours=policy().feed_stale_hours)


def stale_feeds_block() -> bool:
    """Whether a stale feed's last known busy times still block slots (the default) or not."""
    return policy().stale_feeds_block


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``. Raises ValidationFailed for an unknown one."""
    try:
        if not name or name != name.strip() or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationFailed.field("tz", f"{name!r} is not an IANA time zone.") from exc


# --- the pure arithmetic -------------------------------------------------------------------------


def local_to_utc(day: dt.date, time: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A wall-clock time on ``day`` in ``tz`` as UTC. A time skipped by a DST jump maps forward,
    a repeated one to its first occurrence (fold=0), as PEP 495 defines."""
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of intervals, sorted, touching ones joined."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(windows: Sequence[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """``windows`` (merged) minus every hole."""
    result = list(windows)
    for h_start, h_end in merge(holes):
        cut: list[Interval] = []
        for start, end in result:
            if h_end <= start or end <= h_start:
                cut.append((start, end))
                continue
            if start < h_start:
                cut.append((start, h_start))
            if h_end < end:
                cut.append((h_end, end))
        result = cut
    return result


def open_windows(
    rules: Iterable[tuple[int, dt.time, dt.time]],
    tz: zoneinfo.ZoneInfo,
    utc_from: dt.datetime,
    utc_to: dt.datetime,
    extra: Iterable[Interval] = (),
    time_off: Iterable[Interval] = (),
) -> list[Interval]:
    """When a coach is available around ``utc_from`` to ``utc_to``: weekly rules (weekday 0 =
    Monday, wall-clock times in ``tz``, so 09:00 stays 09:00 across daylight-saving changes), plus
    extra hours, minus time off. UTC intervals, merged and sorted; whole windows, so the first and
    last may reach past the range (a session may start inside it and end after it)."""
    by_weekday: dict[int, list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for weekday, start, end in rules:
        by_weekday[weekday].append((start, end))
    windows: list[Interval] = []
    day = utc_from.astimezone(tz).date() - dt.timedelta(days=1)
    last = utc_to.astimezone(tz).date() + dt.timedelta(days=1)
    while day <= last:
        for start, end in by_weekday.get(day.weekday(), ()):
            s, e = local_to_utc(day, start, tz), local_to_utc(day, end, tz)
            if s < e:
                windows.append((s, e))
        day += dt.timedelta(days=1)
    windows.extend(extra)
    return subtract(merge(windows), time_off)


def grid_ceil(moment: dt.datetime, step: int) -> dt.datetime:
    seconds = step * 60
    stamp = int(moment.timestamp())
    stamp = -(-stamp // seconds) * seconds
    return dt.datetime.fromtimestamp(stamp, UTC)


def on_grid(moment: dt.datetime, step: int) -> bool:
    return moment.timestamp() % (step * 60) == 0


@dataclass(frozen=True)
class Shape:
    """What a session of one interview type occupies."""

    duration: dt.timedelta
    before: dt.timedelta
    after: dt.timedelta

    @classmethod
    def of(cls, itype: InterviewType | TypeFacts) -> Shape:
        return cls(
            dt.timedelta(minutes=itype.duration_minutes),
            dt.timedelta(minutes=itype.buffer_before_minutes),
            dt.timedelta(minutes=itype.buffer_after_minutes),
        )

    def block(self, start: dt.datetime) -> Interval:
        return (start - self.before, start + self.duration + self.after)


def _stamp(moment: dt.datetime, *, up: bool = False) -> int:
    """Whole seconds since the epoch, rounded down (or up)."""
    value = moment.timestamp()
    return math.ceil(value) if up else math.floor(value)


class _BusyStamps:
    """Intervals of epoch seconds (possibly overlapping) with a fast overlap test."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        items = sorted((_stamp(s), _stamp(e, up=True)) for s, e in intervals)
        self.starts = [s for s, _ in items]
        self.max_end: list[int] = []
        for _, end in items:
            self.max_end.append(max(end, self.max_end[-1]) if self.max_end else end)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.starts, end)
        return i > 0 and self.max_end[i - 1] > start


def _free_stamps(
    windows: Sequence[Interval],
    shape: Shape,
    step: int,
    earliest: dt.datetime,
    latest: dt.datetime,
    busy: _BusyStamps,
    mine: _BusyStamps,
) -> list[int]:
    """``free_starts`` in epoch seconds: the inner loop of slot search, kept to integer maths."""
    step_s = step * 60
    duration = int(shape.duration.total_seconds())
    before, after = int(shape.before.total_seconds()), int(shape.after.total_seconds())
    low, high = _stamp(earliest, up=True), _stamp(latest)
    out: list[int] = []
    for w_start, w_end in windows:
        moment = max(_stamp(w_start, up=True), low)
        moment = -(-moment // step_s) * step_s
        last = min(_stamp(w_end) - duration, high)
        while moment <= last:
            if not busy.overlaps(moment - before, moment + duration + after) and not (
                mine.starts and mine.overlaps(moment, moment + duration)
            ):
                out.append(moment)
            moment += step_s
    return out


def free_starts(
    windows: Sequence[Interval],
    shape: Shape,
    *,
    step: int,
    earliest: dt.datetime,
    latest: dt.datetime,
    blocks: Iterable[Interval] = (),
    learner_busy: Iterable[Interval] = (),
) -> list[dt.datetime]:
    """Grid start times from ``earliest`` to ``latest`` (inclusive) whose session lies inside a
    window, whose buffered block overlaps no existing block of the coach, and whose session overlaps
    none of the learner's own sessions."""
    stamps = _free_stamps(
        windows,
        shape,
        step,
        earliest,
        latest,
        _BusyStamps(blocks),
        _BusyStamps(learner_busy),
    )
    return [dt.datetime.fromtimestamp(stamp, UTC) for stamp in stamps]


# --- loading -------------------------------------------------------------------------------------


@dataclass
class CoachCalendar:
    """One coach's rules, exceptions and occupied blocks around a time range."""

    coach: User | CoachFacts
    tz: zoneinfo.ZoneInfo
    rules: list[tuple[int, dt.time, dt.time]] = field(default_factory=list)
    extra: list[Interval] = field(default_factory=list)
    time_off: list[Interval] = field(default_factory=list)
    blocks: list[Interval] = field(default_factory=list)
    # Busy times from the coach's own calendar feeds, each with its feed's name.
    own_busy: list[tuple[Interval, str]] = field(default_factory=list)
    # Occupying sessions per day in the coach's zone (for the daily cap).
    per_day: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    cap: int = Policy.default_daily_cap

    def windows(self, utc_from: dt.datetime, utc_to: dt.datetime) -> list[Interval]:
        return open_windows(self.rules, self.tz, utc_from, utc_to, self.extra, self.time_off)

    def busy(self) -> list[Interval]:
        """Everything a session's buffered block may not overlap: bookings' blocks and the
        coach's own busy times."""
        return self.blocks + [interval for interval, _ in self.own_busy]

    def full_on(self, start: dt.datetime) -> bool:
        if not any(n >= self.cap for n in self.per_day.values()):
            return False  # the common case, without a time-zone conversion per slot
        return self.per_day.get(start.astimezone(self.tz).date(), 0) >= self.cap


def valid_id(value: int | None) -> bool:
    return value is not None and is_id(value)


def eligible_coaches(itype: InterviewType | TypeFacts, coach_id: int | None = None) -> list[User]:
    """The active coaches who run ``itype`` (or that one coach, if they do). One query."""
    if coach_id is not None and not valid_id(coach_id):
        return []
    query = select(User).where(interview_types.offered_by(itype.id)).order_by(User.id)
    if coach_id is not None:
        query = query.where(User.id == coach_id)
    return list(db.session.scalars(query))


def with_hours(coaches: Sequence[User], now: dt.datetime | None = None) -> list[User]:
    """Those of ``coaches`` a learner could book at all: with weekly hours, or extra hours still
    to come (a coach who has just accepted an invite has neither). Two queries."""
    ids = [c.id for c in coaches]
    if not ids:
        return []
    having = set(
        db.session.scalars(
            select(AvailabilityRule.coach_id).where(AvailabilityRule.coach_id.in_(ids)).distinct()
        )
    )
    having |= set(
        db.session.scalars(
            select(AvailabilityException.coach_id)
            .where(
                AvailabilityException.coach_id.in_(ids),
                AvailabilityException.available.is_(True),
                AvailabilityException.end_at > (now or utcnow()),
            )
            .distinct()
        )
    )
    return [c for c in coaches if c.id in having]


def bookable_coaches(itype: InterviewType) -> list[User]:
    """The coaches a learner may pick for ``itype``: they run it and have hours."""
    return with_hours(eligible_coaches(itype))


def not_running(coach_id: int, itype: InterviewType | TypeFacts) -> ValidationFailed:
    """The 422 for a request naming a coach who does not run ``itype``: it says which they run."""
    coach = db.session.get(User, coach_id) if valid_id(coach_id) else None
    if coach is None or coach.role != Role.COACH or not coach.active:
        return ValidationFailed.field("coach_id", f"There is no active coach {coach_id}.")
    slugs = interview_types.slugs_by_coach([coach.id])[coach.id]
    runs = (
        f"they run {', '.join(slugs)}"
        if slugs
        else "they run no interview type yet (staff choose them on the coach's page)"
    )
    return ValidationFailed.field(
        "coach_id", f"Coach {coach.id} ({coach.name}) does not run {itype.slug} sessions: {runs}."
    )


def load_calendars(
    coaches: Sequence[User | CoachFacts],
    utc_from: dt.datetime,
    utc_to: dt.datetime,
    *,
    exclude_booking_id: int | None = None,
    now: dt.datetime | None = None,
    kept: facts.Snapshot | None = None,
) -> dict[int, CoachCalendar]:
    """Everything slot arithmetic needs for ``coaches`` around [utc_from, utc_to): five queries,
    however many coaches, days and calendar feeds; one (the bookings) where ``kept`` holds the
    rest."""
    calendars = {c.id: CoachCalendar(coach=c, tz=localtime.zone(c.timezone)) for c in coaches}
    if not calendars:
        return calendars
    ids = list(calendars)
    # A day on either side: a coach's local day (for the cap) and buffers reach past the range.
    wide_from, wide_to = utc_from - dt.timedelta(days=1), utc_to + dt.timedelta(days=1)
    now = now or utcnow()
    if kept is not None and kept.covers(utc_from):
        hours = kept.hours(ids)
    else:
        hours = facts.read_hours(ids, wide_from)
    cap = default_daily_cap()
    oldest_fresh = None if stale_feeds_block() else now - feed_stale_after()
    for coach_id, calendar in calendars.items():
        found = hours[coach_id]
        calendar.rules = found.rules
        for start_at, end_at, available in found.exceptions:
            if start_at < wide_to and end_at > wide_from:
                (calendar.extra if available else calendar.time_off).append((start_at, end_at))
        calendar.cap = found.cap or cap
        for start_at, end_at, feed_name, last_success in found.busy:
            fresh = oldest_fresh is None or (
                last_success is not None and last_success >= oldest_fresh
            )
            if start_at < wide_to and end_at > wide_from and fresh:
                calendar.own_busy.append(((start_at, end_at), feed_name))
    # Plain rows on the session's connection, not ORM objects: hundreds of them per call.
    rows = db.session.connection().execute(
        _COACH_BLOCKS, {"ids": ids, "wide_from": wide_from, "wide_to": wide_to}
    )
    for booking_id, coach_id, start_at, block_start, block_end in rows:
        if booking_id == exclude_booking_id:
            continue
        calendar = calendars[coach_id]
        calendar.blocks.append((block_start, block_end))
        calendar.per_day[start_at.astimezone(calendar.tz).date()] += 1
    return calendars


# The two reads of every slot search, built once (each search only binds its values).
_COACH_BLOCKS = select(
    Booking.id, Booking.coach_id, Booking.start_at, Booking.block_start_at, Booking.block_end_at
).where(
    Booking.coach_id.in_(bindparam("ids", expanding=True)),
    Booking.status.in_(OCCUPYING),
    Booking.block_start_at < bindparam("wide_to"),
    Booking.block_end_at > bindparam("wide_from"),
)
_LEARNER_SESSIONS = select(Booking.start_at, Booking.end_at).where(
    Booking.learner_id == bindparam("learner_id"),
    Booking.status.in_(OCCUPYING),
    Booking.start_at < bindparam("utc_to"),
    Booking.end_at > bindparam("utc_from"),
    Booking.id != bindparam("exclude", -1),
)


def learner_sessions(
    learner_id: int,
    utc_from: dt.datetime,
    utc_to: dt.datetime,
    *,
    exclude_booking_id: int | None = None,
) -> list[Interval]:
    rows = db.session.connection().execute(
        _LEARNER_SESSIONS,
        {
            "learner_id": learner_id,
            "utc_from": utc_from,
            "utc_to": utc_to,
            "exclude": exclude_booking_id if exclude_booking_id is not None else -1,
        },
    )
    return [(s, e) for s, e in rows]


# --- slots ---------------------------------------------------------------------------------------


class Slot(NamedTuple):
    """A bookable start (a tuple: a search may build thousands)."""

    start: dt.datetime
    end: dt.datetime
    coach_ids: tuple[int, ...]


@dataclass(frozen=True)
class SlotQuery:
    type_slug: str
    start_date: dt.date
    end_date: dt.date
    tz: str
    coach_id: int | None = None


def booking_window(
    itype: InterviewType | TypeFacts, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The first and last bookable start: the minimum notice from now, the horizon from now."""
    return (
        now + dt.timedelta(hours=itype.min_notice_hours),
        now + dt.timedelta(days=itype.horizon_days),
    )


def get_type(slug: str, field_name: str = "type") -> InterviewType:
    """The active interview type ``slug``. Raises ValidationFailed."""
    itype = db.session.scalar(
        select(InterviewType).where(InterviewType.slug == slug, InterviewType.active.is_(True))
    )
    if itype is None:
        raise no_type(slug, field_name)
    return itype


def no_type(slug: str, field_name: str = "type") -> ValidationFailed:
    return ValidationFailed.field(field_name, f"There is no interview type {slug!r}.")


def _learner_busy(
    learner_id: int | None,
    utc_from: dt.datetime,
    utc_to: dt.datetime,
    exclude_booking_id: int | None,
) -> _BusyStamps:
    mine = (
        learner_sessions(
            learner_id,
            utc_from - dt.timedelta(days=1),
            utc_to + dt.timedelta(days=1),
            exclude_booking_id=exclude_booking_id,
        )
        if learner_id is not None
        else []
    )
    return _BusyStamps(mine)


class _CoachSearch:
    """One coach's slot search, prepared: what ``find_slots`` loops over and ``explain`` reads,
    so the two cannot disagree (a test checks every minute of a generated week)."""

    def __init__(
        self,
        calendar: CoachCalendar,
        utc_from: dt.datetime,
        utc_to: dt.datetime,
        shape: Shape,
        step: int,
        earliest: dt.datetime,
        latest: dt.datetime,
        learner_busy: _BusyStamps,
    ) -> None:
        self.calendar = calendar
        self.utc_from, self.utc_to = utc_from, utc_to
        self.windows = calendar.windows(utc_from, utc_to)
        self.shape, self.step = shape, step
        self.earliest, self.latest = earliest, latest
        self.busy = _BusyStamps(calendar.busy())
        self.learner_busy = learner_busy
        # For the explanations only: hours before time off, sessions and each feed apart.
        self._weekly: list[Interval] | None = None
        self._sessions = _BusyStamps(calendar.blocks)
        by_feed: dict[str, list[Interval]] = defaultdict(list)
        for interval, feed_name in calendar.own_busy:
            by_feed[feed_name].append(interval)
        self._feeds = {name: _BusyStamps(spans) for name, spans in sorted(by_feed.items())}

    def free(self) -> list[int]:
        """The free grid starts, in epoch seconds."""
        calendar = self.calendar
        stamps = _free_stamps(
            self.windows,
            self.shape,
            self.step,
            self.earliest,
            self.latest,
            self.busy,
            self.learner_busy,
        )
        if not any(n >= calendar.cap for n in calendar.per_day.values()):
            return stamps
        return [s for s in stamps if not calendar.full_on(dt.datetime.fromtimestamp(s, UTC))]

    # The same tests as ``_free_stamps`` and ``free``, one start at a time, each saying why.

    def common_reasons(self, stamp: int, now: dt.datetime, itype: InterviewType) -> list[Reason]:
        """What rules ``stamp`` out for every coach: the grid, notice, horizon, the learner."""
        reasons = []
        step_s = self.step * 60
        if stamp % step_s:
            reasons.append(
                Reason(
                    "off_grid",
                    f"Sessions start every {self.step} minutes from the hour; "
                    "this time is not one of them.",
                )
            )
        if stamp < _stamp(self.earliest, up=True):
            if stamp < _stamp(now, up=True):
                reasons.append(Reason("past", "That time has already passed."))
            else:
                reasons.append(
                    Reason(
                        "min_notice",
                        f"{itype.name} sessions are booked at least "
                        f"{_plural(itype.min_notice_hours, 'hour')} ahead.",
                    )
                )
        if stamp > _stamp(self.latest):
            reasons.append(
                Reason(
                    "beyond_horizon",
                    f"{itype.name} sessions are booked at most "
                    f"{_plural(itype.horizon_days, 'day')} ahead.",
                )
            )
        duration = int(self.shape.duration.total_seconds())
        if self.learner_busy.starts and self.learner_busy.overlaps(stamp, stamp + duration):
            reasons.append(Reason("learner_overlap", "The learner has another session then."))
        return reasons

    def coach_reasons(self, stamp: int, *, name_feeds: bool = True) -> list[Reason]:
        """What rules ``stamp`` out for this coach: hours, time off, sessions, their own calendar,
        the daily cap."""
        calendar, shape = self.calendar, self.shape
        name = calendar.coach.name
        reasons = []
        duration = int(shape.duration.total_seconds())
        before, after = int(shape.before.total_seconds()), int(shape.after.total_seconds())

        def inside(windows: Sequence[Interval]) -> bool:
            return any(
                _stamp(s, up=True) <= stamp and stamp <= _stamp(e) - duration for s, e in windows
            )

        if not inside(self.windows):
            if self._weekly is None:
                self._weekly = open_windows(
                    calendar.rules, calendar.tz, self.utc_from, self.utc_to, calendar.extra
                )
            if inside(self._weekly):
                reasons.append(Reason("time_off", f"{name} has time off then."))
            else:
                reasons.append(
                    Reason(
                        "outside_hours",
                        f"The session would not lie within {name}'s weekly hours "
                        f"({calendar.tz.key}).",
                    )
                )
        block = (stamp - before, stamp + duration + after)
        if self._sessions.overlaps(*block):
            reasons.append(
                Reason(
                    "booking",
                    f"{name} has another session then, or the buffer around one "
                    f"({shape.before.seconds // 60} minutes before a session of this type, "
                    f"{shape.after.seconds // 60} after).",
                )
            )
        for feed_name, feed_busy in self._feeds.items():
            if feed_busy.overlaps(*block):
                where = f"their calendar “{feed_name}”" if name_feeds else "their own calendar"
                reasons.append(Reason("own_calendar", f"{name} is busy then on {where}."))
        moment = dt.datetime.fromtimestamp(stamp, UTC)
        if calendar.full_on(moment):
            day = moment.astimezone(calendar.tz).date()
            reasons.append(
                Reason(
                    "daily_cap",
                    f"{name} already has {_plural(calendar.per_day[day], 'session')} on "
                    f"{day:%A %-d %B}, their most for a day.",
                )
            )
        return reasons


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def find_slots(
    query: SlotQuery,
    *,
    learner_id: int | None = None,
    now: dt.datetime | None = None,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """Bookable slots of a type, as ``GET /api/v1/slots`` serves them: start and end dates
    inclusive in ``tz``, for one coach or any (each slot lists the coaches free then).
    Raises ValidationFailed."""
    tz = zone(query.tz)
    if query.end_date < query.start_date:
        raise ValidationFailed.field("end", "The end date is before the start date.")
    if (query.end_date - query.start_date).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed.field("end", f"Ask for at most {MAX_RANGE_DAYS} days at once.")
    # The type, its coaches and their hours as this process keeps them (or, where it cannot,
    # read now); the bookings are read now either way.
    kept = facts.current()
    itype = kept.interview_type(query.type_slug) if kept else facts.type_facts(query.type_slug)
    if itype is None:
        raise no_type(query.type_slug)
    now = now or utcnow()
    utc_from = local_to_utc(query.start_date, dt.time(0), tz)
    utc_to = local_to_utc(query.end_date + dt.timedelta(days=1), dt.time(0), tz)
    earliest, latest = booking_window(itype, now)
    earliest, latest = max(earliest, utc_from), min(latest, utc_to - dt.timedelta(seconds=1))
    coaches: Sequence[User | CoachFacts]
    if kept is None:
        coaches = eligible_coaches(itype, query.coach_id)
    elif query.coach_id is None:
        coaches = kept.coaches(itype.id)
    else:
        coaches = [c for c in kept.coaches(itype.id) if c.id == query.coach_id]
    if query.coach_id is not None and not coaches:
        raise not_running(query.coach_id, itype)
    if earliest > latest:
        return []
    calendars = load_calendars(
        coaches, utc_from, utc_to, exclude_booking_id=exclude_booking_id, now=now, kept=kept
    )
    learner_busy = _learner_busy(learner_id, utc_from, utc_to, exclude_booking_id)
    shape, step = Shape.of(itype), step_minutes()
    # The coaches' side of the answer, for the whole range: what the hours and bookings leave
    # free. This process keeps it under the calendars' version, by the search and the bookings
    # just read (so a booking made or cancelled anywhere is a new key).
    key: tuple[Any, ...] | None = None
    if (
        kept is not None
        and kept.covers(utc_from)  # else load_calendars read the hours through
        and stale_feeds_block()  # else which busy times count changes with the time
    ):
        booked = tuple(
            (i, tuple(c.blocks), tuple(sorted(c.per_day.items()))) for i, c in calendars.items()
        )
        key = (itype.slug, utc_from, utc_to, step, exclude_booking_id, booked)
    free = kept.answer(key) if kept is not None and key is not None else None
    if free is None:
        free = _free_slots(calendars, utc_from, utc_to, shape, step)
        if kept is not None and key is not None:
            kept.remember(key, free)
    # Then what holds for this search alone: notice, horizon and the learner's own sessions.
    low = bisect.bisect_left(free, _stamp(earliest, up=True), key=lambda entry: entry[0])
    high = bisect.bisect_right(free, _stamp(latest), key=lambda entry: entry[0])
    duration = int(shape.duration.total_seconds())
    return [
        slot
        for stamp, slot in free[low:high]
        if not (learner_busy.starts and learner_busy.overlaps(stamp, stamp + duration))
    ]


def _free_slots(
    calendars: dict[int, CoachCalendar],
    utc_from: dt.datetime,
    utc_to: dt.datetime,
    shape: Shape,
    step: int,
) -> list[tuple[int, Slot]]:
    """Every start from ``utc_from`` to ``utc_to`` at which one of the coaches is free (by their
    hours, time off, sessions, own calendars and daily cap), in order, with its epoch second."""
    by_start: dict[int, list[int]] = defaultdict(list)
    latest = utc_to - dt.timedelta(seconds=1)
    nobody = _BusyStamps(())
    for coach_id, calendar in calendars.items():
        search = _CoachSearch(calendar, utc_from, utc_to, shape, step, utc_from, latest, nobody)
        for stamp in search.free():
            by_start[stamp].append(coach_id)
    slots = []
    for stamp, ids in sorted(by_start.items()):
        start = dt.datetime.fromtimestamp(stamp, UTC)
        slots.append((stamp, Slot(start, start + shape.duration, tuple(sorted(ids)))))
    return slots


# --- why a time is not offered -------------------------------------------------------------------


REASON_CODES = (
    "no_coach",
    "off_grid",
    "past",
    "min_notice",
    "beyond_horizon",
    "learner_overlap",
    "suspended",
    "fair_use",
    "outside_hours",
    "time_off",
    "booking",
    "own_calendar",
    "daily_cap",
)


@dataclass(frozen=True)
class Reason:
    """Why a start time is not offered: a stable ``code`` (one of ``REASON_CODES``) and a
    sentence for people."""

    code: str
    message: str


@dataclass(frozen=True)
class CoachExplanation:
    coach: User
    reasons: tuple[Reason, ...]

    @property
    def bookable(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class Explanation:
    """Whether a session of ``itype`` starting at ``start`` is offered, and if not, why:
    ``reasons`` hold for every coach, each coach's own follow."""

    itype: InterviewType
    start: dt.datetime
    end: dt.datetime
    reasons: tuple[Reason, ...]
    coaches: tuple[CoachExplanation, ...]

    @property
    def bookable(self) -> bool:
        return not self.reasons and any(c.bookable for c in self.coaches)

    @property
    def free_coach_ids(self) -> list[int]:
        return [c.coach.id for c in self.coaches if c.bookable] if not self.reasons else []


def explain(
    type_slug: str,
    start: dt.datetime,
    *,
    coach_id: int | None = None,
    learner_id: int | None = None,
    now: dt.datetime | None = None,
    exclude_booking_id: int | None = None,
    name_feeds: bool = True,
) -> Explanation:
    """Why ``start`` is or is not a bookable slot of ``type_slug`` (for one coach, or for each who
    runs it), by the same tests as ``find_slots``. ``name_feeds``: say which of the coach's
    calendars is busy (for the coach and staff; a learner is told only "their own calendar").
    Raises ValidationFailed."""
    return explain_many(
        type_slug,
        [start],
        coach_id=coach_id,
        learner_id=learner_id,
        now=now,
        exclude_booking_id=exclude_booking_id,
        name_feeds=name_feeds,
    )[0]


def explain_many(
    type_slug: str,
    starts: Sequence[dt.datetime],
    *,
    coach_id: int | None = None,
    learner_id: int | None = None,
    now: dt.datetime | None = None,
    exclude_booking_id: int | None = None,
    name_feeds: bool = True,
) -> list[Explanation]:
    """``explain`` for each of ``starts`` (at most ``MAX_RANGE_DAYS`` apart), loading once."""
    if not starts:
        return []
    if any(start.tzinfo is None for start in starts):
        raise ValidationFailed.field("start", "Give the time with its offset, e.g. +00:00.")
    itype = get_type(type_slug)
    now = now or utcnow()
    utc_starts = [start.astimezone(UTC) for start in starts]
    utc_from = min(utc_starts) - dt.timedelta(days=1)
    utc_to = max(utc_starts) + dt.timedelta(days=2)
    if utc_to - utc_from > dt.timedelta(days=MAX_RANGE_DAYS + 3):
        raise ValidationFailed.field("start", f"Ask about at most {MAX_RANGE_DAYS} days at once.")
    coaches = eligible_coaches(itype, coach_id)
    if coach_id is not None and not coaches:
        raise not_running(coach_id, itype)
    calendars = load_calendars(
        coaches, utc_from, utc_to, exclude_booking_id=exclude_booking_id, now=now
    )
    learner_busy = _learner_busy(learner_id, utc_from, utc_to, exclude_booking_id)
    shape, step = Shape.of(itype), step_minutes()
    earliest, latest = booking_window(itype, now)
    searches = [
        _CoachSearch(calendar, utc_from, utc_to, shape, step, earliest, latest, learner_busy)
        for calendar in calendars.values()
    ]
    out = []
    for start in utc_starts:
        stamp = _stamp(start)
        if not searches:
            common = [Reason("no_coach", f"No active coach runs {itype.name} sessions.")]
        else:
            common = searches[0].common_reasons(stamp, now, itype)
            if start.timestamp() != stamp and not any(r.code == "off_grid" for r in common):
                common.insert(0, Reason("off_grid", "Sessions start on whole minutes."))
        explained = tuple(
            CoachExplanation(coach, tuple(search.coach_reasons(stamp, name_feeds=name_feeds)))
            for coach, search in zip(coaches, searches, strict=True)
        )
        out.append(Explanation(itype, start, start + shape.duration, tuple(common), explained))
    return out


# --- a coach's availability ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    weekday: int
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class ExceptionInput:
    start: dt.datetime
    end: dt.datetime
    available: bool = False
    reason: str = ""


@dataclass(frozen=True)
class AvailabilityInput:
    timezone: str
    rules: tuple[RuleInput, ...]
    exceptions: tuple[ExceptionInput, ...]
    daily_session_cap: int | None = None


@dataclass(frozen=True)
class Availability:
    timezone: str
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]
    daily_session_cap: int | None


def _coach(coach_id: int) -> User:
    coach = db.session.get(User, coach_id)
    if coach is None or coach.role != Role.COACH:
        raise NotFound("There is no such coach.")
    return coach


def get_availability(coach_id: int) -> Availability:
    coach = _coach(coach_id)
    rules = list(
        db.session.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.coach_id == coach_id)
            .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
        )
    )
    exceptions = list(
        db.session.scalars(
            select(AvailabilityException)
            .where(AvailabilityException.coach_id == coach_id)
            .order_by(AvailabilityException.start_at)
        )
    )
    settings = db.session.get(CoachBookingSettings, coach_id)
    return Availability(
        timezone=coach.timezone,
        rules=rules,
        exceptions=exceptions,
        daily_session_cap=settings.daily_session_cap if settings else None,
    )


def _validate(data: AvailabilityInput, current_zone: str) -> None:
    """``current_zone``: the coach's zone now, accepted even if it is no longer offered."""
    errors: dict[str, list[str]] = {}
    try:
        localtime.check_zone(data.timezone, current=current_zone)
    except ValidationFailed as refused:
        errors.update(refused.errors)
    # Each error is keyed by the rule it concerns (``rules.<index>.<field>``), so a form can show
    # it on that day and window.
    by_day: dict[int, list[tuple[int, RuleInput]]] = defaultdict(list)
    for i, rule in enumerate(data.rules):
        if not 0 <= rule.weekday <= 6:
            errors.setdefault(f"rules.{i}.weekday", []).append("Use 0 (Monday) to 6 (Sunday).")
            continue
        if rule.start >= rule.end:
            errors.setdefault(f"rules.{i}.end", []).append("The end must be after the start.")
        by_day[rule.weekday].append((i, rule))
    for weekday, rules in by_day.items():
        ordered = sorted(rules, key=lambda item: item[1].start)
        for (_, a), (j, b) in itertools.pairwise(ordered):
            if b.start < a.end:
                errors.setdefault(f"rules.{j}.start", []).append(
                    f"{a.start:%H:%M}–{a.end:%H:%M} and {b.start:%H:%M}–{b.end:%H:%M} overlap "
                    f"on {WEEKDAY_NAMES[weekday]}s: make one end before the other starts."
                )
    for i, exc in enumerate(data.exceptions):
        if exc.start >= exc.end:
            errors.setdefault(f"exceptions.{i}.end", []).append("The end must be after the start.")
        elif exc.end - exc.start > dt.timedelta(days=366):
            errors.setdefault(f"exceptions.{i}.end", []).append("Use at most a year.")
    if data.daily_session_cap is not None and not 1 <= data.daily_session_cap <= MAX_DAILY_CAP:
        errors["daily_session_cap"] = [f"Use 1 to {MAX_DAILY_CAP} sessions a day."]
    if errors:
        raise ValidationFailed("Some availability is not valid.", errors)


# Time off this long or longer: its sessions are shown to staff to move, and their learners told.
LONG_TIME_OFF = dt.timedelta(days=1)


def during_time_off(
    now: dt.datetime | None = None, limit: int | None = 50, coach_id: int | None = None
) -> list[Booking]:
    """Upcoming sessions inside their coach's time off of a day or more (one coach's, when
    ``coach_id`` is given), soonest first, for staff to move to another coach (nothing is moved
    by itself). Two queries."""
    now = now or utcnow()
    query = select(
        AvailabilityException.coach_id, AvailabilityException.start_at, AvailabilityException.end_at
    ).where(AvailabilityException.available.is_(False), AvailabilityException.end_at > now)
    if coach_id is not None:
        query = query.where(AvailabilityException.coach_id == coach_id)
    away = [(c, s, e) for c, s, e in db.session.execute(query) if e - s >= LONG_TIME_OFF]
    if not away:
        return []
    bookings = db.session.scalars(
        select(Booking)
        .where(
            Booking.status.in_(OCCUPYING),
            Booking.start_at > now,
            Booking.coach_id.in_({c for c, _, _ in away}),
        )
        .order_by(Booking.start_at)
    ).all()
    found = [
        b
        for b in bookings
        if any(c == b.coach_id and s < b.end_at and b.start_at < e for c, s, e in away)
    ]
    return found if limit is None else found[:limit]


def sessions_in_time_off(coach_id: int, now: dt.datetime | None = None) -> set[int]:
    """The ids of the coach's upcoming sessions inside their time off of a day or more."""
    return {b.id for b in during_time_off(now, limit=None, coach_id=coach_id)}


def _announce_time_off(coach_id: int, before: set[int]) -> None:
    """Each session that time off newly covers: its learner (and staff) are told, once, by an
    outbox event; nothing is moved by itself (staff re-assign it from their sessions page)."""
    for booking_id in sorted(sessions_in_time_off(coach_id) - before):
        outbox.record("booking.coach_away", booking_id=booking_id)


def replace_availability(coach_id: int, data: AvailabilityInput) -> Availability:
    """Replace a coach's weekly rules, exceptions, time zone and daily cap (PUT semantics).
    Booked sessions stay as they are; those that new time off of a day or more covers are
    announced to their learners and staff. Raises ValidationFailed, NotFound."""
    coach = _coach(coach_id)
    _validate(data, coach.timezone)
    covered = sessions_in_time_off(coach_id)
    coach.timezone = data.timezone
    db.session.execute(delete(AvailabilityRule).where(AvailabilityRule.coach_id == coach_id))
    db.session.execute(
        delete(AvailabilityException).where(AvailabilityException.coach_id == coach_id)
    )
    for rule in data.rules:
        db.session.add(
            AvailabilityRule(
                coach_id=coach_id, weekday=rule.weekday, start_time=rule.start, end_time=rule.end
            )
        )
    for exc in data.exceptions:
        db.session.add(
            AvailabilityException(
                coach_id=coach_id,
                start_at=exc.start.astimezone(UTC),
                end_at=exc.end.astimezone(UTC),
                available=exc.available,
                reason=exc.reason.strip()[:500],
            )
        )
    settings = db.session.get(CoachBookingSettings, coach_id)
    if settings is None:
        settings = CoachBookingSettings(coach_id=coach_id)
        db.session.add(settings)
    settings.daily_session_cap = data.daily_session_cap
    db.session.flush()
    _announce_time_off(coach_id, covered)
    return get_availability(coach_id)


def week_view(
    coach_id: int, week_start: dt.date
) -> tuple[zoneinfo.ZoneInfo, list[Interval], list[Booking]]:
    """A coach's open windows and bookings for the week from ``week_start`` (their zone)."""
    coach = _coach(coach_id)
    tz = localtime.zone(coach.timezone)
    utc_from = local_to_utc(week_start, dt.time(0), tz)
    utc_to = local_to_utc(week_start + dt.timedelta(days=7), dt.time(0), tz)
    calendar = load_calendars([coach], utc_from, utc_to)[coach.id]
    bookings = list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.coach_id == coach_id,
                Booking.status.in_(("confirmed", "completed", "no_show")),
                Booking.start_at < utc_to,
                Booking.end_at > utc_from,
            )
            .options(selectinload(Booking.learner))
            .order_by(Booking.start_at)
        )
    )
    windows = [
        (max(s, utc_from), min(e, utc_to))
        for s, e in calendar.windows(utc_from, utc_to)
        if s < utc_to and e > utc_from
    ]
    return tz, windows, bookings


def set_weekly(
    coach_id: int,
    timezone: str,
    rules: tuple[RuleInput, ...],
    daily_session_cap: int | None,
) -> Availability:
    """Replace the weekly rules, time zone and cap; exceptions stay. Raises ValidationFailed."""
    current = get_availability(coach_id)
    exceptions = tuple(
        ExceptionInput(e.start_at, e.end_at, e.available, e.reason) for e in current.exceptions
    )
    return replace_availability(
        coach_id, AvailabilityInput(timezone, rules, exceptions, daily_session_cap)
    )


def add_exception(
    coach_id: int, data: ExceptionInput, *, now: dt.datetime | None = None
) -> AvailabilityException:
    """Add time off or extra hours, ending after ``now``. Raises ValidationFailed (``start``: the
    time is past; ``end``: it ends before it starts), NotFound."""
    coach = _coach(coach_id)
    if data.start >= data.end:
        raise ValidationFailed.field("end", "The end must be after the start.")
    if data.end <= (now or utcnow()):
        raise ValidationFailed.field("start", PAST_EXCEPTION)
    _validate(AvailabilityInput(coach.timezone, (), (data,)), coach.timezone)
    covered = sessions_in_time_off(coach_id)
    exc = AvailabilityException(
        coach_id=coach_id,
        start_at=data.start.astimezone(UTC),
        end_at=data.end.astimezone(UTC),
        available=data.available,
        reason=data.reason.strip()[:500],
    )
    db.session.add(exc)
    db.session.flush()
    _announce_time_off(coach_id, covered)
    return exc


def delete_exception(coach_id: int, exception_id: int) -> None:
    """Remove one of the coach's exceptions. Raises NotFound."""
    exc = db.session.get(AvailabilityException, exception_id) if valid_id(exception_id) else None
    if exc is None or exc.coach_id != coach_id:
        raise NotFound("There is no such exception.")
    db.session.delete(exc)
    db.session.flush()


def upcoming_exceptions(
    coach_id: int, now: dt.datetime | None = None
) -> list[AvailabilityException]:
    return list(
        db.session.scalars(
            select(AvailabilityException)
            .where(
                AvailabilityException.coach_id == coach_id,
                AvailabilityException.end_at > (now or utcnow()),
            )
            .order_by(AvailabilityException.start_at)
        )
    )
