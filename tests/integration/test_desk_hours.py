"""Résumé deadlines in the desk's working hours: an offer over a weekend and a holiday, and open
offers' due times moved, with the audit log saying so, when staff change the hours."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import select, update

from services import workhours
from services.db import db
from services.errors import Forbidden, ValidationFailed
from services.models import Assignment, ResumeEvent, StaffAction
from services.resumes import routing
from services.resumes.settings import Settings
from tests.integration.test_resume_queue import people, routed_resume  # noqa: F401

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = {d: [(dt.time(9), dt.time(17))] for d in range(5)}


def test_deadlines_skip_the_weekend_and_a_holiday(app):
    with app.app_context():
        settings = Settings.current()  # 24 h to accept, 72 h to review
    clock = workhours.Clock(BERLIN, NINE_TO_FIVE, frozenset({dt.date(2027, 1, 11)}))
    friday_evening = dt.datetime(2027, 1, 8, 19, tzinfo=BERLIN)
    deadlines = routing.Deadlines.of(clock, friday_evening, settings)
    # Monday is a holiday: three working days (24 h) from Tuesday 09:00 end Thursday 17:00.
    assert deadlines.expires_at == dt.datetime(2027, 1, 14, 17, tzinfo=BERLIN)
    # 72 working hours are nine days of eight: Tue 12 ... Fri 22 January, 17:00.
    assert deadlines.due_at == dt.datetime(2027, 1, 22, 17, tzinfo=BERLIN)
    # The warning at 75 %: 54 working hours, Wednesday 20 January 15:00.
    assert deadlines.warn_at == dt.datetime(2027, 1, 20, 15, tzinfo=BERLIN)


def test_a_schedule_change_moves_open_due_times_and_is_audited(client, people, token_for):  # noqa: F811
    resume_id = routed_resume(client, token_for, people["learner"])
    assignment = db.session.scalar(select(Assignment).where(Assignment.resume_id == resume_id))
    wall_due = assignment.due_at
    assert wall_due - assignment.offered_at == dt.timedelta(hours=72)  # no schedule: wall clock

    with pytest.raises(Forbidden):
        routing.change_desk_hours(
            people["coach"], workhours.ScheduleInput("Europe/Berlin", NINE_TO_FIVE, {})
        )
    with pytest.raises(ValidationFailed) as refused:
        routing.change_desk_hours(
            people["staff"],
            workhours.ScheduleInput("Mars/Olympus", {0: [(dt.time(17), dt.time(9))]}, {}),
        )
    assert {"timezone", "hours.0"} <= set(refused.value.errors)
    assert db.session.get(Assignment, assignment.id).due_at == wall_due  # nothing changed

    holiday = dt.date.today() + dt.timedelta(days=1)
    moved = routing.change_desk_hours(
        people["staff"],
        workhours.ScheduleInput("Europe/Berlin", NINE_TO_FIVE, {holiday: "Desk closed"}),
        "Office hours from January",
    )
    db.session.commit()
    assert moved == 1
    assignment = db.session.get(Assignment, assignment.id)
    clock = workhours.desk_clock()
    assert holiday in clock.holidays
    assert assignment.due_at == clock.add(assignment.offered_at, dt.timedelta(hours=72))
    assert assignment.due_at > wall_due  # 72 working hours are more than three days
    assert assignment.resume.due_at == assignment.due_at
    assert clock.elapsed(assignment.offered_at, assignment.warn_at) == dt.timedelta(hours=54)
    [entry] = db.session.scalars(
        select(StaffAction).where(StaffAction.action == "desk_hours_changed")
    ).all()
    assert entry.detail == {"moved_due_times": 1} and entry.reason == "Office hours from January"
    assert db.session.scalar(
        select(ResumeEvent).where(
            ResumeEvent.resume_id == resume_id, ResumeEvent.event == "due_moved"
        )
    )
    # The same hours again move nothing.
    assert (
        routing.change_desk_hours(
            people["staff"],
            workhours.ScheduleInput("Europe/Berlin", NINE_TO_FIVE, {holiday: "Desk closed"}),
        )
        == 0
    )


def test_staff_set_the_hours_through_the_api(client, people, token_for):  # noqa: F811
    headers = {"Authorization": f"Bearer {token_for(people['staff'])}"}
    answer = client.get("/api/v1/desk/hours", headers=headers)
    assert answer.status_code == 200 and answer.json["set"] is False
    body = {
        "timezone": "Europe/Berlin",
        "hours": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
        "holidays": [{"day": "2027-01-01", "name": "New Year"}],
        "reason": "Desk hours",
    }
    answer = client.put("/api/v1/desk/hours", json=body, headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["set"] is True and answer.json["timezone"] == "Europe/Berlin"
    assert len(answer.json["hours"]) == 5 and answer.json["holidays"][0]["name"] == "New Year"
    bad = {**body, "hours": [{"weekday": 0, "start": "17:00", "end": "09:00"}]}
    refused = client.put("/api/v1/desk/hours", json=bad, headers=headers)
    assert refused.status_code == 422 and "hours.0" in refused.json["errors"]
    assert len(client.get("/api/v1/desk/hours", headers=headers).json["hours"]) == 5
    coach = {"Authorization": f"Bearer {token_for(people['coach'])}"}
    assert client.put("/api/v1/desk/hours", json=body, headers=coach).status_code == 403


def test_time_off_of_a_day_hands_offers_on_and_shows_sessions_to_staff(
    client,
    people,  # noqa: F811
    token_for,
    make_user,
):
    from services.booking import availability
    from services.models import AvailabilityException
    from tests.support_booking import insert_booking, seed_types

    other = make_user("coach", name="Olly Other", expertise=["ml"], review_capacity=4)
    resume_id = routed_resume(client, token_for, people["learner"])
    assignment = db.session.scalar(select(Assignment).where(Assignment.resume_id == resume_id))
    away_coach = assignment.coach
    now = dt.datetime.now(dt.UTC)
    # A short break does not hand anything on.
    db.session.add(
        AvailabilityException(
            coach_id=away_coach.id,
            start_at=now - dt.timedelta(hours=1),
            end_at=now + dt.timedelta(hours=2),
            available=False,
        )
    )
    db.session.commit()
    assert routing.hand_off_time_off() == 0
    db.session.add(
        AvailabilityException(
            coach_id=away_coach.id,
            start_at=now - dt.timedelta(hours=1),
            end_at=now + dt.timedelta(days=3),
            available=False,
        )
    )
    seed_types()
    session = insert_booking(people["learner"].id, away_coach.id, now + dt.timedelta(days=1))
    db.session.commit()
    assert routing.hand_off_time_off() == 1
    db.session.commit()
    assert routing.hand_off_time_off() == 0  # safe twice
    assert db.session.get(Assignment, assignment.id).status == "withdrawn"
    live = db.session.scalar(
        select(Assignment).where(Assignment.resume_id == resume_id, Assignment.status == "offered")
    )
    assert live is not None and live.coach_id == other.id
    assert [b.id for b in availability.during_time_off()] == [session.id]


def test_staff_set_the_hours_on_their_page(app, people):  # noqa: F811
    from tests.support_auth import post_form, sign_in

    client = app.test_client()
    sign_in(client, people["staff"].email)
    page = client.get("/staff/desk-hours")
    assert page.status_code == 200 and "wall clock" in page.get_data(as_text=True)
    data = {"timezone": "Europe/Berlin", "reason": "Desk hours", "holidays": "2027-01-01 New Year"}
    for day in range(5):
        data[f"d{day}_start"], data[f"d{day}_end"] = "09:00", "17:00"
    refused = post_form(
        client, "/staff/desk-hours", {**data, "holidays": "New Year"}, form_page="/staff/desk-hours"
    )
    assert refused.status_code == 200 and "start with a date" in refused.get_data(as_text=True)
    refused = post_form(
        client, "/staff/desk-hours", {**data, "d5_start": "10:00"}, form_page="/staff/desk-hours"
    )
    assert "start and end, or neither" in refused.get_data(as_text=True)
    assert workhours.desk_clock().wall
    saved = post_form(client, "/staff/desk-hours", data, form_page="/staff/desk-hours")
    assert saved.status_code == 302
    clock = workhours.desk_clock()
    assert not clock.wall and dt.date(2027, 1, 1) in clock.holidays
    assert sorted(clock.hours) == [0, 1, 2, 3, 4]
    html = client.get("/staff/desk-hours").get_data(as_text=True)
    assert "2027-01-01 New Year" in html and 'value="09:00"' in html


def _own_week(coach, hours: tuple[int, int] = (0, 12)) -> None:
    """Every day from ``hours[0]`` to ``hours[1]`` o'clock in the coach's zone (UTC here)."""
    from services.models import AvailabilityRule

    for weekday in range(7):
        db.session.add(
            AvailabilityRule(
                coach_id=coach.id,
                weekday=weekday,
                start_time=dt.time(hours[0]),
                end_time=dt.time(hours[1]),
            )
        )
    db.session.commit()


def test_a_coach_on_their_own_hours_counts_their_week_everywhere(
    client,
    people,  # noqa: F811
    token_for,
    make_user,
):
    from services.models import Resume

    coach = people["coach"]
    coach.timezone = "UTC"
    _own_week(coach)  # twelve hours a day, every day
    resume_id = routed_resume(client, token_for, people["learner"])
    assignment = db.session.scalar(select(Assignment).where(Assignment.resume_id == resume_id))
    assert assignment.due_at - assignment.offered_at == dt.timedelta(hours=72)  # the wall clock
    headers = {"Authorization": f"Bearer {token_for(people['staff'])}"}
    body = {
        "timezone": "Europe/Berlin",
        "hours": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
        "reason": "Cora's own week",
    }
    learner = people["learner"]
    refused = client.put(
        "/api/v1/desk/hours", json={**body, "own_hours_coach_ids": [learner.id]}, headers=headers
    )
    assert refused.status_code == 422 and "own_hours_coach_ids" in refused.json["errors"]
    assert (
        workhours.desk_clock().wall
        and not db.session.get(type(coach), coach.id).deadlines_own_hours
    )

    answer = client.put(
        "/api/v1/desk/hours", json={**body, "own_hours_coach_ids": [coach.id]}, headers=headers
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["own_hours_coach_ids"] == [coach.id]
    db.session.expire_all()
    own = workhours.clock_for(coach.id)
    assert own.hours is not None and own != workhours.desk_clock()
    assignment = db.session.get(Assignment, assignment.id)
    # The open offer moved by Cora's clock (12 h a day: six days of 12), not the desk's.
    assert assignment.due_at == own.add(assignment.offered_at, dt.timedelta(hours=72))
    assert own.elapsed(assignment.offered_at, assignment.warn_at) == dt.timedelta(hours=54)
    assert own.elapsed(assignment.offered_at, assignment.expires_at) == dt.timedelta(hours=24)
    desk_due = workhours.desk_clock().add(assignment.offered_at, dt.timedelta(hours=72))
    assert assignment.due_at != desk_due
    # Leaving the list out of a PUT leaves Cora on her own week.
    assert client.put("/api/v1/desk/hours", json=body, headers=headers).json[
        "own_hours_coach_ids"
    ] == [coach.id]

    # A new offer to her counts her clock from the start.
    second = routed_resume(client, token_for, make_user("learner", name="Lia"))
    offer = db.session.scalar(select(Assignment).where(Assignment.resume_id == second))
    assert offer.coach_id == coach.id
    assert offer.due_at == own.add(offer.offered_at, dt.timedelta(hours=72))

    # Ages in the queue and the backlog count her clock: queued 30 wall hours ago is about 15
    # working hours, under a day; the desk's clock (wall until…) would say more than a day.
    now = dt.datetime.now(dt.UTC)
    db.session.execute(
        update(Resume).where(Resume.id == resume_id).values(queued_at=now - dt.timedelta(hours=30))
    )
    db.session.commit()
    queue_page = client.get("/api/v1/queue", headers=headers).json["items"]
    item = next(i for i in queue_page if i["id"] == resume_id)
    expected = own.elapsed(now - dt.timedelta(hours=30), now).total_seconds() / 3600
    assert abs(item["age_hours"] - expected) < 0.1 and item["age_hours"] < 24
    stats = client.get("/api/v1/stats", headers=headers).json
    buckets = {b["bucket"]: b["count"] for b in stats["backlog"]["by_age"]}
    assert buckets["under_1d"] == 2 and buckets["1d_3d"] == 0

    # Her own week changes (six hours a day now, by the API): her open offers move with it.
    coach_headers = {"Authorization": f"Bearer {token_for(coach)}"}
    week = {
        "timezone": "UTC",
        "rules": [{"weekday": d, "start": "06:00", "end": "12:00"} for d in range(7)],
        "exceptions": [],
    }
    answer = client.put("/api/v1/coaches/me/availability", json=week, headers=coach_headers)
    assert answer.status_code == 200, answer.json
    db.session.expire_all()
    shorter = workhours.clock_for(coach.id)
    offer = db.session.get(Assignment, offer.id)
    assert offer.due_at == shorter.add(offer.offered_at, dt.timedelta(hours=72))
    assert offer.due_at > own.add(offer.offered_at, dt.timedelta(hours=72))
    assert db.session.scalar(
        select(StaffAction).where(
            StaffAction.action == "coach_hours_changed", StaffAction.actor_id == coach.id
        )
    ).detail == {"moved_due_times": 2}

    # Taken off her own week, her offers count the desk's hours again.
    answer = client.put(
        "/api/v1/desk/hours", json={**body, "own_hours_coach_ids": []}, headers=headers
    )
    assert answer.json["own_hours_coach_ids"] == []
    db.session.expire_all()
    desk = workhours.desk_clock()
    assert workhours.clock_for(coach.id) == desk
    offer = db.session.get(Assignment, offer.id)
    assert offer.due_at == desk.add(offer.offered_at, dt.timedelta(hours=72))
    stats = client.get("/api/v1/stats", headers=headers).json
    buckets = {b["bucket"]: b["count"] for b in stats["backlog"]["by_age"]}
    # 30 wall hours back from now on the desk's 9-to-5: its working age depends on the weekday,
    # so compare with the clock's own answer.
    age = desk.elapsed(now - dt.timedelta(hours=30), now)
    assert buckets["under_1d" if age < dt.timedelta(days=1) else "1d_3d"] >= 1


def test_time_off_closes_a_coach_own_clock(app, make_user):
    from services.models import AvailabilityException

    coach = make_user("coach", name="Tim", timezone="UTC")
    coach.deadlines_own_hours = True
    _own_week(coach, (9, 17))
    monday = dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC)
    assert workhours.clock_for(coach.id).add(
        monday, dt.timedelta(hours=16)
    ) == monday + dt.timedelta(days=1, hours=8)
    db.session.add(
        AvailabilityException(
            coach_id=coach.id,
            start_at=monday,
            end_at=monday + dt.timedelta(days=1),
            available=False,
        )
    )
    db.session.commit()
    # Monday off: the 16 hours are Tuesday's and Wednesday's.
    assert workhours.clock_for(coach.id).add(
        monday, dt.timedelta(hours=16)
    ) == monday + dt.timedelta(days=2, hours=8)
    # A coach without weekly hours counts the desk's clock.
    bare = make_user("coach", name="Bea")
    bare.deadlines_own_hours = True
    db.session.commit()
    assert workhours.clock_for(bare.id) == workhours.desk_clock()


def test_time_off_over_a_session_tells_its_learner_and_staff_once(client, make_user, token_for):
    from services.booking import availability
    from services.models import Notification
    from tests.support_booking import events, insert_booking, make_coach, process_all, seed_types

    seed_types()
    coach, learner = make_coach(make_user, "UTC"), make_user("learner", name="Lou")
    staff = make_user("staff", name="Sam")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    inside = insert_booking(learner.id, coach.id, now + dt.timedelta(days=2))
    short = insert_booking(learner.id, coach.id, now + dt.timedelta(days=10))
    db.session.commit()
    # Two hours off over the later session: a break, not time off to move sessions for.
    availability.add_exception(
        coach.id,
        availability.ExceptionInput(
            now + dt.timedelta(days=10), now + dt.timedelta(days=10, hours=2)
        ),
    )
    db.session.commit()
    assert events("booking.coach_away") == []
    availability.add_exception(
        coach.id,
        availability.ExceptionInput(
            now + dt.timedelta(days=1), now + dt.timedelta(days=4), reason="Conference"
        ),
    )
    db.session.commit()
    [event] = events("booking.coach_away")
    assert event.payload == {"booking_id": inside.id}
    # The API's PUT with the same exceptions (and a new weekly rule) tells nobody again.
    headers = {"Authorization": f"Bearer {token_for(coach)}"}
    current = client.get("/api/v1/coaches/me/availability", headers=headers).json
    current["rules"] = [{"weekday": 0, "start": "09:00", "end": "12:00"}]
    current["exceptions"] = [
        {k: v for k, v in e.items() if k != "id"} for e in current["exceptions"]
    ]
    answer = client.put("/api/v1/coaches/me/availability", json=current, headers=headers)
    assert answer.status_code == 200, answer.json
    assert len(events("booking.coach_away")) == 1
    process_all()
    told = {
        n.user_id: n
        for n in db.session.scalars(
            select(Notification).where(Notification.kind == "booking_coach_away")
        )
    }
    assert set(told) == {learner.id, staff.id}
    assert "staff will move it" in told[learner.id].body
    assert short.id not in {e.payload["booking_id"] for e in events("booking.coach_away")}
