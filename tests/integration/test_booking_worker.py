"""Across processes: a real Celery worker sends booking emails (with .ics) and reminders once."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import flush_dispatch
from tests.support_booking import at, future_weekday

pytestmark = pytest.mark.worker


def setup_people(app: Any) -> dict[str, Any]:
    from services import accounts
    from services.booking import interview_types
    from services.db import db
    from services.models import AvailabilityRule

    with app.app_context():
        interview_types.ensure_defaults()
        suffix = uuid.uuid4().hex[:6]
        coach = accounts.create_user(
            email=f"coach-{suffix}@example.com",
            password="correct horse battery",
            role="coach",
            name="Worker Coach",
            timezone="Europe/Berlin",
            expertise=["python"],
        )
        for weekday in range(7):
            db.session.add(
                AvailabilityRule(
                    coach_id=coach.id, weekday=weekday, start_time=dt.time(0), end_time=dt.time(23)
                )
            )
        learner = accounts.create_user(
            email=f"learner-{suffix}@example.com",
            password="correct horse battery",
            role="learner",
            name="Worker Learner",
            timezone="America/New_York",
        )
        secret, _ = accounts.issue_token(learner, dt.timedelta(hours=1))
        db.session.commit()
        people = {
            "coach_id": coach.id,
            "coach_email": coach.email,
            "learner_id": learner.id,
            "learner_email": learner.email,
            "token": secret,
        }
        db.session.remove()
        return people


def nothing_pending(app: Any) -> bool:
    from services.db import db
    from services.models import Delivery, OutboxEvent

    with app.app_context():
        busy = db.session.scalar(
            select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None)).limit(1)
        ) or db.session.scalar(
            select(Delivery.id).where(Delivery.status.in_(("pending", "sending"))).limit(1)
        )
        db.session.remove()
        return busy is None


def calendar_part(message: Any) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no text/calendar part")


def test_booking_emails_carry_an_invitation_and_reminders_go_once(
    live_app, live_client, smtp_server, start_worker
):
    from services import booking as booking_service
    from services.db import db
    from services.models import Booking, Delivery

    mailbox, port = smtp_server
    people = setup_people(live_app)
    start = at(future_weekday(3), 10)
    response = live_client.post(
        "/api/v1/bookings",
        json={"type": "coding", "start": start.isoformat()},
        headers={"Authorization": f"Bearer {people['token']}"},
    )
    assert response.status_code == 201, response.json
    booking_id = response.json["id"]
    flush_dispatch(live_app)
    worker = start_worker(mail_port=port)

    addresses = {people["learner_email"], people["coach_email"]}
    mailbox.wait_for(lambda ms: addresses <= {m["To"] for m in ms})
    for message in mailbox.messages:
        if message["To"] not in addresses:
            continue
        assert message["Subject"].startswith("Booked: Coding")
        calendar = calendar_part(message)
        event = next(iter(calendar.walk("VEVENT")))
        assert str(calendar["METHOD"]) == "REQUEST"
        assert event.decoded("DTSTART") == start
        assert int(event["SEQUENCE"]) == 0

    # A session 50 minutes away: the reminder scan, run twice, reminds each person once.
    with live_app.app_context():
        soon = Booking(
            uid=f"soon-{uuid.uuid4()}@test",
            learner_id=people["learner_id"],
            coach_id=people["coach_id"],
            interview_type_id=db.session.get(Booking, booking_id).interview_type_id,
            start_at=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=50),
            end_at=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=95),
            block_start_at=dt.datetime.now(dt.UTC).replace(microsecond=0)
            + dt.timedelta(minutes=50),
            block_end_at=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=110),
            meeting_url="https://meet.jit.si/CareerServices-soon",
        )
        db.session.add(soon)
        db.session.commit()
        soon_id = soon.id
        db.session.remove()
    # Two messages with no outbox row behind them: the scan itself must be safe twice.
    broker = live_app.extensions["outbox.dispatcher"].celery
    broker.send_task("bookings.send_reminders")
    broker.send_task("bookings.send_reminders")

    def reminders() -> list[Any]:
        return [m for m in mailbox.messages if m["Subject"].startswith("Reminder:")]

    mailbox.wait_for(lambda _: len(reminders()) >= 2)
    # Both scans have finished, and everything they queued has been handed out.
    mailbox.wait_for(
        lambda _: (
            sum(
                "bookings.send_reminders[" in line and "succeeded" in line
                for line in worker.log().splitlines()
            )
            >= 2
        )
    )
    mailbox.wait_for(lambda _: nothing_pending(live_app))
    with live_app.app_context():
        rows = db.session.scalars(select(Delivery).where(Delivery.kind == "booking_reminder")).all()
        assert sorted(d.to_address for d in rows) == sorted(addresses)
        assert db.session.get(Booking, soon_id).reminder_1h_at is not None
        # Once more, now that it is all sent: nothing new is due.
        assert booking_service.queue_reminders() == 0
        db.session.rollback()
        db.session.remove()
    assert sorted(m["To"] for m in reminders()) == sorted(addresses)
    assert all("in 1 hour" in m["Subject"] for m in reminders())
