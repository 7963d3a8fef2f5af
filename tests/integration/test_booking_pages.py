"""The booking pages: a learner books, moves and cancels; a coach runs sessions and availability."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from services.db import db
from services.models import AvailabilityException, AvailabilityRule, Booking
from tests.support_auth import csrf_token, sign_in
from tests.support_booking import (
    at,
    auth,
    book,
    future_weekday,
    insert_booking,
    make_coach,
    seed_types,
)


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, "Europe/Berlin", name="Casey Coach")
    learner = make_user("learner", timezone="America/New_York", name="Lee Learner")
    return {"coach": coach, "learner": learner, "token": token_for(learner)}


def text(response):
    return response.get_data(as_text=True)


def links(page, pattern):
    return [html.unescape(h) for h in re.findall(r'href="([^"]*' + pattern + r'[^"]*)"', page)]


def test_a_learner_books_through_the_pages(client, world):
    sign_in(client, world["learner"].email)
    listing = client.get("/learn/bookings")
    assert listing.status_code == 200
    assert "Book a mock interview" in text(listing)
    choose = text(client.get("/learn/bookings/new"))
    assert "Coding" in choose and "ML system design" in choose
    week = future_weekday(3, "America/New_York")
    pick = text(client.get(f"/learn/bookings/new?type=coding&week={week}"))
    slot_links = links(pick, "/learn/bookings/new/confirm")
    assert slot_links, pick
    # Grouped by day in the learner's zone (New York): Berlin 09:00 is 03:00 there.
    assert re.search(r">0[34]:00<", pick)
    confirm = client.get(slot_links[0])
    assert confirm.status_code == 200
    assert "Confirm booking" in text(confirm)
    response = client.post(
        slot_links[0],
        data={"csrf_token": csrf_token(client, slot_links[0]), "notes": "System design please"},
    )
    assert response.status_code == 302, text(response)
    detail = client.get(response.headers["Location"])
    page = text(detail)
    assert "Confirmed" in page
    assert "meet.jit.si" in page
    assert "System design please" in page
    booking = db.session.scalar(select(Booking).where(Booking.learner_id == world["learner"].id))
    ics = client.get(f"/learn/bookings/{booking.id}/calendar.ics")
    assert ics.mimetype == "text/calendar"
    assert booking.uid in text(ics)


def test_a_learner_reschedules_and_cancels_through_the_pages(client, world):
    start = at(future_weekday(3, "Europe/Berlin"), 10, tz="Europe/Berlin")
    booking_id = book(client, world["token"], start).json["id"]
    sign_in(client, world["learner"].email)
    page = text(client.get(f"/learn/bookings/{booking_id}"))
    assert "Reschedule" in page and "Cancel booking" in page
    pick = text(client.get(f"/learn/bookings/{booking_id}/reschedule"))
    assert "(now)" in pick  # the current time is marked, not offered
    targets = links(pick, f"/learn/bookings/{booking_id}/reschedule/confirm")
    assert targets
    target = targets[-1]
    moved = client.post(target, data={"csrf_token": csrf_token(client, target)})
    assert moved.status_code == 302
    row = db.session.get(Booking, booking_id)
    db.session.refresh(row)
    assert row.start_at != start
    assert row.reschedule_count == 1
    cancelled = client.post(
        f"/learn/bookings/{booking_id}/cancel",
        data={"csrf_token": csrf_token(client, f"/learn/bookings/{booking_id}"), "reason": "ill"},
    )
    assert cancelled.status_code == 302
    db.session.refresh(row)
    assert row.status == "cancelled"
    assert "Cancelled" in text(client.get(f"/learn/bookings/{booking_id}"))


def test_a_form_without_csrf_changes_nothing(client, world):
    start = at(future_weekday(3, "Europe/Berlin"), 10, tz="Europe/Berlin")
    booking_id = book(client, world["token"], start).json["id"]
    sign_in(client, world["learner"].email)
    response = client.post(f"/learn/bookings/{booking_id}/cancel", data={"reason": "x"})
    assert response.status_code == 400
    assert db.session.get(Booking, booking_id).status == "confirmed"


def test_pages_are_for_their_role_and_owner(client, world, make_user):
    start = at(future_weekday(3, "Europe/Berlin"), 11, tz="Europe/Berlin")
    booking_id = book(client, world["token"], start).json["id"]
    stranger = make_user("learner")
    sign_in(client, stranger.email)
    assert client.get(f"/learn/bookings/{booking_id}").status_code == 404
    assert client.get("/coach/sessions").status_code == 403
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    sign_in(client, world["coach"].email)
    assert client.get("/learn/bookings").status_code == 403
    assert client.get(f"/coach/sessions/{booking_id}").status_code == 200


def test_a_coach_sees_sessions_records_outcomes_and_writes_feedback(client, world):
    # A session that already happened (inserted as it stood two days ago).
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(
        days=2
    )
    booking = insert_booking(world["learner"].id, world["coach"].id, start)
    sign_in(client, world["coach"].email)
    listing = text(client.get("/coach/sessions"))
    assert "How did they go?" in listing and "Lee Learner" in listing
    url = f"/coach/sessions/{booking.id}"
    response = client.post(
        f"{url}/outcome", data={"csrf_token": csrf_token(client, url), "outcome": "completed"}
    )
    assert response.status_code == 302
    page = text(client.get(url))
    assert "Save feedback" in page
    response = client.post(
        f"{url}/feedback",
        data={
            "csrf_token": csrf_token(client, url),
            "communication": "4",
            "technical_depth": "3",
            "problem_solving": "5",
            "ml_knowledge": "2",
            "notes": "Explain trade-offs out loud.",
        },
    )
    assert response.status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    sign_in(client, world["learner"].email)
    learner_view = text(client.get(f"/learn/bookings/{booking.id}"))
    assert "Feedback from Casey Coach" in learner_view
    assert "Explain trade-offs out loud." in learner_view
    assert "5 / 5" in learner_view
    api = client.get(f"/api/v1/bookings/{booking.id}", headers=auth(world["token"])).json
    assert api["feedback"]["problem_solving"] == 5


def test_the_availability_page_shows_the_week_and_edits_it(client, world):
    start = at(future_weekday(3, "Europe/Berlin"), 10, tz="Europe/Berlin")
    book(client, world["token"], start)
    sign_in(client, world["coach"].email)
    page = text(client.get(f"/coach/availability?week={start.date()}"))
    assert "week-calendar" in page
    assert 'class="cal-booked"' in page and "Lee Learner" in page
    assert 'class="cal-open"' in page
    form = "/coach/availability"
    data = {"csrf_token": csrf_token(client, form), "timezone": "Europe/Berlin"}
    data.update({"d0_0_start": "08:00", "d0_0_end": "12:00", "d0_1_start": "13:00"})
    data["d0_1_end"] = "18:00"
    response = client.post("/coach/availability/weekly", data=data)
    assert response.status_code == 302
    rules = db.session.scalars(
        select(AvailabilityRule).where(AvailabilityRule.coach_id == world["coach"].id)
    ).all()
    assert sorted((r.weekday, r.start_time.hour, r.end_time.hour) for r in rules) == [
        (0, 8, 12),
        (0, 13, 18),
    ]
    day = future_weekday(10, "Europe/Berlin")
    response = client.post(
        "/coach/availability/exceptions",
        data={
            "csrf_token": csrf_token(client, form),
            "day": day.isoformat(),
            "start": "09:00",
            "end": "12:00",
            "reason": "conference",
        },
    )
    assert response.status_code == 302
    exc = db.session.scalar(
        select(AvailabilityException).where(AvailabilityException.coach_id == world["coach"].id)
    )
    assert exc.start_at == at(day, 9, tz="Europe/Berlin")
    assert not exc.available
    assert "conference" in text(client.get(form))


def test_a_coach_gets_and_revokes_a_private_calendar_feed(client, world):
    start = at(future_weekday(3, "Europe/Berlin"), 10, tz="Europe/Berlin")
    booking = book(client, world["token"], start).json
    sign_in(client, world["coach"].email)
    client.post(
        "/coach/availability/feed", data={"csrf_token": csrf_token(client, "/coach/availability")}
    )
    page = client.get("/coach/availability")
    url = re.search(r'value="(http://testserver/api/v1/calendar-feeds/[^"]+\.ics)"', text(page))
    assert url, text(page)
    path = url.group(1).removeprefix("http://testserver")
    feed = client.get(path)
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    assert "BEGIN:VEVENT" in text(feed)
    assert db.session.get(Booking, booking["id"]).uid in text(feed).replace("\r\n ", "")
    client.post(
        "/coach/availability/feed/revoke",
        data={"csrf_token": csrf_token(client, "/coach/availability")},
    )
    assert client.get(path).status_code == 404
    assert client.get("/api/v1/calendar-feeds/not-a-token.ics").status_code == 404
