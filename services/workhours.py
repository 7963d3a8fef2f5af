"""The desk's working-hours clock: deadlines that count only working hours.

A ``Clock`` is weekday windows in a time zone (wall-clock, so 09:00 stays 09:00 across daylight
saving) minus holidays; ``add`` is "this many working hours from then", ``elapsed`` the working
time between two instants, ``before`` its inverse. With no schedule set the desk's clock is the
wall clock. Staff may put a coach on their own clock instead: their weekly availability in their
zone, closed in their time off (``clocks_for``). A review counts the clock of the coach who holds
it. Résumé due times, accept windows and the 75 % warning are all ``add`` from the offer, stored
as instants, so the queue's "due" and "overdue" and the escalation compare against that clock;
ages and turnaround in the stats count it with ``elapsed`` and ``before``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from services import localtime
from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    DeskHoliday,
    DeskSchedule,
    Role,
    User,
)

UTC = dt.UTC
# A schedule with an hour a week takes at most ~52 weeks per year of deadline: stop well past it.
MAX_DAYS = 3 * 366
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Window = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class Clock:
    """Working hours: ``hours`` per weekday (0 = Monday) in ``tz``, closed on ``holidays`` and
    during ``off`` (UTC intervals: a coach's time off). ``None`` hours: the wall clock (every
    instant counts)."""

    tz: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))
    hours: Mapping[int, Sequence[Window]] | None = None
    holidays: frozenset[dt.date] = frozenset()
    off: tuple[tuple[dt.datetime, dt.datetime], ...] = ()

    @property
    def wall(self) -> bool:
        return self.hours is None

    def _day(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's working windows as UTC instants, in order, time off cut out."""
        assert self.hours is not None
        if day in self.holidays:
            return []
        out = []
        for start, end in sorted(self.hours.get(day.weekday(), ())):
            s = dt.datetime.combine(day, start, self.tz).astimezone(UTC)
            e = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz)
                if end == dt.time(0)
                else dt.datetime.combine(day, end, self.tz)
            ).astimezone(UTC)
            pieces = [(s, e)] if s < e else []
            for o_start, o_end in self.off:
                pieces = [
                    part
                    for a, b in pieces
                    for part in ((a, min(b, o_start)), (max(a, o_end), b))
                    if part[0] < part[1]
                ]
            out.extend(pieces)
        return out

    def _windows_from(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        day = moment.astimezone(self.tz).date() - dt.timedelta(days=1)
        for _ in range(MAX_DAYS):
            for s, e in self._day(day):
                if e > moment:
                    yield max(s, moment), e
            day += dt.timedelta(days=1)

    def _windows_before(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        day = moment.astimezone(self.tz).date() + dt.timedelta(days=1)
        for _ in range(MAX_DAYS):
            for s, e in reversed(self._day(day)):
                if s < moment:
                    yield s, min(e, moment)
            day -= dt.timedelta(days=1)

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant ``duration`` of working time after ``start``. Raises ValueError if the
        schedule has no working time for years."""
        if self.wall or duration <= dt.timedelta(0):
            return start + duration
        left = duration
        for s, e in self._windows_from(start.astimezone(UTC)):
            if e - s >= left:
                return s + left
            left -= e - s
        raise ValueError("The working hours leave no time for this deadline.")

    def before(self, end: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The latest instant with ``duration`` of working time from it to ``end``: what is
        older than that (in working time) was before it. ``elapsed(before(end, d), end) == d``.
        A schedule with no working time for years answers the earliest instant it looked at."""
        if self.wall or duration <= dt.timedelta(0):
            return end - duration
        left = duration
        earliest = end
        for s, e in self._windows_before(end.astimezone(UTC)):
            if e - s >= left:
                return e - left
            left -= e - s
            earliest = s
        return earliest

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time from ``start`` to ``end``."""
        if end <= start:
            return dt.timedelta(0)
        if self.wall:
            return end - start
        total = dt.timedelta(0)
        for s, e in self._windows_from(start.astimezone(UTC)):
            if s >= end:
                break
            total += min(e, end) - s
        return total


WALL = Clock()


# --- the desk's schedule -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleInput:
    timezone: str
    hours: Mapping[int, Sequence[Window]]
    holidays: Mapping[dt.date, str]
    # The coaches whose own weekly availability is their clock instead (None: left as they are).
    own_hours: frozenset[int] | None = None


def own_clock(
    timezone: str,
    rules: Sequence[tuple[int, dt.time, dt.time]],
    time_off: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> Clock | None:
    """A coach's own clock: their weekly windows in their zone, closed during their time off.
    None when they have no weekly hours (then the desk's clock counts for them)."""
    if not rules:
        return None
    hours: dict[int, list[Window]] = {}
    for weekday, start, end in rules:
        hours.setdefault(weekday, []).append((start, end))
    return Clock(localtime.zone(timezone), hours, frozenset(), tuple(sorted(time_off)))


def clocks_for(coach_ids: Iterable[int]) -> tuple[Clock, dict[int, Clock]]:
    """The desk's clock, and the own clock of each of ``coach_ids`` whom staff put on their own
    weekly availability (and who has some); every other coach counts the desk's. Five queries at
    most, however many coaches."""
    desk = desk_clock()
    wanted = {int(c) for c in coach_ids}
    if not wanted:
        return desk, {}
    own: dict[int, str] = {
        int(coach_id): str(timezone)
        for coach_id, timezone in db.session.execute(
            select(User.id, User.timezone).where(
                User.id.in_(wanted), User.deadlines_own_hours.is_(True)
            )
        )
    }
    if not own:
        return desk, {}
    rules: dict[int, list[tuple[int, dt.time, dt.time]]] = {}
    for coach_id, weekday, start, end in db.session.execute(
        select(
            AvailabilityRule.coach_id,
            AvailabilityRule.weekday,
            AvailabilityRule.start_time,
            AvailabilityRule.end_time,
        ).where(AvailabilityRule.coach_id.in_(own))
    ):
        rules.setdefault(coach_id, []).append((weekday, start, end))
    off: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for coach_id, start, end in db.session.execute(
        select(
            AvailabilityException.coach_id,
            AvailabilityException.start_at,
            AvailabilityException.end_at,
        ).where(AvailabilityException.coach_id.in_(own), AvailabilityException.available.is_(False))
    ):
        off.setdefault(coach_id, []).append((start, end))
    clocks = {}
    for coach_id, timezone in own.items():
        clock = own_clock(timezone, rules.get(coach_id, []), off.get(coach_id, []))
        if clock is not None:
            clocks[coach_id] = clock
    return desk, clocks


def clock_for(coach_id: int | None) -> Clock:
    """The clock of a review held by ``coach_id``: their own week if staff chose it, else the
    desk's (None: nobody holds it, the desk's)."""
    desk, own = clocks_for([coach_id] if coach_id is not None else [])
    return own.get(coach_id, desk) if coach_id is not None else desk


def coaches() -> list[User]:
    """The active coaches, by name, for staff to choose who counts their own week."""
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.name)
        )
    )


def own_hours_coach_ids() -> list[int]:
    """The coaches whose own weekly availability is their deadline clock."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.role == Role.COACH, User.deadlines_own_hours.is_(True))
            .order_by(User.id)
        )
    )


def desk_clock() -> Clock:
    """The desk's clock: its schedule, or the wall clock if staff set none. Two queries."""
    row = db.session.get(DeskSchedule, 1)
    if row is None:
        return WALL
    holidays = frozenset(db.session.scalars(select(DeskHoliday.day)))
    return Clock(localtime.zone(row.timezone), _decode(row.hours), holidays)


def _decode(raw: Mapping[str, object]) -> dict[int, list[Window]]:
    out: dict[int, list[Window]] = {}
    for key, windows in raw.items():
        out[int(key)] = [
            (dt.time.fromisoformat(str(a)), dt.time.fromisoformat(str(b)))
            for a, b in windows  # type: ignore[attr-defined]
        ]
    return out


def get_schedule() -> tuple[DeskSchedule | None, list[DeskHoliday]]:
    holidays = list(db.session.scalars(select(DeskHoliday).order_by(DeskHoliday.day)))
    return db.session.get(DeskSchedule, 1), holidays


def validate(data: ScheduleInput) -> Clock:
    """The clock ``data`` describes. Raises ValidationFailed naming each bad field."""
    errors: dict[str, list[str]] = {}
    tz = zoneinfo.ZoneInfo("UTC")
    try:
        tz = localtime.zone(localtime.check_zone(data.timezone))
    except ValidationFailed as refused:
        errors.update(refused.errors)
    total = 0
    for weekday, windows in data.hours.items():
        if not 0 <= weekday <= 6:
            errors[f"hours.{weekday}"] = ["Use 0 (Monday) to 6 (Sunday)."]
            continue
        ordered = sorted(windows)
        for start, end in ordered:
            if end != dt.time(0) and end <= start:
                errors[f"hours.{weekday}"] = ["Each window's end must be after its start."]
            total += 1
        for (_, a_end), (b_start, _) in itertools.pairwise(ordered):
            if a_end == dt.time(0) or b_start < a_end:
                errors[f"hours.{weekday}"] = [f"Windows on {WEEKDAYS[weekday]} overlap."]
    if not total and "timezone" not in errors:
        errors["hours"] = ["Give at least one working window in the week."]
    for day, name in data.holidays.items():
        if len(name) > 120:
            errors[f"holidays.{day.isoformat()}"] = ["Use at most 120 characters."]
    if data.own_hours is not None:
        coaches = set(
            db.session.scalars(
                select(User.id).where(User.id.in_(data.own_hours), User.role == Role.COACH)
            )
        )
        if unknown := sorted(set(data.own_hours) - coaches):
            errors["own_hours_coach_ids"] = [
                f"Not a coach: {', '.join(str(i) for i in unknown[:5])}."
            ]
    if errors:
        raise ValidationFailed("The working hours are not valid.", errors)
    return Clock(tz, {d: list(w) for d, w in data.hours.items()}, frozenset(data.holidays))


def save_schedule(data: ScheduleInput) -> Clock:
    """Replace the desk's schedule and holidays. Raises ValidationFailed. The caller moves the
    due times that count it (``services.resumes.routing.move_due_times``) and logs the change."""
    clock = validate(data)
    row = db.session.get(DeskSchedule, 1)
    if row is None:
        row = DeskSchedule(id=1, timezone=data.timezone, hours={})
        db.session.add(row)
    row.timezone = data.timezone
    row.hours = {
        str(d): [[a.isoformat("minutes"), b.isoformat("minutes")] for a, b in sorted(w)]
        for d, w in sorted(data.hours.items())
        if w
    }
    row.updated_at = utcnow()
    db.session.execute(delete(DeskHoliday))
    db.session.add_all(DeskHoliday(day=d, name=n.strip()) for d, n in sorted(data.holidays.items()))
    if data.own_hours is not None:
        db.session.execute(
            update(User)
            .where(User.role == Role.COACH)
            .values(deadlines_own_hours=User.id.in_(data.own_hours))
            .execution_options(synchronize_session="fetch")
        )
    db.session.flush()
    return clock
