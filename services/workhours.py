"""The desk's working-hours clock: deadlines that count only working hours.

A ``Clock`` is weekday windows in a time zone (wall-clock, so 09:00 stays 09:00 across daylight
saving) minus holidays; ``add`` is "this many working hours from then", ``elapsed`` the working
time between two instants. With no schedule set the clock is the wall clock. Résumé due times,
accept windows and the 75 % warning are all ``add`` from the offer, stored as instants, so the
queue's "due" and "overdue", the escalation and the stats compare against the same clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from services import localtime
from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import DeskHoliday, DeskSchedule

UTC = dt.UTC
# A schedule with an hour a week takes at most ~52 weeks per year of deadline: stop well past it.
MAX_DAYS = 3 * 366
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Window = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class Clock:
    """Working hours: ``hours`` per weekday (0 = Monday) in ``tz``, closed on ``holidays``.
    ``None`` hours: the wall clock (every instant counts)."""

    tz: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))
    hours: Mapping[int, Sequence[Window]] | None = None
    holidays: frozenset[dt.date] = frozenset()

    @property
    def wall(self) -> bool:
        return self.hours is None

    def _windows_from(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        assert self.hours is not None
        day = moment.astimezone(self.tz).date() - dt.timedelta(days=1)
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for start, end in sorted(self.hours.get(day.weekday(), ())):
                    s = dt.datetime.combine(day, start, self.tz).astimezone(UTC)
                    e = (
                        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz)
                        if end == dt.time(0)
                        else dt.datetime.combine(day, end, self.tz)
                    ).astimezone(UTC)
                    if e > moment and s < e:
                        yield max(s, moment), e
            day += dt.timedelta(days=1)

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
    db.session.flush()
    return clock
