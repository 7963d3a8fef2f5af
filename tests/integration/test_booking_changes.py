"""Cancel and reschedule within the policy, .ics files, emails with invitations, reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar
from sqlalchemy import select

from services import audit, localtime
from services import booking as booking_service
from services.booking import availability
from services.db import db, utcnow
from services.models import Booking, Delivery, InterviewType
from tests.support_booking import (
    at,
    auth,
    book,
    events,
    future_weekday,
    iso,
    make_coach,
    process_all,
    seed_types,
)


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, "Europe/Berlin", name="Casey Coach")
    learner = make_user("learner", timezone="America/New_York", name="Lee Learner")
    return {
        "coach": coach,
        "learner": learner,
        "token": token_for(learner),
        "coach_token": token_for(coach),
        "staff_token": token_for(make_user("staff")),
        "day": future_weekday(4, "Europe/Berlin"),
    }


def berlin(day, hour, minute=0):
    return at(day, hour, minute, "Europe/Berlin")


@pytest.fixture
def soon(client, world, make_user):
    """A booking inside the 24-hour cancellation cutoff (a coach who works around the clock)."""
    night_owl = make_coach(
        make_user, "UTC", start=dt.time(0), end=dt.time(23, 59), weekdays=range(7)
    )
    start = availability.grid_ceil(utcnow() + dt.timedelta(hours=12, minutes=30), 30)
    response = book(client, world["token"], start, coach_id=night_owl.id)
    assert response.status_code == 201, response.json
    return response.json


def ics(text):
    calendar = Calendar.from_ical(text)
    event = next(iter(calendar.walk("VEVENT")))
    return calendar, event


# --- cancel --------------------------------------------------------------------------------------


def test_the_owner_cancels_and_the_booking_says_so(client, world):
    booking = book(client, world["token"], berlin(world["day"], 10)).json
    response = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "Got the job already"},
        headers=auth(world["token"]),
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "cancelled"
    assert response.json["cancel_reason"] == "Got the job already"
    # Cancelling again changes nothing and is not an error.
    again = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(world["token"])
    )
    assert again.status_code == 200
    assert len(events("booking.cancelled")) == 1
    # The slot is free again.
    slots = client.get(
        f"/api/v1/slots?type=coding&start={world['day']}&end={world['day']}&tz=Europe/Berlin",
        headers=auth(world["token"]),
    ).json["slots"]
    assert iso(berlin(world["day"], 10)) in [s["start"] for s in slots]


def test_a_cancel_without_a_body_works(client, world):
    booking = book(client, world["token"], berlin(world["day"], 10)).json
    response = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=auth(world["coach_token"])
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "cancelled"


def test_inside_the_cutoff_cancel_is_409_but_staff_may_override(client, world, soon):
    url = f"/api/v1/bookings/{soon['id']}/cancel"
    response = client.post(url, json={}, headers=auth(world["token"]))
    assert response.status_code == 409
    assert response.json["code"] == "too_late_to_cancel"
    assert "24 hours" in response.json["detail"]
    assert db.session.get(Booking, soon["id"]).status == "confirmed"
    response = client.post(url, json={"reason": "coach ill"}, headers=auth(world["staff_token"]))
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["history"][-1]["event"] == "cancelled"


def test_a_finished_session_cannot_be_cancelled(client, world):
    booking = book(client, world["token"], berlin(world["day"], 10)).json
    row = db.session.get(Booking, booking["id"])
    row.status = "completed"
    db.session.commit()
    response = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(world["token"])
    )
    assert response.status_code == 409
    assert response.json["code"] == "invalid_state"


# --- reschedule ----------------------------------------------------------------------------------


def reschedule(client, token, booking_id, start, **extra):
    return client.post(
        f"/api/v1/bookings/{booking_id}/reschedule",
        json={"start": iso(start), **extra},
        headers=auth(token),
    )


def test_reschedule_moves_the_same_booking_and_frees_the_old_slot(client, world):
    day = world["day"]
    booking = book(client, world["token"], berlin(day, 10)).json
    # Half an hour later overlaps its own old time: allowed, it is the same booking.
    response = reschedule(client, world["token"], booking["id"], berlin(day, 10, 30))
    assert response.status_code == 200, response.json
    assert response.json["id"] == booking["id"]
    assert dt.datetime.fromisoformat(response.json["start"]) == berlin(day, 10, 30)
    assert response.json["reschedule_count"] == 1
    response = reschedule(client, world["token"], booking["id"], berlin(day, 14))
    assert response.status_code == 200
    slots = client.get(
        f"/api/v1/slots?type=coding&start={day}&end={day}&tz=Europe/Berlin",
        headers=auth(world["token"]),
    ).json["slots"]
    starts = [s["start"] for s in slots]
    assert iso(berlin(day, 10)) in starts
    assert iso(berlin(day, 14)) not in starts


def test_reschedule_is_atomic_a_taken_slot_keeps_the_old_time(client, world, make_user, token_for):
    day = world["day"]
    mine = book(client, world["token"], berlin(day, 10)).json
    other = token_for(make_user("learner"))
    assert book(client, other, berlin(day, 13)).status_code == 201
    response = reschedule(client, world["token"], mine["id"], berlin(day, 13))
    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"
    row = db.session.get(Booking, mine["id"])
    db.session.refresh(row)
    assert row.start_at == berlin(day, 10)
    assert row.status == "confirmed"
    assert row.reschedule_count == 0
    # Nobody can take the old slot meanwhile: it is still held by the booking.
    assert book(client, other, berlin(day, 10)).status_code == 409


def test_a_learner_reschedules_at_most_twice_staff_may_override(client, world):
    day = world["day"]
    booking = book(client, world["token"], berlin(day, 9)).json
    for hour in (10, 11):
        assert (
            reschedule(client, world["token"], booking["id"], berlin(day, hour)).status_code == 200
        )
    third = reschedule(client, world["token"], booking["id"], berlin(day, 12))
    assert third.status_code == 409
    assert third.json["code"] == "reschedule_limit_reached"
    staff = reschedule(client, world["staff_token"], booking["id"], berlin(day, 12))
    assert staff.status_code == 200
    assert staff.json["reschedule_count"] == 3


def test_reschedule_inside_the_cutoff_is_refused(client, world, soon):
    later = dt.datetime.fromisoformat(soon["start"]) + dt.timedelta(days=1)
    response = reschedule(client, world["token"], soon["id"], later)
    assert response.status_code == 409
    assert response.json["code"] == "too_late_to_reschedule"


def test_coaches_cannot_reschedule_and_strangers_get_404(client, world, make_user, token_for):
    booking = book(client, world["token"], berlin(world["day"], 10)).json
    target = berlin(world["day"], 15)
    assert reschedule(client, world["coach_token"], booking["id"], target).status_code == 403
    stranger = token_for(make_user("learner"))
    assert reschedule(client, stranger, booking["id"], target).status_code == 404


def test_reschedule_validates_the_new_time(client, world):
    booking = book(client, world["token"], berlin(world["day"], 10)).json
    response = reschedule(client, world["token"], booking["id"], berlin(world["day"], 10, 10))
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    response = reschedule(client, world["token"], booking["id"], berlin(world["day"], 10))
    assert response.status_code == 422  # that is the current time


# --- .ics ----------------------------------------------------------------------------------------


def test_the_ics_keeps_its_uid_and_raises_its_sequence(client, world):
    day = world["day"]
    booking = book(client, world["token"], berlin(day, 10)).json
    url = f"/api/v1/bookings/{booking['id']}/ics"
    first = client.get(url, headers=auth(world["token"]))
    assert first.status_code == 200
    assert first.mimetype == "text/calendar"
    assert "attachment" in first.headers["Content-Disposition"]
    calendar, event = ics(first.data)
    uid = str(event["UID"])
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == berlin(day, 10)
    assert event.decoded("DTEND") == berlin(day, 10, 45)
    assert booking["meeting_url"] in str(event["LOCATION"])
    reschedule(client, world["token"], booking["id"], berlin(day, 11))
    _, moved = ics(client.get(url, headers=auth(world["coach_token"])).data)
    assert str(moved["UID"]) == uid
    assert int(moved["SEQUENCE"]) == 1
    assert moved.decoded("DTSTART") == berlin(day, 11)
    client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(world["token"]))
    calendar, gone = ics(client.get(url, headers=auth(world["staff_token"])).data)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(gone["STATUS"]) == "CANCELLED"
    assert str(gone["UID"]) == uid
    assert int(gone["SEQUENCE"]) == 2


# --- emails --------------------------------------------------------------------------------------


def deliveries(kind):
    return list(
        db.session.scalars(select(Delivery).where(Delivery.kind == kind).order_by(Delivery.id))
    )


def test_confirmation_reschedule_and_cancel_emails_carry_one_evolving_event(client, world):
    day = world["day"]
    booking = book(client, world["token"], berlin(day, 10)).json
    process_all()
    confirmed = deliveries("booking_confirmed")
    assert sorted(d.to_address for d in confirmed) == sorted(
        [world["learner"].email, world["coach"].email]
    )
    for delivery in confirmed:
        calendar, event = ics(delivery.ics)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert int(event["SEQUENCE"]) == 0
    uid = str(ics(confirmed[0].ics)[1]["UID"])
    learner_mail = next(d for d in confirmed if d.to_address == world["learner"].email)
    # The learner reads New York time, the coach Berlin time.
    assert "America/New York" in learner_mail.text_body
    assert booking["meeting_url"] in learner_mail.text_body
    coach_mail = next(d for d in confirmed if d.to_address == world["coach"].email)
    assert "10:00 CET" in coach_mail.text_body or "10:00 CEST" in coach_mail.text_body

    reschedule(client, world["token"], booking["id"], berlin(day, 11))
    client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(world["token"]))
    process_all()
    moved = deliveries("booking_rescheduled")
    cancelled = deliveries("booking_cancelled")
    assert len(moved) == len(cancelled) == 2
    for delivery in moved:
        calendar, event = ics(delivery.ics)
        assert (str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == (
            "REQUEST",
            uid,
            1,
        )
        assert event.decoded("DTSTART") == berlin(day, 11)
    for delivery in cancelled:
        calendar, event = ics(delivery.ics)
        assert (str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == (
            "CANCEL",
            uid,
            2,
        )
    # In-app too, for both.
    from services.models import Notification

    kinds = db.session.scalars(
        select(Notification.kind).where(Notification.user_id == world["learner"].id)
    ).all()
    assert {"booking_confirmed", "booking_rescheduled", "booking_cancelled"} <= set(kinds)


def test_moving_to_another_coach_cancels_the_first_coachs_event(client, world, make_user):
    day = world["day"]
    other = make_coach(make_user, "Europe/Berlin", name="Other Coach")
    booking = book(client, world["token"], berlin(day, 10), coach_id=world["coach"].id).json
    response = reschedule(client, world["token"], booking["id"], berlin(day, 10), coach_id=other.id)
    assert response.status_code == 200, response.json
    assert response.json["coach"]["id"] == other.id
    process_all()
    to_first = [d for d in deliveries("booking_cancelled") if d.to_address == world["coach"].email]
    assert len(to_first) == 1
    assert str(ics(to_first[0].ics)[0]["METHOD"]) == "CANCEL"
    to_other = [d for d in deliveries("booking_rescheduled") if d.to_address == other.email]
    assert len(to_other) == 1


# --- reminders -----------------------------------------------------------------------------------


def reminder_leads():
    return [(e.payload["booking_id"], e.payload["lead"]) for e in events("booking.reminder")]


def test_reminders_go_24h_and_1h_before_each_once(client, world):
    start = berlin(world["day"], 10)
    booking = book(client, world["token"], start).json
    assert booking_service.queue_reminders(now=start - dt.timedelta(hours=30)) == 0
    assert booking_service.queue_reminders(now=start - dt.timedelta(hours=23)) == 1
    assert booking_service.queue_reminders(now=start - dt.timedelta(hours=22)) == 0  # ran twice
    assert booking_service.queue_reminders(now=start - dt.timedelta(minutes=50)) == 1
    assert booking_service.queue_reminders(now=start - dt.timedelta(minutes=40)) == 0
    db.session.commit()
    assert reminder_leads() == [(booking["id"], "24h"), (booking["id"], "1h")]
    process_all()
    reminders = deliveries("booking_reminder")
    assert len(reminders) == 4  # learner and coach, twice
    assert any("in 1 hour" in d.subject for d in reminders)


def test_no_reminder_for_a_cancelled_booking(client, world):
    start = berlin(world["day"], 10)
    booking = book(client, world["token"], start).json
    client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(world["token"]))
    assert booking_service.queue_reminders(now=start - dt.timedelta(hours=23)) == 0
    assert booking_service.queue_reminders(now=start - dt.timedelta(minutes=30)) == 0


def test_a_reschedule_rearms_the_reminders_for_the_new_time(client, world):
    day = world["day"]
    start = berlin(day, 10)
    booking = book(client, world["token"], start).json
    # The 24 h reminder for the old time went out (scan at a pretended moment)...
    assert booking_service.queue_reminders(now=start - dt.timedelta(hours=23)) == 1
    db.session.commit()
    # ...then the learner moves it a day later: the reminders are armed again for the new time.
    new_start = berlin(future_weekday(5, "Europe/Berlin") + dt.timedelta(days=2), 10)
    while new_start.weekday() >= 5:
        new_start += dt.timedelta(days=1)
    response = reschedule(client, world["token"], booking["id"], new_start)
    assert response.status_code == 200, response.json
    assert booking_service.queue_reminders(now=start - dt.timedelta(hours=22)) == 0
    assert booking_service.queue_reminders(now=new_start - dt.timedelta(hours=23)) == 1
    db.session.commit()
    # The stale reminder event for the old time tells nobody anything.
    process_all()
    reminders = deliveries("booking_reminder")
    assert len(reminders) == 2
    new_day = localtime.format_time(new_start, "America/New_York", "%a %-d %b %Y")
    assert all(new_day in d.text_body or new_day in d.subject for d in reminders)


def test_interview_type_settings_are_configurable_by_staff(client, world):
    headers = auth(world["staff_token"])
    response = client.patch(
        "/api/v1/interview-types/coding",
        json={"buffer_after_minutes": 30, "min_notice_hours": 48, "cancel_cutoff_hours": 12},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["buffer_after_minutes"] == 30
    itype = db.session.scalar(select(InterviewType).where(InterviewType.slug == "coding"))
    assert itype.min_notice_hours == 48
    [entry] = audit.entries(audit.AuditFilter(action="interview_type.update")).items
    assert entry.detail["after"] == {
        "buffer_after_minutes": 30,
        "cancel_cutoff_hours": 12,
        "min_notice_hours": 48,
    }
    bad = client.patch("/api/v1/interview-types/coding", json={"horizon_days": 0}, headers=headers)
    assert bad.status_code == 422
    assert "horizon_days" in bad.json["errors"]
    learner = client.patch(
        "/api/v1/interview-types/coding", json={"horizon_days": 10}, headers=auth(world["token"])
    )
    assert learner.status_code == 403
    assert (
        client.get("/api/v1/interview-types/coding", headers=auth(world["token"])).json[
            "cancel_cutoff_hours"
        ]
        == 12
    )


def test_a_late_scan_sends_one_reminder_not_two(client, world):
    """The scheduler was down for a day: 50 minutes before, only the 1 h reminder goes."""
    start = berlin(world["day"], 10)
    booking = book(client, world["token"], start).json
    assert booking_service.queue_reminders(now=start - dt.timedelta(minutes=50)) == 1
    db.session.commit()
    assert reminder_leads() == [(booking["id"], "1h")]
