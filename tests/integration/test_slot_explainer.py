"""The explainer says why a time is not offered, by the slot search's own tests: a property-based
check that it agrees with ``find_slots`` on every minute of a generated week, and one case per
reason."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.booking import availability
from services.booking.availability import SlotQuery, explain, explain_many, find_slots
from services.db import db
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    CalendarFeed,
    CoachBookingSettings,
    FeedBusy,
    InterviewType,
)
from tests.support_booking import make_coach, seed_types

UTC = dt.UTC
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney")
# A plain week, and the weeks of each daylight-saving change (Europe and the US, spring and autumn).
WEEKS = (
    dt.date(2027, 1, 11),
    dt.date(2027, 3, 8),
    dt.date(2027, 3, 22),
    dt.date(2026, 10, 19),
    dt.date(2026, 10, 26),
)
CODES = {
    "off_grid",
    "past",
    "min_notice",
    "beyond_horizon",
    "learner_overlap",
    "outside_hours",
    "time_off",
    "booking",
    "own_calendar",
    "daily_cap",
}


@pytest.fixture
def types(db_session):
    seed_types()


def _booking(itype, coach_id, learner_id, start):
    shape = availability.Shape.of(itype)
    block_start, block_end = shape.block(start)
    return Booking(
        uid=uuid.uuid4().hex,
        learner_id=learner_id,
        coach_id=coach_id,
        interview_type_id=itype.id,
        start_at=start,
        end_at=start + shape.duration,
        block_start_at=block_start,
        block_end_at=block_end,
        meeting_url="https://meet.example.com/x",
    )


quarter = st.integers(min_value=0, max_value=7 * 24 * 4 - 1).map(lambda q: q * 15)


@st.composite
def weeks(draw):
    return {
        "zone": draw(st.sampled_from(ZONES)),
        "week": draw(st.sampled_from(WEEKS)),
        "rules": draw(
            st.dictionaries(
                st.integers(0, 6),
                st.tuples(st.integers(0, 80), st.integers(2, 40)),  # start quarter, length
                max_size=7,
            )
        ),
        "exceptions": draw(
            st.lists(st.tuples(quarter, st.integers(2, 40), st.booleans()), max_size=3)
        ),
        "bookings": draw(st.lists(quarter, max_size=4)),
        "busy": draw(
            st.lists(st.tuples(st.integers(0, 1), quarter, st.integers(1, 20)), max_size=4)
        ),
        "mine": draw(st.lists(quarter, max_size=2)),
        "cap": draw(st.one_of(st.none(), st.integers(1, 3))),
        "now": draw(st.integers(-2 * 24 * 60, 5 * 24 * 60)),
        "notice": draw(st.integers(0, 30)),
        "horizon": draw(st.integers(1, 9)),
        "step": draw(st.sampled_from((15, 30, 60))),
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=weeks())
def test_the_explainer_agrees_with_find_slots_on_every_minute(app, types, make_user, case):
    # Fresh people each example (the test's transaction is rolled back at its end).
    _check_week(app, make_user, case)


def _check_week(app, make_user, case):
    tz = zoneinfo.ZoneInfo(case["zone"])
    week = case["week"]
    utc_from = dt.datetime.combine(week, dt.time(0), tz).astimezone(UTC)
    utc_to = dt.datetime.combine(week + dt.timedelta(days=7), dt.time(0), tz).astimezone(UTC)
    coach = make_coach(make_user, case["zone"], weekdays=[])
    other = make_coach(make_user, "UTC", weekdays=[])
    learner, someone = make_user("learner"), make_user("learner")
    itype = db.session.query(InterviewType).filter_by(slug="coding").one()
    itype.min_notice_hours, itype.horizon_days = case["notice"], case["horizon"]
    for weekday, (start_q, length) in case["rules"].items():
        start = dt.time(start_q // 4, start_q % 4 * 15)
        end_minutes = min(start_q * 15 + length * 15, 24 * 60 - 15)
        end = dt.time(end_minutes // 60, end_minutes % 60)
        if start < end:
            db.session.add(
                AvailabilityRule(coach_id=coach.id, weekday=weekday, start_time=start, end_time=end)
            )
    for offset, length, available in case["exceptions"]:
        start = utc_from + dt.timedelta(minutes=offset)
        db.session.add(
            AvailabilityException(
                coach_id=coach.id,
                start_at=start,
                end_at=start + dt.timedelta(minutes=length * 15),
                available=available,
            )
        )
    taken: list[tuple[dt.datetime, dt.datetime]] = []
    for offset in sorted(case["bookings"]):
        booking = _booking(itype, coach.id, someone.id, utc_from + dt.timedelta(minutes=offset))
        if all(booking.block_start_at >= e or booking.block_end_at <= s for s, e in taken):
            taken.append((booking.block_start_at, booking.block_end_at))
            db.session.add(booking)
    mine: list[tuple[dt.datetime, dt.datetime]] = []
    for offset in sorted(case["mine"]):
        booking = _booking(itype, other.id, learner.id, utc_from + dt.timedelta(minutes=offset))
        if all(booking.block_start_at >= e or booking.block_end_at <= s for s, e in mine):
            mine.append((booking.block_start_at, booking.block_end_at))
            db.session.add(booking)
    feeds = [
        CalendarFeed(coach_id=coach.id, name=name, url=f"https://cal.example.com/{name}.ics")
        for name in ("Work", "Family")
    ]
    db.session.add_all(feeds)
    db.session.flush()
    for which, offset, length in case["busy"]:
        start = utc_from + dt.timedelta(minutes=offset)
        db.session.add(
            FeedBusy(
                feed_id=feeds[which].id,
                coach_id=coach.id,
                start_at=start,
                end_at=start + dt.timedelta(minutes=length * 15),
            )
        )
    db.session.add(CoachBookingSettings(coach_id=coach.id, daily_session_cap=case["cap"]))
    db.session.flush()
    now = utc_from + dt.timedelta(minutes=case["now"])
    app.config["BOOKING_SLOT_STEP_MINUTES"] = case["step"]
    try:
        slots = find_slots(
            SlotQuery("coding", week, week + dt.timedelta(days=6), case["zone"], coach.id),
            learner_id=learner.id,
            now=now,
        )
        minutes = int((utc_to - utc_from).total_seconds() // 60)
        starts = [utc_from + dt.timedelta(minutes=m) for m in range(minutes)]
        explained = explain_many(
            "coding", starts, coach_id=coach.id, learner_id=learner.id, now=now
        )
    finally:
        app.config["BOOKING_SLOT_STEP_MINUTES"] = 30
    offered = {s.start for s in slots if coach.id in s.coach_ids}
    bookable = {e.start for e in explained if e.bookable}
    assert bookable == offered
    for e in explained:
        assert e.bookable or e.reasons or e.coaches[0].reasons
        assert {r.code for r in (*e.reasons, *e.coaches[0].reasons)} <= CODES


# --- one case per reason -------------------------------------------------------------------------

MONDAY = dt.date(2027, 1, 11)
NOW = dt.datetime(2027, 1, 8, 12, tzinfo=UTC)


def _at(hour, minute=0, day=MONDAY):
    return dt.datetime.combine(day, dt.time(hour, minute), UTC)


def _codes(**kwargs):
    kwargs.setdefault("now", NOW)
    e = explain("coding", kwargs.pop("start"), **kwargs)
    return [r.code for r in e.reasons], [r.code for c in e.coaches for r in c.reasons], e


def test_each_reason_is_named(types, make_user):
    coach = make_coach(make_user, "UTC")  # Monday to Friday, 09:00-17:00
    learner = make_user("learner")
    itype = db.session.query(InterviewType).filter_by(slug="coding").one()
    common, own, e = _codes(start=_at(10), coach_id=coach.id)
    assert (common, own, e.bookable) == ([], [], True)
    assert _codes(start=_at(10, 10), coach_id=coach.id)[0] == ["off_grid"]
    assert _codes(start=_at(8), coach_id=coach.id)[1] == ["outside_hours"]
    assert _codes(start=_at(16, 30), coach_id=coach.id)[1] == ["outside_hours"]
    assert _codes(start=_at(10), coach_id=coach.id, now=_at(9))[0] == ["min_notice"]
    assert _codes(start=_at(10), coach_id=coach.id, now=_at(11))[0] == ["past"]
    far = _at(10, day=MONDAY + dt.timedelta(days=itype.horizon_days + 7))
    assert _codes(start=far, coach_id=coach.id)[0] == ["beyond_horizon"]

    db.session.add(
        AvailabilityException(coach_id=coach.id, start_at=_at(12), end_at=_at(13), available=False)
    )
    db.session.add(_booking(itype, coach.id, make_user("learner").id, _at(14)))
    feed = CalendarFeed(coach_id=coach.id, name="Day job", url="https://cal.example.com/x.ics")
    db.session.add(feed)
    db.session.flush()
    db.session.add(FeedBusy(feed_id=feed.id, coach_id=coach.id, start_at=_at(10), end_at=_at(11)))
    other = make_coach(make_user, "UTC")
    db.session.add(_booking(itype, other.id, learner.id, _at(16)))
    db.session.flush()
    assert _codes(start=_at(12), coach_id=coach.id)[1] == ["time_off"]
    # The 45-minute session from 13:30 ends at 14:15, inside the booking at 14:00...
    assert _codes(start=_at(13, 30), coach_id=coach.id)[1] == ["booking"]
    # ... and one at 15:00 starts inside its 15-minute buffer after (14:45-15:00 is free).
    assert _codes(start=_at(15), coach_id=coach.id)[1] == []
    assert _codes(start=_at(14, 30), coach_id=coach.id)[1] == ["booking"]
    common, own, e = _codes(start=_at(10, 30), coach_id=coach.id)
    assert own == ["own_calendar"] and "“Day job”" in e.coaches[0].reasons[0].message
    # A learner is told it is the coach's own calendar, not which one.
    _, _, e = _codes(start=_at(10, 30), coach_id=coach.id, learner_id=learner.id, name_feeds=False)
    assert "Day job" not in e.coaches[0].reasons[0].message
    assert _codes(start=_at(16), coach_id=coach.id, learner_id=learner.id)[0] == ["learner_overlap"]
    db.session.add(CoachBookingSettings(coach_id=coach.id, daily_session_cap=1))
    db.session.flush()
    assert _codes(start=_at(9), coach_id=coach.id)[1] == ["daily_cap"]
    # Without a coach, each coach who runs the type is explained.
    _, _, e = _codes(start=_at(9))
    assert {c.coach.id for c in e.coaches} >= {coach.id, other.id}
    assert coach.id not in e.free_coach_ids and other.id in e.free_coach_ids


# --- the API -------------------------------------------------------------------------------------


def test_the_api_explains_for_learners_staff_and_coaches(client, types, make_user, token_for):
    coach = make_coach(make_user, "UTC")
    other_coach = make_coach(make_user, "UTC")
    feed = CalendarFeed(coach_id=coach.id, name="Day job", url="https://cal.example.com/x.ics")
    db.session.add(feed)
    db.session.flush()
    day = dt.date.today() + dt.timedelta(days=7)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(10), UTC)
    db.session.add(
        FeedBusy(
            feed_id=feed.id, coach_id=coach.id, start_at=start, end_at=start + dt.timedelta(hours=1)
        )
    )
    db.session.commit()
    learner, staff = make_user("learner"), make_user("staff")

    def ask(user, **params):
        params.setdefault("type", "coding")
        params.setdefault("start", start.isoformat())
        headers = {"Authorization": f"Bearer {token_for(user)}"}
        return client.get("/api/v1/slots/explain", query_string=params, headers=headers)

    answer = ask(staff, coach_id=coach.id)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["bookable"] is False and body["coach_ids"] == []
    assert body["start"] == start.isoformat()
    [reason] = body["coaches"][0]["reasons"]
    assert reason["code"] == "own_calendar" and "Day job" in reason["message"]

    body = ask(learner, coach_id=coach.id).get_json()
    [reason] = body["coaches"][0]["reasons"]
    assert reason["code"] == "own_calendar" and "Day job" not in reason["message"]

    body = ask(learner).get_json()
    assert body["bookable"] is True and other_coach.id in body["coach_ids"]
    assert coach.id not in body["coach_ids"]

    # A coach asks of themselves only.
    assert ask(coach).get_json()["coaches"][0]["coach"]["id"] == coach.id
    refused = ask(coach, coach_id=other_coach.id)
    assert refused.status_code == 422 and refused.get_json()["code"] == "validation_error"
    # A date alone, or a time without its offset, is refused.
    for bad in (day.isoformat(), start.replace(tzinfo=None).isoformat()):
        refused = ask(staff, start=bad)
        assert refused.status_code == 422, bad
        assert "start" in refused.get_json()["errors"]


# --- the pages -----------------------------------------------------------------------------------


def test_the_coach_and_staff_pages_explain(app, client, types, make_user):
    from tests.support_auth import sign_in

    coach = make_coach(make_user, "UTC")
    feed = CalendarFeed(coach_id=coach.id, name="Day job", url="https://cal.example.com/x.ics")
    db.session.add(feed)
    db.session.flush()
    day = dt.date.today() + dt.timedelta(days=7)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(10), UTC)
    db.session.add(
        FeedBusy(
            feed_id=feed.id, coach_id=coach.id, start_at=start, end_at=start + dt.timedelta(hours=1)
        )
    )
    db.session.commit()
    staff = make_user("staff", timezone="UTC")
    question = {"type": "coding", "day": day.isoformat(), "time": "10:00"}

    sign_in(client, coach.email)
    page = client.get("/coach/availability", query_string=question)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Why is this time not bookable?" in html
    assert 'data-code="own_calendar"' in html and "Day job" in html
    html = client.get("/coach/availability", query_string={**question, "time": "07:00"}).get_data(
        as_text=True
    )
    assert 'data-code="outside_hours"' in html
    html = client.get("/coach/availability", query_string={**question, "day": "someday"}).get_data(
        as_text=True
    )
    assert "Pick a day and a time" in html
    client = app.test_client()
    sign_in(client, staff.email)
    html = client.get(f"/staff/coaches/{coach.id}/edit", query_string=question).get_data(
        as_text=True
    )
    assert 'data-code="own_calendar"' in html and "Day job" in html
    html = client.get(
        f"/staff/coaches/{coach.id}/edit", query_string={**question, "time": "11:00"}
    ).get_data(as_text=True)
    assert "is bookable" in html
