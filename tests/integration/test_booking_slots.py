"""Slots from the database: daylight saving end to end, exceptions, caps, and query counts."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from services.booking import availability
from services.booking.availability import SlotQuery, find_slots
from services.db import db
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    CalendarFeed,
    CoachBookingSettings,
    FeedBusy,
    InterviewType,
    User,
)
from tests.support_booking import make_coach, seed_types

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def types(db_session):
    seed_types()


def new_york_slots(start_day, end_day, now, **kwargs):
    return find_slots(
        SlotQuery("coding", start_day, end_day, "America/New_York", **kwargs), now=now
    )


@pytest.mark.parametrize(
    ("now", "first", "last"),
    [
        # Spring: the US moves on 14 March 2027, Europe on 28 March.
        (dt.datetime(2027, 3, 5, tzinfo=dt.UTC), dt.date(2027, 3, 8), dt.date(2027, 4, 2)),
        # Autumn: Europe moves back on 25 October 2026, the US on 1 November.
        (dt.datetime(2026, 10, 15, tzinfo=dt.UTC), dt.date(2026, 10, 19), dt.date(2026, 11, 6)),
    ],
)
def test_a_berlin_coach_and_a_new_york_learner_across_the_changes(
    types, make_user, now, first, last
):
    make_coach(make_user, "Europe/Berlin")
    slots = new_york_slots(first, last, now)
    by_day: dict[dt.date, list[dt.datetime]] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(NEW_YORK).date(), []).append(slot.start)
    assert by_day, "no slots at all"
    for day, starts in by_day.items():
        # The coach's day is always 09:00-17:00 in Berlin...
        berlin = [s.astimezone(BERLIN) for s in starts]
        assert berlin[0].time() == dt.time(9), day
        assert (berlin[-1] + dt.timedelta(minutes=45)).time() <= dt.time(17), day
        assert all(b.date() == berlin[0].date() for b in berlin)
        # ...and the learner's view of it moves by an hour while only one side has changed.
        new_york_first = starts[0].astimezone(NEW_YORK).time()
        gap = 5 if _only_one_side_changed(day) else 6
        assert new_york_first == dt.time(9 - gap), (day, new_york_first)
    assert {_only_one_side_changed(d) for d in by_day} == {True, False}


def _only_one_side_changed(day: dt.date) -> bool:
    return dt.date(2027, 3, 14) <= day < dt.date(2027, 3, 28) or (
        dt.date(2026, 10, 25) <= day < dt.date(2026, 11, 1)
    )


def test_days_are_the_viewers_days(types, make_user):
    """A coach in Sydney: their Monday morning is the New York learner's Sunday afternoon."""
    make_coach(make_user, "Australia/Sydney", weekdays=[0])
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    sunday = dt.date(2027, 1, 10)
    slots = new_york_slots(sunday, sunday, now)
    assert slots
    assert {s.start.astimezone(NEW_YORK).date() for s in slots} == {sunday}
    assert {s.start.astimezone(zoneinfo.ZoneInfo("Australia/Sydney")).weekday() for s in slots} == {
        0
    }


def test_exceptions_take_time_off_and_add_extra_hours(types, make_user):
    coach = make_coach(make_user, "UTC")
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    monday, saturday = dt.date(2027, 1, 11), dt.date(2027, 1, 16)
    db.session.add_all(
        [
            AvailabilityException(
                coach_id=coach.id,
                start_at=dt.datetime(2027, 1, 11, 12, tzinfo=dt.UTC),
                end_at=dt.datetime(2027, 1, 11, 17, tzinfo=dt.UTC),
                available=False,
                reason="dentist",
            ),
            AvailabilityException(
                coach_id=coach.id,
                start_at=dt.datetime(2027, 1, 16, 10, tzinfo=dt.UTC),
                end_at=dt.datetime(2027, 1, 16, 12, tzinfo=dt.UTC),
                available=True,
            ),
        ]
    )
    db.session.commit()
    slots = find_slots(SlotQuery("coding", monday, saturday, "UTC"), now=now)
    monday_starts = [s.start for s in slots if s.start.date() == monday]
    assert max(monday_starts) == dt.datetime(2027, 1, 11, 11, tzinfo=dt.UTC)
    saturday_starts = [
        s.start.hour * 60 + s.start.minute for s in slots if s.start.date() == saturday
    ]
    assert saturday_starts == [600, 630, 660]  # 10:00, 10:30, 11:00 (ends 11:45)


def test_notice_and_horizon_bound_the_slots(types, make_user):
    make_coach(make_user, "UTC", weekdays=range(7))
    now = dt.datetime(2027, 1, 4, 8, tzinfo=dt.UTC)
    slots = find_slots(
        SlotQuery("coding", dt.date(2027, 1, 4), dt.date(2027, 2, 28), "UTC"), now=now
    )
    assert min(s.start for s in slots) >= now + dt.timedelta(hours=12)
    assert max(s.start for s in slots) <= now + dt.timedelta(days=30)


def test_a_coach_at_the_daily_cap_offers_nothing_more_that_day(types, make_user):
    coach = make_coach(make_user, "UTC")
    learner = make_user("learner")
    db.session.add(CoachBookingSettings(coach_id=coach.id, daily_session_cap=1))
    itype = db.session.query(InterviewType).filter_by(slug="coding").one()
    start = dt.datetime(2027, 1, 11, 9, tzinfo=dt.UTC)
    db.session.add(
        Booking(
            uid="cap@test",
            learner_id=learner.id,
            coach_id=coach.id,
            interview_type_id=itype.id,
            start_at=start,
            end_at=start + dt.timedelta(minutes=45),
            block_start_at=start,
            block_end_at=start + dt.timedelta(hours=1),
            meeting_url="https://example.com/x",
        )
    )
    db.session.commit()
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    slots = find_slots(
        SlotQuery("coding", dt.date(2027, 1, 11), dt.date(2027, 1, 12), "UTC"), now=now
    )
    assert {s.start.date() for s in slots} == {dt.date(2027, 1, 12)}


@contextmanager
def counting_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            statements.append(statement)

    engine = db.session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def make_coaches(count: int) -> list[int]:
    """``count`` coaches in assorted zones, each with rules, an exception and a booking."""
    itype = db.session.query(InterviewType).filter_by(slug="coding").one()
    zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]
    ids = []
    for i in range(count):
        coach = User(
            email=f"bulk-{i}-{id(ids)}@example.com",
            name=f"Coach {i}",
            role="coach",
            timezone=zones[i % 4],
            password_hash="x",
            expertise=["python"],
        )
        db.session.add(coach)
        db.session.flush()
        ids.append(coach.id)
        for weekday in range(5):
            db.session.add(
                AvailabilityRule(
                    coach_id=coach.id, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17)
                )
            )
        day = dt.datetime(2027, 1, 12 + i % 3, 10, tzinfo=dt.UTC)
        db.session.add(
            AvailabilityException(
                coach_id=coach.id, start_at=day, end_at=day + dt.timedelta(hours=2)
            )
        )
        start = dt.datetime(2027, 1, 13, 14, tzinfo=dt.UTC) + dt.timedelta(days=i % 5)
        learner = User(
            email=f"bulk-learner-{coach.id}@example.com",
            name=f"Learner {i}",
            role="learner",
            password_hash="x",
        )
        db.session.add(learner)
        db.session.flush()
        db.session.add(
            Booking(
                uid=f"bulk-{coach.id}@test",
                learner_id=learner.id,
                coach_id=coach.id,
                interview_type_id=itype.id,
                start_at=start + dt.timedelta(minutes=60 * (i % 3)),
                end_at=start + dt.timedelta(minutes=60 * (i % 3) + 45),
                block_start_at=start + dt.timedelta(minutes=60 * (i % 3)),
                block_end_at=start + dt.timedelta(minutes=60 * (i % 3) + 60),
                meeting_url="https://example.com/x",
            )
        )
    db.session.commit()
    return ids


def test_four_weeks_for_fifty_coaches_take_a_fixed_small_number_of_queries(types, make_user):
    learner_id = make_user("learner").id
    now = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
    query = SlotQuery("coding", dt.date(2027, 1, 4), dt.date(2027, 1, 31), "America/New_York")

    make_coaches(5)
    with counting_queries() as few:
        small = find_slots(query, learner_id=learner_id, now=now)
    # Forty-five more coaches, each with two calendar feeds of busy times.
    for coach_id in make_coaches(45):
        for name in ("Work", "Home"):
            feed = CalendarFeed(coach_id=coach_id, name=name, url="https://cal.example.com/a.ics")
            db.session.add(feed)
            db.session.flush()
            for day in range(4, 31, 3):
                start = dt.datetime(2027, 1, day, 15, tzinfo=dt.UTC)
                db.session.add(
                    FeedBusy(
                        feed_id=feed.id,
                        coach_id=coach_id,
                        start_at=start,
                        end_at=start + dt.timedelta(hours=1),
                    )
                )
    db.session.commit()
    with counting_queries() as many:
        large = find_slots(query, learner_id=learner_id, now=now)

    with counting_queries() as again:
        repeated = find_slots(query, learner_id=learner_id, now=now)

    # The calendars' version; then, as this process has not read them under it, the type, its
    # coaches, their rules, exceptions, caps and feeds' busy times; the bookings; the learner's
    # sessions. Asked again: the version, the bookings and the learner's sessions.
    assert len(few) == len(many) == 9, [q[:60] for q in many]
    assert len(again) == 3, [q[:60] for q in again]
    assert "calendars_version" in again[0]
    assert repeated == large
    assert max(len(s.coach_ids) for s in large) > max(len(s.coach_ids) for s in small)
    assert len({c for s in large for c in s.coach_ids}) == 50


def test_the_slot_endpoint_costs_the_same_for_one_week_or_four(client, types, make_user, token_for):
    make_coaches(10)
    token = token_for(make_user("learner"))
    headers = {"Authorization": f"Bearer {token}"}
    today = dt.date.today()
    counts = []
    for days in (27, 6, 27):
        with counting_queries() as statements:
            response = client.get(
                f"/api/v1/slots?type=coding&start={today}&end={today + dt.timedelta(days=days)}",
                headers=headers,
            )
        assert response.status_code == 200
        counts.append(len(statements))
    # The first search reads the calendars this process keeps; then every search reads the
    # token's user, the calendars' version, the bookings and the learner's own sessions.
    assert counts[0] <= 10 and counts[1] == counts[2] == 4, counts
    assert availability.MAX_RANGE_DAYS == 62
