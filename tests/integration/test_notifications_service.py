"""The notification machinery on a real database (both backends), each test rolled back."""

import datetime as dt
import smtplib
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services import accounts, notifications, outbox
from services.db import utcnow
from services.errors import Forbidden, NotFound, ValidationFailed
from services.models import Delivery, DeliveryStatus, Notification, OutboxEvent
from services.notifications import Message, RetryPolicy


@notifications.handles("test.session_booked")
def _session_booked(payload):
    from services.db import db
    from services.models import User

    learner = db.session.get(User, payload["learner_id"])
    coach = db.session.get(User, payload["coach_id"])
    # What the booking_confirmed template reads, without a real booking behind it.
    session = SimpleNamespace(notes="", interview_type=SimpleNamespace(cancel_cutoff_hours=24))
    messages = [
        Message(
            user=person,
            kind="booking_confirmed",
            title="Session booked",
            body="See you there.",
            link=f"{notifications.base_url()}/dashboard",
            context={
                "booking": session,
                "type_name": "Coding",
                "when": "Mon 1 Jun 2026, 10:00 UTC",
                "other_name": "Someone",
                "learner_name": learner.name,
                "coach_name": coach.name,
                "meeting_url": "https://meet.example.com/x",
                "is_learner": person is learner,
                "locked": False,
                "change_until": "Sun 31 May 2026, 10:00 UTC",
                "cutoff_text": "24 hours",
                "answers": [],
            },
            ics="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
        )
        for person in (learner, coach)
    ]
    return messages + messages[:1]  # a handler naming someone twice still tells them once


@notifications.handles("test.account_event")
def _account_event(payload):
    from services.db import db
    from services.models import User

    user = db.session.get(User, payload["user_id"])
    return [Message(user=user, kind="welcome", title="Hi", body="", link="/")]


def book(db_session, learner, coach):
    event = outbox.record("test.session_booked", learner_id=learner.id, coach_id=coach.id)
    db_session.commit()
    return event


def deliveries_of(db_session, event):
    return db_session.scalars(
        select(Delivery)
        .where(Delivery.dedupe_key.like(f"event:{event.id}:%"))
        .order_by(Delivery.id)
    ).all()


def notifications_of(db_session, event):
    return db_session.scalars(
        select(Notification).where(Notification.dedupe_key.like(f"event:{event.id}:%"))
    ).all()


def test_an_event_fans_out_once_even_when_processed_twice(db_session, make_user):
    learner, coach = make_user("learner"), make_user("coach")
    event = book(db_session, learner, coach)

    assert notifications.fan_out(event.id).made == 2
    db_session.commit()
    assert notifications.fan_out(event.id).made == 0
    db_session.commit()

    assert sorted(n.user_id for n in notifications_of(db_session, event)) == sorted(
        [learner.id, coach.id]
    )
    sent = deliveries_of(db_session, event)
    assert sorted(d.to_address for d in sent) == sorted([learner.email, coach.email])
    assert all(d.status == DeliveryStatus.PENDING and d.ics for d in sent)
    assert all(
        d.subject == "Booked: Coding mock interview with Someone, Mon 1 Jun 2026, 10:00 UTC"
        for d in sent
    )
    assert "http://testserver/dashboard" in sent[0].text_body  # absolute links from BASE_URL
    assert db_session.get(OutboxEvent, event.id).processed_at is not None


def test_email_preferences_are_honoured_per_kind_and_in_app_is_always_on(db_session, make_user):
    learner, coach = make_user("learner"), make_user("coach")
    notifications.set_email_preferences(learner, {"booking_confirmed": False})
    db_session.commit()
    event = book(db_session, learner, coach)

    notifications.fan_out(event.id)
    db_session.commit()

    assert len(notifications_of(db_session, event)) == 2
    assert [d.to_address for d in deliveries_of(db_session, event)] == [coach.email]
    assert notifications.email_preferences(learner)["booking_confirmed"] is False
    assert notifications.email_preferences(learner)["booking_cancelled"] is True
    assert not notifications.email_enabled(learner.id, "booking_confirmed")


def test_a_kind_that_cannot_be_turned_off_is_always_emailed(db_session, make_user):
    learner = make_user("learner")
    event = outbox.record("test.account_event", user_id=learner.id)
    db_session.commit()

    notifications.fan_out(event.id)

    assert [d.kind for d in deliveries_of(db_session, event)] == ["welcome"]
    assert "welcome" not in notifications.email_preferences(learner)
    with pytest.raises(ValidationFailed) as caught:
        notifications.set_email_preferences(learner, {"welcome": False})
    assert "welcome" in caught.value.errors


def test_preferences_offer_each_role_its_own_kinds(db_session, make_user):
    learner, coach, staff = make_user("learner"), make_user("coach"), make_user("staff")

    assert {"booking_confirmed", "resume_reviewed"} <= notifications.email_preferences(
        learner
    ).keys()
    assert "resume_assigned" not in notifications.email_preferences(learner)
    assert "resume_assigned" in notifications.email_preferences(coach)
    assert {"review_overdue", "resume_unassigned"} <= notifications.email_preferences(staff).keys()
    with pytest.raises(ValidationFailed):
        notifications.set_email_preferences(learner, {"resume_assigned": False})
    every_kind = {k.name for k in notifications.kinds()}
    assert {
        "booking_confirmed",
        "booking_cancelled",
        "booking_rescheduled",
        "booking_reminder",
        "resume_assigned",
        "resume_reviewed",
        "review_overdue",
        "resume_unassigned",
    } <= every_kind


def test_staff_recipients_are_the_active_staff(db_session, make_user):
    staff, other_staff, gone = make_user("staff"), make_user("staff"), make_user("staff")
    make_user("coach")
    gone.active = False
    db_session.commit()

    ids = {u.id for u in notifications.staff_recipients()}

    assert {staff.id, other_staff.id} <= ids
    assert gone.id not in ids
    assert all(u.role == "staff" for u in notifications.staff_recipients())


def make_delivery(db_session, user, **fields):
    delivery = Delivery(
        dedupe_key=f"test:{utcnow().timestamp()}:{fields.get('status', 'p')}:{id(fields)}",
        user_id=user.id,
        kind="booking_confirmed",
        to_address=user.email,
        subject="Subject",
        text_body="Body",
        **fields,
    )
    db_session.add(delivery)
    db_session.commit()
    return delivery


def test_a_delivery_is_claimed_once_and_not_before_its_backoff_ends(db_session, make_user):
    user = make_user()
    due = make_delivery(db_session, user)
    waiting = make_delivery(db_session, user, next_attempt_at=utcnow() + dt.timedelta(seconds=60))

    assert notifications.claim_email(due.id) is not None
    assert notifications.claim_email(due.id) is None
    assert notifications.claim_email(waiting.id) is None
    db_session.commit()
    db_session.refresh(due)
    assert (due.status, due.attempts) == (DeliveryStatus.SENDING, 1)


def test_a_failure_backs_off_then_fails_for_good_after_the_last_attempt(db_session, make_user):
    user = make_user()
    delivery = make_delivery(db_session, user)
    policy = RetryPolicy(base_seconds=10, max_seconds=100, max_attempts=2)

    assert notifications.claim_email(delivery.id) is not None
    delay = notifications.record_failure(delivery.id, "451 try later", policy=policy)
    db_session.commit()
    db_session.refresh(delivery)
    assert 5 <= delay <= 10
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at > utcnow() + dt.timedelta(seconds=4)
    assert notifications.claim_email(delivery.id) is None  # still backing off

    delivery.next_attempt_at = utcnow()
    db_session.commit()
    assert notifications.claim_email(delivery.id) is not None
    assert notifications.record_failure(delivery.id, "451 again", policy=policy) is None
    db_session.commit()
    db_session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.FAILED,
        2,
        "451 again",
    )
    assert delivery.failed_at is not None


def test_permanent_smtp_answers_are_not_retried():
    assert notifications.is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no")}))
    assert notifications.is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not notifications.is_permanent(smtplib.SMTPDataError(451, b"later"))
    assert not notifications.is_permanent(smtplib.SMTPServerDisconnected("gone"))
    assert not notifications.is_permanent(ConnectionRefusedError())


def test_the_relay_hands_over_what_is_overdue_once_per_grace_period(db_session, make_user):
    user = make_user()
    long_ago = utcnow() - dt.timedelta(minutes=5)
    stale = OutboxEvent(kind="test.nothing", payload={}, created_at=long_ago)
    fresh = OutboxEvent(kind="test.nothing", payload={})
    done = OutboxEvent(kind="test.nothing", payload={}, created_at=long_ago, processed_at=long_ago)
    db_session.add_all([stale, fresh, done])
    overdue = make_delivery(db_session, user, created_at=long_ago, next_attempt_at=long_ago)
    backing_off = make_delivery(
        db_session, user, created_at=long_ago, next_attempt_at=utcnow() + dt.timedelta(minutes=1)
    )
    sent = make_delivery(
        db_session, user, created_at=long_ago, next_attempt_at=long_ago, status="sent"
    )
    grace = dt.timedelta(seconds=30)

    assert outbox.relay(older_than=grace) >= 2
    db_session.commit()
    for row in (stale, fresh, done, overdue, backing_off, sent):
        db_session.refresh(row)
    assert stale.relayed_at is not None and overdue.relayed_at is not None
    assert fresh.relayed_at is done.relayed_at is backing_off.relayed_at is sent.relayed_at is None

    # Run again at once: nothing is handed over twice within the grace period.
    assert outbox.relay(older_than=grace) == 0
    db_session.commit()

    # A grace period later, what is still not done is handed over once more.
    stale.relayed_at = overdue.relayed_at = utcnow() - dt.timedelta(minutes=1)
    db_session.commit()
    assert outbox.relay(older_than=grace) == 2


def test_deliveries_stuck_in_sending_are_failed_for_staff_never_resent(db_session, make_user):
    user = make_user()
    stuck = make_delivery(
        db_session, user, status="sending", claimed_at=utcnow() - dt.timedelta(minutes=10)
    )
    busy = make_delivery(db_session, user, status="sending", claimed_at=utcnow())

    assert notifications.fail_stuck(dt.timedelta(minutes=6)) == 1
    assert notifications.fail_stuck(dt.timedelta(minutes=6)) == 0
    db_session.commit()
    db_session.refresh(stuck)
    db_session.refresh(busy)
    assert stuck.status == DeliveryStatus.FAILED
    assert "may or may not have gone out" in stuck.last_error
    assert busy.status == DeliveryStatus.SENDING
    outbox.relay(older_than=dt.timedelta(0))
    db_session.commit()
    db_session.refresh(stuck)
    assert stuck.relayed_at is None  # the relay never hands over what may have been sent


def test_staff_retry_a_failed_delivery_once(db_session, make_user):
    staff, learner = make_user("staff"), make_user("learner")
    failed = make_delivery(db_session, learner, status="failed", attempts=8, last_error="451")
    sent = make_delivery(db_session, learner, status="sent")

    retried = notifications.retry_delivery(staff, failed.id)
    db_session.commit()

    assert (retried.status, retried.attempts, retried.retried_by_id) == ("pending", 0, staff.id)
    assert retried.next_attempt_at <= utcnow()
    with pytest.raises(notifications.DeliveryNotFailed):
        notifications.retry_delivery(staff, failed.id)
    with pytest.raises(notifications.DeliveryNotFailed):
        notifications.retry_delivery(staff, sent.id)
    with pytest.raises(NotFound):
        notifications.retry_delivery(staff, 10**9)
    with pytest.raises(Forbidden):
        notifications.retry_delivery(learner, failed.id)


def test_welcome_on_sign_up_goes_through_the_same_machinery(db_session):
    user = accounts.register_learner(
        accounts.Registration(name="Pat", email="pat@example.com", password="long enough pw")
    )
    db_session.commit()
    event = db_session.scalar(
        select(OutboxEvent).where(OutboxEvent.payload["user_id"].as_integer() == user.id)
    )

    notifications.fan_out(event.id)
    db_session.commit()

    [delivery] = deliveries_of(db_session, event)
    assert (delivery.kind, delivery.to_address) == ("welcome", "pat@example.com")
    assert notifications.unread_count(user.id) == 1


def test_the_first_email_of_an_event_is_claimed_for_its_own_task_the_rest_are_queued(
    db_session, make_user
):
    learner, coach = make_user("learner"), make_user("coach")
    event = book(db_session, learner, coach)

    result = notifications.fan_out(event.id, send_now_max=1)
    db_session.commit()

    [first, second] = deliveries_of(db_session, event)
    assert result.made == 2
    assert result.send_now == (first.id,) and result.queued == (second.id,)
    assert (first.status, first.attempts, first.claimed_at is not None) == ("sending", 1, True)
    assert (second.status, second.attempts) == ("pending", 0)
    assert notifications.claim_email(first.id) is None  # already this task's
    assert notifications.fan_out(event.id, send_now_max=1) == notifications.FanOut()
