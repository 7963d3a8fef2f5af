"""What slot search (and a booking's placement) reads of interview types and coaches' calendars,
kept per process.

Interview types, who runs them, weekly hours, time off and extra hours, daily caps and the busy
times of coaches' own calendars change a few times a day; slot searches read them many times a
second. Each process keeps them (filled as searches ask) under the token of ``calendars_version``
that it read them at, and a search costs one indexed read of that token instead of six queries.

Whoever changes one of those facts, by the ORM or by a bulk statement through the session, marks
the session (services.db.ChangeWatch), and its commit replaces the token with a new
random one as its last statement (``before_commit``), so every process reads them afresh. A
session holding such changes uncommitted reads through, and so sees its own writes. Bookings and a
learner's own sessions change with every booking: they are never kept here (``load_calendars``
reads them each time).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, event, inspect, select, update
from sqlalchemy.orm import Session

from services.booking.interview_types import offered_by
from services.db import ChangeWatch, db, fast_rows, is_change, utcnow
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    CalendarFeed,
    CalendarsVersion,
    CoachBookingSettings,
    CoachInterviewType,
    FeedBusy,
    InterviewType,
    Role,
    User,
)

# Reloaded at least this often, so what a process keeps does not reach ever further back.
MAX_AGE = dt.timedelta(hours=1)
# Time off, extra hours and busy times are kept from this long before the process read them: a
# search reaches a day before its range, and its range starts today at the earliest.
KEPT_BEFORE = dt.timedelta(days=2)

# Slot searches' answers kept under one token, at most (each a few hundred slots).
MAX_ANSWERS = 64

_WATCHED: tuple[type[Any], ...] = (
    InterviewType,
    CoachInterviewType,
    AvailabilityRule,
    AvailabilityException,
    FeedBusy,
)
# Of these, only the columns slot search reads.
_COLUMNS: dict[type[Any], tuple[str, ...]] = {
    User: ("role", "active", "timezone", "name"),
    CoachBookingSettings: ("daily_session_cap", "runs_all_types"),
    CalendarFeed: ("name", "coach_id", "last_success_at"),
}


@dataclass(frozen=True)
class TypeFacts:
    """An active interview type as slot search reads it."""

    id: int
    slug: str
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_hours: int
    horizon_days: int


@dataclass(frozen=True)
class CoachFacts:
    """An active coach as slot search reads them."""

    id: int
    name: str
    timezone: str


@dataclass
class CoachHours:
    """One coach's weekly rules, time off and extra hours, daily cap (None: the default) and
    calendar busy times (with each feed's name and last good read), since ``Snapshot.since``."""

    rules: list[tuple[int, dt.time, dt.time]] = field(default_factory=list)
    exceptions: list[tuple[dt.datetime, dt.datetime, bool]] = field(default_factory=list)
    cap: int | None = None
    busy: list[tuple[dt.datetime, dt.datetime, str, dt.datetime | None]] = field(
        default_factory=list
    )


_TYPE_FIELDS = (
    InterviewType.id,
    InterviewType.slug,
    InterviewType.name,
    InterviewType.duration_minutes,
    InterviewType.buffer_before_minutes,
    InterviewType.buffer_after_minutes,
    InterviewType.min_notice_hours,
    InterviewType.horizon_days,
)


def type_facts(slug: str) -> TypeFacts | None:
    """The active interview type ``slug``, read now (one query)."""
    row = db.session.execute(
        select(*_TYPE_FIELDS).where(InterviewType.slug == slug, InterviewType.active.is_(True))
    ).first()
    return TypeFacts(*row) if row is not None else None


class Snapshot:
    """The facts one process keeps under one token, filled as searches ask for them."""

    def __init__(self, key: tuple[str, int], now: dt.datetime) -> None:
        self.key = key
        self.loaded_at = now
        self.since = now - KEPT_BEFORE
        self._types: dict[str, TypeFacts | None] = {}
        self._coaches: dict[int, tuple[CoachFacts, ...]] = {}
        self._hours: dict[int, CoachHours] = {}
        self._lock = threading.Lock()  # one thread fills a part; the others wait for it
        self._answers: dict[Any, Any] = {}

    def answer(self, key: Any) -> Any:
        """What ``remember`` kept under ``key`` (a slot search's coach side), or None."""
        return self._answers.get(key)

    def remember(self, key: Any, value: Any) -> None:
        if len(self._answers) >= MAX_ANSWERS:
            self._answers.clear()  # a bounded memory; the next searches fill it again
        self._answers[key] = value

    def covers(self, utc_from: dt.datetime) -> bool:
        """Whether the hours kept reach back far enough for a search from ``utc_from`` (which
        reads from a day before it)."""
        return utc_from - dt.timedelta(days=1) >= self.since

    def interview_type(self, slug: str) -> TypeFacts | None:
        if slug not in self._types:
            with self._lock:
                if slug not in self._types:
                    self._types[slug] = type_facts(slug)
        return self._types[slug]

    def coaches(self, type_id: int) -> tuple[CoachFacts, ...]:
        """The active coaches who run the type, by id."""
        if type_id not in self._coaches:
            with self._lock:
                if type_id not in self._coaches:
                    rows = db.session.execute(
                        select(User.id, User.name, User.timezone)
                        .where(offered_by(type_id))
                        .order_by(User.id)
                    )
                    self._coaches[type_id] = tuple(CoachFacts(*row) for row in rows)
        return self._coaches[type_id]

    def hours(self, coach_ids: list[int]) -> dict[int, CoachHours]:
        """Each coach's hours (four queries for those not read yet, however many)."""
        missing = [i for i in coach_ids if i not in self._hours]
        if missing:
            with self._lock:
                missing = [i for i in coach_ids if i not in self._hours]
                if missing:
                    self._hours.update(read_hours(missing, self.since))
        return {i: self._hours[i] for i in coach_ids}


def read_hours(ids: list[int], since: dt.datetime) -> dict[int, CoachHours]:
    """Each coach's hours, with time off, extra hours and busy times that end after ``since``:
    four queries, however many coaches."""
    found = {i: CoachHours() for i in ids}
    session = db.session
    for coach_id, weekday, start, end in session.execute(
        select(
            AvailabilityRule.coach_id,
            AvailabilityRule.weekday,
            AvailabilityRule.start_time,
            AvailabilityRule.end_time,
        ).where(AvailabilityRule.coach_id.in_(ids))
    ):
        found[coach_id].rules.append((weekday, start, end))
    for coach_id, start_at, end_at, available in session.execute(
        select(
            AvailabilityException.coach_id,
            AvailabilityException.start_at,
            AvailabilityException.end_at,
            AvailabilityException.available,
        ).where(AvailabilityException.coach_id.in_(ids), AvailabilityException.end_at > since)
    ):
        found[coach_id].exceptions.append((start_at, end_at, available))
    for coach_id, cap in session.execute(
        select(CoachBookingSettings.coach_id, CoachBookingSettings.daily_session_cap).where(
            CoachBookingSettings.coach_id.in_(ids),
            CoachBookingSettings.daily_session_cap.is_not(None),
        )
    ):
        found[coach_id].cap = cap
    for coach_id, start_at, end_at, name, last_success in session.execute(
        select(
            FeedBusy.coach_id,
            FeedBusy.start_at,
            FeedBusy.end_at,
            CalendarFeed.name,
            CalendarFeed.last_success_at,
        )
        .join(CalendarFeed, CalendarFeed.id == FeedBusy.feed_id)
        .where(FeedBusy.coach_id.in_(ids), FeedBusy.end_at > since)
    ):
        found[coach_id].busy.append((start_at, end_at, name, last_success))
    return found


_TOKEN = select(CalendarsVersion.token).where(CalendarsVersion.id == 1)
_BUMP = update(CalendarsVersion).where(CalendarsVersion.id == 1).values(token=bindparam("token"))
_kept: dict[str, Snapshot] = {}  # by database


def current() -> Snapshot | None:
    """The facts as of now, for this process: one indexed read of the token (the facts are read
    after it, so they are never older than it). None where the session holds uncommitted changes
    to them, or the database has no token: then the caller reads through."""
    session = db.session()
    if _CHANGES.pending(session):
        return None
    rows = fast_rows(_TOKEN)
    if not rows:
        return None
    bind = session.get_bind()
    database = str(bind.engine.url if isinstance(bind, Connection) else bind.url)
    key = (database, int(rows[0][0]))
    now = utcnow()
    kept = _kept.get(database)
    if kept is None or kept.key != key or now - kept.loaded_at > MAX_AGE:
        kept = _kept[database] = Snapshot(key, now)
    return kept


# --- who changes them --------------------------------------------------------------------------


def _changes_facts(session: Session, obj: Any) -> bool:
    if isinstance(obj, _WATCHED):
        return is_change(session, obj)
    columns = _COLUMNS.get(type(obj))
    if columns is None:
        return False
    if isinstance(obj, User) and (obj in session.new or obj in session.deleted):
        return bool(obj.role == Role.COACH)
    if obj in session.new or obj in session.deleted:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns)


_CHANGES = ChangeWatch("calendars", (*_WATCHED, *_COLUMNS), _changes_facts)


@event.listens_for(Session, "before_commit")
def _replace_token(session: Session) -> None:
    """The commit's last statement: a new token, if this transaction changed the facts. It locks
    the one row only from here to the commit, so writers do not queue behind each other."""
    session.flush()  # what is still pending may change them
    if _CHANGES.pending(session):
        session.connection().execute(_BUMP, {"token": secrets.randbits(62)})
