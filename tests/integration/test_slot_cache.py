"""The calendars each process keeps for slot search (services/booking/facts.py): every change
that search reads is seen by the next search, in this process and in others; a change not yet
committed is seen only by the session making it; a rolled-back one by no one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sqlalchemy import delete, event, select

from services.booking import availability, facts
from services.booking.availability import ExceptionInput, RuleInput, SlotQuery, find_slots
from services.db import db, writer
from services.errors import ValidationFailed
from services.models import (
    CalendarFeed,
    CalendarsVersion,
    CoachBookingSettings,
    FeedBusy,
    InterviewType,
)
from tests.support_auth import committed_user
from tests.support_booking import (
    add_rules,
    at,
    auth,
    book,
    future_weekday,
    make_coach,
    seed_types,
)

DAY = future_weekday(4)


@pytest.fixture
def coach(db_session: Any, make_user: Any) -> Any:
    seed_types()
    return make_coach(make_user, "UTC")  # Monday to Friday, 09:00-17:00, committed


def hours(coach_id: int | None = None, day: dt.date = DAY) -> list[int]:
    """The hours (UTC) at which a coding session may start on ``day``, on the hour."""
    slots = find_slots(SlotQuery("coding", day, day, "UTC", coach_id=coach_id))
    return sorted({s.start.hour for s in slots if s.start.minute == 0})


def statements(run: Any) -> list[str]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_repeated_search_reads_only_the_version_and_the_bookings(coach):
    first = hours(coach.id)
    again = statements(lambda: hours(coach.id))
    assert hours(coach.id) == first == list(range(9, 17))
    assert len(again) == 2, again  # the version, the bookings (no learner: none given)
    assert "calendars_version" in again[0] and "booking" in again[1]


def test_new_weekly_hours_are_seen_by_the_next_search(coach):
    assert hours(coach.id) == list(range(9, 17))
    availability.set_weekly(
        coach.id, "UTC", (RuleInput(DAY.weekday(), dt.time(13), dt.time(15)),), None
    )
    db.session.commit()
    assert hours(coach.id) == [13, 14]


def test_time_off_and_extra_hours_come_and_go(coach):
    assert hours(coach.id) == list(range(9, 17))
    off = availability.add_exception(
        coach.id, ExceptionInput(at(DAY, 9), at(DAY, 12), False, "Dentist")
    )
    db.session.commit()
    assert hours(coach.id) == list(range(12, 17))
    extra = availability.add_exception(coach.id, ExceptionInput(at(DAY, 18), at(DAY, 19), True))
    db.session.commit()
    assert hours(coach.id) == [*range(12, 17), 18]
    availability.delete_exception(coach.id, off.id)
    availability.delete_exception(coach.id, extra.id)
    db.session.commit()
    assert hours(coach.id) == list(range(9, 17))


def test_busy_times_from_a_calendar_feed_block_at_once(coach):
    assert 10 in hours(coach.id)
    feed = CalendarFeed(coach_id=coach.id, name="Work", url="https://cal.example.com/w.ics")
    db.session.add(feed)
    db.session.flush()
    db.session.add(
        FeedBusy(feed_id=feed.id, coach_id=coach.id, start_at=at(DAY, 10), end_at=at(DAY, 11))
    )
    db.session.commit()
    assert 10 not in hours(coach.id)
    # A feed read again replaces its busy times by a bulk delete: seen too.
    db.session.execute(delete(FeedBusy).where(FeedBusy.feed_id == feed.id))
    db.session.commit()
    assert 10 in hours(coach.id)


def test_a_changed_interview_type_and_daily_cap_are_seen(coach):
    [slot, *_] = find_slots(SlotQuery("coding", DAY, DAY, "UTC", coach_id=coach.id))
    itype = db.session.scalar(select(InterviewType).where(InterviewType.slug == "coding"))
    itype.duration_minutes = 90
    db.session.commit()
    [longer, *_] = find_slots(SlotQuery("coding", DAY, DAY, "UTC", coach_id=coach.id))
    assert slot.end - slot.start != longer.end - longer.start == dt.timedelta(minutes=90)
    itype.active = False
    db.session.commit()
    with pytest.raises(ValidationFailed):
        hours(coach.id)


def test_a_deactivated_coach_or_one_who_no_longer_runs_the_type_is_not_offered(coach, make_user):
    other = make_coach(make_user, "UTC")
    query = SlotQuery("coding", DAY, DAY, "UTC")
    assert {c for s in find_slots(query) for c in s.coach_ids} == {coach.id, other.id}
    other.active = False
    db.session.commit()
    assert {c for s in find_slots(query) for c in s.coach_ids} == {coach.id}
    with pytest.raises(ValidationFailed, match="no active coach"):
        hours(other.id)
    db.session.add(CoachBookingSettings(coach_id=coach.id, runs_all_types=False))
    db.session.commit()
    assert find_slots(query) == []


def test_a_change_not_yet_committed_is_seen_by_its_own_session_and_a_rollback_by_no_one(
    coach,
):
    assert hours(coach.id) == list(range(9, 17))
    availability.add_exception(coach.id, ExceptionInput(at(DAY, 9), at(DAY, 17), False))
    assert hours(coach.id) == []  # flushed, not committed: this session reads through
    db.session.rollback()
    assert hours(coach.id) == list(range(9, 17))


def test_a_commit_that_changes_hours_replaces_the_version_and_others_do_not(coach, make_user):
    assert hours(coach.id) == list(range(9, 17))
    token = db.session.scalar(select(CalendarsVersion.token))
    make_user("learner")  # a new learner is nothing slot search reads
    assert db.session.scalar(select(CalendarsVersion.token)) == token
    add_rules(coach.id, start=dt.time(18), end=dt.time(20), weekdays=[DAY.weekday()])
    assert db.session.scalar(select(CalendarsVersion.token)) != token
    assert hours(coach.id) == [*range(9, 17), 18, 19]


def test_without_a_version_row_every_search_reads_through(coach):
    db.session.execute(delete(CalendarsVersion))
    assert facts.current() is None
    assert hours(coach.id) == list(range(9, 17))
    again = statements(lambda: hours(coach.id))
    assert any("availability_rule" in s for s in again)


# --- across the server's processes ---------------------------------------------------------------

PASSWORD = "correct horse battery"


def api_token(base_url: str, user: Any) -> str:
    response = requests.post(
        f"{base_url}/api/v1/auth/token",
        json={"email": user.email, "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def test_every_worker_of_the_server_sees_a_change_at_once(live_server, live_ctx):
    """gunicorn's two workers each keep the calendars; a coach's new hours, saved through one of
    them, and time off saved by another process (this test's), are in the next answer of both."""
    seed_types()
    coach, learner = committed_user("coach"), committed_user("learner")
    add_rules(coach.id)
    coach_token, learner_token = api_token(live_server, coach), api_token(live_server, learner)
    url = f"{live_server}/api/v1/slots?type=coding&start={DAY}&end={DAY}&tz=UTC&coach_id={coach.id}"

    def answers() -> set[tuple[int, ...]]:
        """Twelve answers on fresh connections (so both workers answer), as sets of hours."""
        found = set()
        for _ in range(12):
            response = requests.get(url, headers=auth(learner_token), timeout=30)
            assert response.status_code == 200, response.text
            starts = [dt.datetime.fromisoformat(s["start"]) for s in response.json()["slots"]]
            found.add(tuple(sorted({s.hour for s in starts if s.minute == 0})))
        return found

    assert answers() == {tuple(range(9, 17))}
    response = requests.put(
        f"{live_server}/api/v1/coaches/me/availability",
        headers=auth(coach_token),
        json={
            "timezone": "UTC",
            "rules": [{"weekday": DAY.weekday(), "start": "13:00", "end": "16:00"}],
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert answers() == {(13, 14, 15)}
    db.session.commit()  # ends the read that loading ``coach`` began
    with writer():  # the server writes too: on SQLite this transaction queues for the lock
        availability.add_exception(coach.id, ExceptionInput(at(DAY, 13), at(DAY, 14), False))
        db.session.commit()
    assert answers() == {(14, 15)}


def test_a_booking_is_placed_by_the_hours_as_they_are_now(coach, client, make_user, token_for):
    """A booking's placement reads the kept hours too: hours just taken away refuse it."""
    token = token_for(make_user("learner"))
    assert 10 in hours(coach.id)  # kept, with 10:00 open
    availability.set_weekly(
        coach.id, "UTC", (RuleInput(DAY.weekday(), dt.time(13), dt.time(15)),), None
    )
    db.session.commit()
    refused = book(client, token, at(DAY, 10), coach_id=coach.id)
    assert refused.status_code == 422, refused.json
    assert refused.json["code"] == "validation_error"
    assert book(client, token, at(DAY, 13), coach_id=coach.id).status_code == 201


def test_a_kept_answer_is_never_older_than_the_bookings(coach, client, make_user, token_for):
    """The coaches' side of an answer is kept by the bookings it read: a booking made, or one
    cancelled, is in the next answer; a learner's own sessions and the notice are applied to it
    per search."""
    learner = make_user("learner")
    token = token_for(learner)
    assert hours(coach.id) == hours(coach.id) == list(range(9, 17))
    made = book(client, token, at(DAY, 10), coach_id=coach.id)
    assert made.status_code == 201, made.json
    assert 10 not in hours(coach.id)
    # The learner's own session rules out that time for any coach (here the only one).
    query = SlotQuery("coding", DAY, DAY, "UTC", coach_id=coach.id)
    mine = {s.start.hour for s in find_slots(query, learner_id=learner.id)}
    assert 10 not in mine and 11 in mine
    # Notice: seen from 13:00 the day before the day, only times from 13:00 on (12 hours).
    late = {s.start for s in find_slots(query, now=at(DAY, 1))}
    assert min(late) == at(DAY, 13)
    cancelled = client.post(
        f"/api/v1/bookings/{made.json['id']}/cancel", headers=auth(token), json={}
    )
    assert cancelled.status_code == 200, cancelled.json
    assert hours(coach.id) == list(range(9, 17))
