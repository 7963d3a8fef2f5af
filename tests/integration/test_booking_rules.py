"""Booking rules that fit together, as the learner's pages, the email and the API tell them: a slot
inside the cancellation cutoff is final from the moment it is booked (and said so before and
after); a bad start is refused before the confirm page; a second confirm of one's own slot links
to the booking; the horizon is named; the staff editor warns of a notice shorter than the cutoff;
the waitlist offers only days a coach works and honours a time-of-day preference (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from services.booking import interview_types, waitlist
from services.booking.availability import grid_ceil
from services.db import db, utcnow
from services.models import (
    Booking,
    Delivery,
    WaitlistEntry,
)
from tests.support_auth import csrf_token, sign_in
from tests.support_booking import (
    at,
    auth,
    book,
    extra_hours,
    future_weekday,
    insert_booking,
    make_coach,
    process_all,
    seed_types,
)

LOCKED = "This time is less than 24 hours away: once booked it cannot be moved or cancelled online"


@pytest.fixture
def world(db_session, make_user, token_for):
    """A coach who works every day, all day (UTC), and a learner in UTC."""
    seed_types()
    coach = make_coach(
        make_user,
        "UTC",
        name="Casey Coach",
        start=dt.time(0),
        end=dt.time(23, 59),
        weekdays=range(7),
    )
    learner = make_user("learner", timezone="UTC", name="Lee Learner")
    return {"coach": coach, "learner": learner, "token": token_for(learner)}


def text(response):
    return response.get_data(as_text=True)


def confirm_url(start: dt.datetime, type_: str = "coding", coach_id: int | str = "") -> str:
    from urllib.parse import urlencode

    query = urlencode({"type": type_, "start": start.isoformat(), "coach_id": coach_id})
    return f"/learn/bookings/new/confirm?{query}"


def inside_cutoff() -> dt.datetime:
    """A grid start 12 to 24 hours away (past the 12 h notice, inside the 24 h cutoff), and not in
    the minute before the coach's midnight gap."""
    start = grid_ceil(utcnow() + dt.timedelta(hours=18), 30)
    if start.time() >= dt.time(23):
        start += dt.timedelta(hours=2)
    return start


def confirm(client, url: str, notes: str = ""):
    return client.post(url, data={"csrf_token": csrf_token(client, url), "notes": notes})


def learner_mail(learner, kind: str = "booking_confirmed") -> Delivery:
    process_all()
    return db.session.scalars(
        select(Delivery).where(Delivery.kind == kind, Delivery.user_id == learner.id)
    ).one()


def bookings_of(learner) -> int:
    return db.session.scalar(select(func.count(Booking.id)).where(Booking.learner_id == learner.id))


# --- 1. a slot inside the cutoff is final, and said so -------------------------------------------


def test_a_slot_inside_the_cutoff_is_said_to_be_final_before_it_is_booked_and_after(client, world):
    sign_in(client, world["learner"].email)
    url = confirm_url(inside_cutoff())
    page = text(client.get(url))
    assert LOCKED in page
    assert "You can cancel or move it until" not in page

    response = confirm(client, url)
    assert response.status_code == 302, text(response)
    detail = text(client.get(response.headers["Location"]))
    assert (
        "booked less than 24 hours before it starts, so it cannot be moved or cancelled" in detail
    )
    assert "Changes closed at" not in detail  # no closing time from before it was booked
    assert "Cancel booking" not in detail and "Reschedule" not in detail

    mail = learner_mail(world["learner"])
    assert "less than 24 hours away, so it cannot be moved or cancelled online" in mail.text_body
    assert "cannot be moved or cancelled online" in mail.html_body
    assert "You can cancel or move it" not in mail.text_body


def test_a_slot_outside_the_cutoff_says_until_when_it_can_change(client, world):
    sign_in(client, world["learner"].email)
    start = at(future_weekday(3), 10)
    url = confirm_url(start)
    page = text(client.get(url))
    until = (start - dt.timedelta(hours=24)).strftime("%a %-d %b %Y, %H:%M UTC")
    assert "You can cancel or move it until" in page and until in page
    assert "once booked it cannot be moved" not in page

    confirm(client, url)
    mail = learner_mail(world["learner"])
    assert f"You can cancel or move it until {until} (24 hours before it starts)" in mail.text_body
    assert "cannot be moved or cancelled online" not in mail.text_body


def test_a_booking_whose_cutoff_passed_after_it_was_booked_says_changes_closed(client, world):
    start = grid_ceil(utcnow() + dt.timedelta(hours=10), 30)
    booking = insert_booking(world["learner"].id, world["coach"].id, start)
    booking.created_at = utcnow() - dt.timedelta(days=3)
    db.session.commit()
    sign_in(client, world["learner"].email)
    detail = text(client.get(f"/learn/bookings/{booking.id}"))
    assert "Changes closed at" in detail
    assert "booked less than 24 hours" not in detail


def test_a_move_into_the_cutoff_is_said_to_be_final_before_it_is_confirmed(client, world):
    booking_id = book(client, world["token"], at(future_weekday(3), 10)).json["id"]
    sign_in(client, world["learner"].email)
    target = inside_cutoff()
    page = text(
        client.get(
            f"/learn/bookings/{booking_id}/reschedule/confirm?start={target.isoformat()}".replace(
                "+", "%2B"
            )
        )
    )
    assert "once moved there it cannot be moved again or cancelled online" in page


# --- 2. the confirm page names the coach; bad starts never reach it ------------------------------


def test_the_confirm_page_names_the_coach_and_the_booking_goes_to_them(client, world, make_user):
    other = make_coach(
        make_user,
        "UTC",
        name="Dana Coach",
        start=dt.time(0),
        end=dt.time(23, 59),
        weekdays=range(7),
    )
    sign_in(client, world["learner"].email)
    start = at(future_weekday(3), 10)
    picked = text(client.get(confirm_url(start, coach_id=other.id)))
    assert re.search(r'data-testid="confirm-coach">Dana Coach<', picked)
    assert "The coach you picked" not in picked

    anyone = text(client.get(confirm_url(start)))
    named = re.search(r'data-testid="confirm-coach">([A-Za-z ]+?) <span', anyone).group(1)
    assert named in ("Casey Coach", "Dana Coach")
    fallback = "Dana Coach" if named == "Casey Coach" else "Casey Coach"
    assert f"(or {fallback}, should someone else book {named} first)" in anyone
    response = confirm(client, confirm_url(start))
    assert response.status_code == 302
    booking = db.session.scalar(select(Booking).where(Booking.learner_id == world["learner"].id))
    assert booking.coach.name == named  # the coach the page named


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (lambda: grid_ceil(utcnow() - dt.timedelta(hours=2), 30), "This time is in the past."),
        (lambda: at(future_weekday(3), 10, 7), "Sessions start on the 30-minute grid"),
        (lambda: at(future_weekday(40), 10), "Book at most 30 days ahead"),
        (lambda: grid_ceil(utcnow() + dt.timedelta(hours=3), 30), "Book at least 12 hours ahead"),
    ],
    ids=["past", "off-grid", "beyond-horizon", "too-soon"],
)
def test_a_bad_start_goes_back_to_the_picker_with_the_reason(client, world, start, message):
    sign_in(client, world["learner"].email)
    week = future_weekday(3).isoformat()
    response = client.get(confirm_url(start()) + f"&week={week}")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/learn/bookings/new"
    assert parse_qs(location.query) == {"type": ["coding"], "week": [week]}
    picker = text(client.get(response.headers["Location"]))
    assert message in html.unescape(picker)
    assert "Pick a time for Coding" in picker
    assert bookings_of(world["learner"]) == 0


def test_weeks_beyond_the_horizon_name_it_and_offer_no_later_week(client, world):
    sign_in(client, world["learner"].email)
    beyond = utcnow().date() + dt.timedelta(days=35)
    page = text(client.get(f"/learn/bookings/new?type=coding&week={beyond}"))
    assert "Bookings open up to 30 days ahead" in page
    assert "No free times this week" not in page and "Later →" not in page
    last = (utcnow() + dt.timedelta(days=30)).date()
    assert f"can be booked until {last:%A %-d %B}" in page

    # The last week inside the horizon has slots but no later week.
    final = text(client.get(f"/learn/bookings/new?type=coding&week={last - dt.timedelta(days=3)}"))
    assert "Later →" not in final and 'class="slot"' in final
    assert "Later →" in text(client.get("/learn/bookings/new?type=coding"))

    interview_types.configure("coding", {"horizon_days": 28})
    db.session.commit()
    assert "Bookings open up to 4 weeks ahead" in text(
        client.get(f"/learn/bookings/new?type=coding&week={beyond}")
    )


# --- 3. confirming one's own slot again ----------------------------------------------------------


def test_confirming_the_same_slot_again_links_to_the_booking(client, world):
    sign_in(client, world["learner"].email)
    url = confirm_url(at(future_weekday(3), 10))
    token = csrf_token(client, url)
    first = client.post(url, data={"csrf_token": token})
    booking_id = int(first.headers["Location"].rsplit("/", 1)[1])

    again = client.get(url)  # Back, then the confirm page once more
    assert again.status_code == 200
    page = text(again)
    assert "You already booked this time" in page
    assert f'href="/learn/bookings/{booking_id}">see your booking</a>' in page
    assert "Confirm booking" not in page and "overlaps" not in page

    second = client.post(url, data={"csrf_token": token})  # the stale page's button
    assert second.status_code == 302
    assert "You already booked this time" in text(client.get(second.headers["Location"]))
    assert bookings_of(world["learner"]) == 1

    # The API answers the same conflict in words that say so.
    response = book(client, world["token"], at(future_weekday(3), 10))
    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"
    assert response.json["detail"] == "You already booked this time."


# --- 4. calendar links, join, the cancel dialog and its page -------------------------------------


def test_the_booking_page_adds_to_calendars_and_joins_until_cancelled(client, world):
    start = at(future_weekday(3), 10)
    booking = book(client, world["token"], start).json
    sign_in(client, world["learner"].email)
    page = text(client.get(f"/learn/bookings/{booking['id']}"))
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
    google = next(h for h in hrefs if h.startswith("https://calendar.google.com/"))
    query = parse_qs(urlsplit(google).query)
    assert urlsplit(google).path == "/calendar/render" and query["action"] == ["TEMPLATE"]
    end = start + dt.timedelta(minutes=45)
    assert query["dates"] == [f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"]
    assert query["location"] == [booking["meeting_url"]]
    assert "Coding" in query["text"][0]
    outlook = next(h for h in hrefs if h.startswith("https://outlook.live.com/"))
    assert urlsplit(outlook).path == "/calendar/0/deeplink/compose"
    oq = parse_qs(urlsplit(outlook).query)
    assert oq["startdt"] == [f"{start:%Y-%m-%dT%H:%M:%SZ}"]
    assert oq["enddt"] == [f"{end:%Y-%m-%dT%H:%M:%SZ}"]
    assert f"/learn/bookings/{booking['id']}/calendar.ics" in hrefs
    assert "Join the session" in page and booking["meeting_url"] in hrefs
    # The cancel question is a dialog in the page, and a page of its own for browsers without JS.
    assert (
        '<dialog id="cancel-dialog"' in page and 'aria-labelledby="cancel-dialog-heading"' in page
    )
    assert (
        f'href="/learn/bookings/{booking["id"]}/cancel" data-opens-dialog="cancel-dialog"' in page
    )
    assert "data-confirm" not in page
    fallback = client.get(f"/learn/bookings/{booking['id']}/cancel")
    assert fallback.status_code == 200
    assert "Cancel this session?" in text(fallback) and "Keep booking" in text(fallback)

    cancelled = client.post(
        f"/learn/bookings/{booking['id']}/cancel",
        data={"csrf_token": csrf_token(client, f"/learn/bookings/{booking['id']}/cancel")},
    )
    assert cancelled.status_code == 302
    after = text(client.get(f"/learn/bookings/{booking['id']}"))
    assert "calendar.google.com" not in after and "outlook.live.com" not in after
    assert "calendar.ics" not in after and "Join the session" not in after
    assert booking["meeting_url"] not in after
    gone = client.get(f"/learn/bookings/{booking['id']}/cancel")
    assert gone.status_code == 302  # nothing left to cancel


# --- staff: a minimum notice shorter than the cutoff is warned of --------------------------------


def test_the_type_editor_and_the_api_warn_of_a_notice_shorter_than_the_cutoff(
    client, world, make_user, token_for
):
    staff = make_user("staff", name="Sam Staff")
    token = token_for(staff)  # before two-factor is set up on the first sign-in
    sign_in(client, staff.email)
    edit = "/staff/interview-types/coding/edit"
    page = text(client.get(edit))  # the defaults: 12 h notice, 24 h cutoff
    assert "Late bookings are final" in page
    assert "a session booked less than 24 hours ahead cannot be moved or cancelled online" in page
    assert "Booked less than 24 h ahead: final" in text(client.get("/staff/interview-types"))

    form = {
        "name": "Coding",
        "description": "",
        "duration_minutes": "45",
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "15",
        "min_notice_hours": "24",
        "horizon_days": "30",
        "cancel_cutoff_hours": "24",
        "active": "y",
    }
    saved = client.post(edit, data={**form, "csrf_token": csrf_token(client, edit)})
    assert saved.status_code == 302
    listing = text(client.get(saved.headers["Location"]))
    assert "Late bookings are final" not in text(client.get(edit))
    assert "shorter than the cancellation cutoff" not in listing

    warned = client.post(
        edit, data={**form, "min_notice_hours": "2", "csrf_token": csrf_token(client, edit)}
    )
    assert warned.status_code == 302  # allowed: late bookings are final, and learners are told
    listing = text(client.get(warned.headers["Location"]))
    assert "The minimum notice (2 h) is shorter than the cancellation cutoff (24 h)" in listing
    assert interview_types.get("coding").min_notice_hours == 2

    patched = client.patch(
        "/api/v1/interview-types/coding", json={"min_notice_hours": 6}, headers=auth(token)
    )
    assert patched.status_code == 200
    assert (
        patched.json["warnings"] == [interview_types.late_booking_warning(6, 24)]
        and "(6 h)" in patched.json["warnings"][0]
    )
    fine = client.patch(
        "/api/v1/interview-types/coding", json={"min_notice_hours": 24}, headers=auth(token)
    )
    assert fine.json["warnings"] == []
    refused = client.patch(
        "/api/v1/interview-types/coding", json={"warnings": []}, headers=auth(token)
    )
    assert refused.status_code == 422  # read-only


# --- 5. the waitlist: days a coach works, and a time of day --------------------------------------


@pytest.fixture
def weekdays_only(db_session, make_user, token_for):
    """A coach who works Monday to Friday 09:00-17:00 UTC; a learner in UTC."""
    seed_types()
    coach = make_coach(make_user, "UTC", name="Wendy Coach")
    learner = make_user("learner", timezone="UTC", name="Wim Learner")
    return {"coach": coach, "learner": learner, "token": token_for(learner)}


def join(client, token, **body):
    return client.post("/api/v1/waitlist", json={"type": "coding", **body}, headers=auth(token))


def test_the_waitlist_offers_only_days_a_coach_works_inside_the_horizon(client, weekdays_only):
    sign_in(client, weekdays_only["learner"].email)
    page = text(client.get("/learn/bookings/new?type=coding"))
    offered = re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', page)
    assert offered, page
    days = [dt.date.fromisoformat(d) for d in offered]
    assert all(d.weekday() < 5 for d in days)  # never a weekend: nobody works then
    earliest, latest = (
        (utcnow() + dt.timedelta(hours=12)).date(),
        (utcnow() + dt.timedelta(days=30)).date(),
    )
    assert all(earliest <= d <= latest for d in days)
    expected = {
        earliest + dt.timedelta(days=i)
        for i in range((latest - earliest).days + 1)
        if (earliest + dt.timedelta(days=i)).weekday() < 5
    }
    assert set(days) <= expected and len(expected - set(days)) <= 2  # the edge days may be past
    assert 'value="afternoon"' in page and "Afternoons (12:00–17:00)" in page

    saturday = future_weekday(5)
    while saturday.weekday() != 5:
        saturday += dt.timedelta(days=1)
    refused = join(client, weekdays_only["token"], day=saturday.isoformat(), tz="UTC")
    assert refused.status_code == 422
    assert "No coach runs Coding sessions on Saturday" in refused.json["errors"]["day"][0]

    evening = join(client, weekdays_only["token"], time_of_day="evening")
    assert evening.status_code == 422
    assert "in the evening (17:00–22:00)" in evening.json["errors"]["time_of_day"][0]
    bad = join(client, weekdays_only["token"], time_of_day="night")
    assert bad.status_code == 422
    assert db.session.scalar(select(func.count(WaitlistEntry.id))) == 0


@pytest.fixture
def two_slots(db_session, make_user, token_for):
    """A coach who works only two hours in the horizon: 08:00 UTC (03:00 or 04:00 in New York)
    and 18:00 UTC (13:00 or 14:00 there), both booked; learners in New York."""
    seed_types()
    coach = make_user("coach", timezone="UTC", name="Nora Coach")
    day = future_weekday(4)
    early, late = at(day, 8), at(day, 18)
    for start in (early, late):
        extra_hours(coach.id, start)
    db.session.commit()
    people = [make_user("learner", timezone="America/New_York", name=f"NY {i}") for i in range(4)]
    tokens = [token_for(p) for p in people]
    return {"coach": coach, "early": early, "late": late, "people": people, "tokens": tokens}


def test_offers_honour_the_time_of_day_wanted(client, two_slots):
    late_holder, anytime, afternoon, early_holder = two_slots["tokens"]
    late = book(client, late_holder, two_slots["late"]).json
    # Only the 03:00/04:00 slot is free: nothing for someone who wants afternoons, so they wait.
    assert join(client, afternoon).status_code == 409  # at any time, the early slot would do
    waiting = join(client, afternoon, time_of_day="afternoon")
    assert waiting.status_code == 201, waiting.json
    assert waiting.json["time_of_day"] == "afternoon"
    early = book(client, early_holder, two_slots["early"]).json
    mornings = join(client, anytime, time_of_day="morning")
    assert mornings.status_code == 422  # no coach works a New York morning
    assert join(client, anytime).json["time_of_day"] == "any"  # both taken: waits, any time

    # The early slot frees: never offered to the afternoon learner (first in line), but to "any".
    client.post(f"/api/v1/bookings/{early['id']}/cancel", json={}, headers=auth(early_holder))
    assert waitlist.match() == 1
    db.session.commit()

    def mine(token):
        return client.get("/api/v1/waitlist", headers=auth(token)).json["items"][0]

    assert mine(afternoon)["status"] == "waiting"
    offer = mine(anytime)
    assert offer["status"] == "offered"
    assert offer["offer"]["start"] == two_slots["early"].isoformat()
    # Passed on, it skips the afternoon learner again and is released.
    client.post(f"/api/v1/waitlist/{offer['id']}/decline", headers=auth(anytime))
    assert mine(afternoon)["status"] == "waiting"
    assert db.session.scalar(select(func.count(Booking.id)).where(Booking.status == "held")) == 0

    # The afternoon slot frees: offered to the learner who wants afternoons.
    client.post(f"/api/v1/bookings/{late['id']}/cancel", json={}, headers=auth(late_holder))
    assert waitlist.match() == 1
    db.session.commit()
    assert mine(afternoon)["status"] == "offered"
    assert mine(afternoon)["offer"]["start"] == two_slots["late"].isoformat()


def test_the_waitlist_form_takes_a_time_of_day(client, db_session, make_user):
    seed_types()
    coach = make_user("coach", timezone="UTC", name="Olga Coach")
    day = future_weekday(4)
    extra_hours(coach.id, at(day, 14))
    db.session.commit()
    insert_booking(make_user("learner").id, coach.id, at(day, 14))  # its one slot is taken
    learner = make_user("learner", timezone="UTC")
    sign_in(client, learner.email)
    page = text(client.get("/learn/bookings/new?type=coding"))
    assert re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', page) == [day.isoformat()]
    response = client.post(
        "/learn/bookings/waitlist",
        data={
            "csrf_token": csrf_token(client, "/learn/bookings/new?type=coding"),
            "type": "coding",
            "day": day.isoformat(),
            "time_of_day": "afternoon",
        },
    )
    assert response.status_code == 302, text(response)
    entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.learner_id == learner.id))
    assert entry.time_of_day == "afternoon" and entry.day == day
    listing = text(client.get("/learn/bookings"))
    assert f"Coding on {day:%A %-d %B}, afternoons (12:00–17:00)" in listing
