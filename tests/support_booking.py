"""Helpers for the booking tests: coaches with availability, learners, tokens, future slots."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from typing import Any

ALL_TAGS = ("ml", "python", "behavioral", "algorithms", "mlops", "system-design")
PASSWORD = "correct horse battery"


def seed_types() -> None:
    from services.booking import interview_types
    from services.db import db

    interview_types.ensure_defaults()
    db.session.commit()


def add_rules(
    coach_id: int,
    *,
    start: dt.time = dt.time(9),
    end: dt.time = dt.time(17),
    weekdays: Iterable[int] = range(5),
) -> None:
    from services.db import db
    from services.models import AvailabilityRule

    for weekday in weekdays:
        db.session.add(
            AvailabilityRule(coach_id=coach_id, weekday=weekday, start_time=start, end_time=end)
        )
    db.session.commit()


def extra_hours(coach_id: int, start: dt.datetime, minutes: int = 45) -> None:
    """A one-off window of hours for the coach (an interview's length by default): with no weekly
    hours, exactly one slot. Added to the session, not committed."""
    from services.db import db
    from services.models import AvailabilityException

    db.session.add(
        AvailabilityException(
            coach_id=coach_id,
            start_at=start,
            end_at=start + dt.timedelta(minutes=minutes),
            available=True,
        )
    )


def make_coach(make_user: Any, tz: str = "UTC", **kwargs: Any) -> Any:
    expertise = kwargs.pop("expertise", list(ALL_TAGS))
    rules = {k: kwargs.pop(k) for k in ("start", "end", "weekdays") if k in kwargs}
    coach = make_user("coach", timezone=tz, expertise=expertise, **kwargs)
    add_rules(coach.id, **rules)
    return coach


def future_weekday(days_ahead: int = 3, tz: str = "UTC") -> dt.date:
    """A Monday-to-Friday at least ``days_ahead`` days from today (in ``tz``)."""
    day = dt.datetime.now(zoneinfo.ZoneInfo(tz)).date() + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def at(day: dt.date, hour: int, minute: int = 0, tz: str = "UTC") -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), zoneinfo.ZoneInfo(tz))


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def book(client: Any, token: str, start: dt.datetime, type_: str = "coding", **extra: Any) -> Any:
    headers = auth(token)
    if "key" in extra:
        headers["Idempotency-Key"] = extra.pop("key")
    return client.post(
        "/api/v1/bookings", json={"type": type_, "start": iso(start), **extra}, headers=headers
    )


def events(kind: str) -> list[Any]:
    """Outbox events of ``kind`` in this test's transaction, oldest first."""
    from sqlalchemy import select

    from services.db import db
    from services.models import OutboxEvent

    return list(
        db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id)
        )
    )


def process_all() -> None:
    """Fan every pending outbox event out to notifications and deliveries, in this transaction."""
    from sqlalchemy import select

    from services import notifications
    from services.db import db
    from services.models import OutboxEvent

    for event_id in db.session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None)).order_by(OutboxEvent.id)
    ).all():
        notifications.fan_out(event_id)
    db.session.commit()


def insert_booking(
    learner_id: int,
    coach_id: int,
    start: dt.datetime,
    type_: str = "coding",
    status: str = "confirmed",
) -> Any:
    """A booking row as it would stand (e.g. a session in the past), without the service."""
    import uuid

    from sqlalchemy import select

    from services.db import db
    from services.models import Booking, InterviewType

    itype = db.session.scalar(select(InterviewType).where(InterviewType.slug == type_))
    duration = dt.timedelta(minutes=itype.duration_minutes)
    booking = Booking(
        uid=f"test-{uuid.uuid4()}@example.com",
        learner_id=learner_id,
        coach_id=coach_id,
        interview_type_id=itype.id,
        start_at=start,
        end_at=start + duration,
        block_start_at=start - dt.timedelta(minutes=itype.buffer_before_minutes),
        block_end_at=start + duration + dt.timedelta(minutes=itype.buffer_after_minutes),
        status=status,
        meeting_url="https://meet.jit.si/CareerServices-test",
    )
    db.session.add(booking)
    db.session.commit()
    return booking
