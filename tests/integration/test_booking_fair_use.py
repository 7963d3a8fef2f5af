"""Fair use (limits per type, coach caps, no-show suspensions) and the waitlist."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from services import audit
from services.booking import waitlist
from services.db import db, utcnow
from services.models import (
    Booking,
    Delivery,
    LearnerSuspension,
    WaitlistEntry,
)
from tests.support_booking import (
    at,
    auth,
    book,
    events,
    extra_hours,
    future_weekday,
    insert_booking,
    make_coach,
    process_all,
    seed_types,
)


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, "UTC", name="Casey Coach")
    learner = make_user("learner", name="Lee Learner")
    return {
        "coach": coach,
        "learner": learner,
        "token": token_for(learner),
        "coach_token": token_for(coach),
        "staff_token": token_for(make_user("staff")),
        "day": future_weekday(3),
    }


def test_at_most_two_upcoming_sessions_of_one_type(client, world):
    day = world["day"]
    assert book(client, world["token"], at(day, 9)).status_code == 201
    assert book(client, world["token"], at(day, 11)).status_code == 201
    third = book(client, world["token"], at(day, 13))
    assert third.status_code == 409
    assert third.json["code"] == "booking_limit_reached"
    # Another type is fine.
    assert book(client, world["token"], at(day, 15), type_="behavioral").status_code == 201


def test_round_robin_respects_a_coachs_daily_cap(client, world, make_user, token_for):
    other = make_coach(make_user, "UTC", name="Dana Coach")
    response = client.put(
        "/api/v1/coaches/me/availability",
        json={
            "timezone": "UTC",
            "rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
            "daily_session_cap": 1,
        },
        headers=auth(world["coach_token"]),
    )
    assert response.status_code == 200, response.json
    day = world["day"]
    first = book(client, world["token"], at(day, 9), coach_id=world["coach"].id)
    assert first.status_code == 201
    # Casey is full that day: round robin gives Dana, asking for Casey is refused.
    second = book(client, token_for(make_user("learner")), at(day, 14))
    assert second.json["coach"]["id"] == other.id
    third = book(client, token_for(make_user("learner")), at(day, 15), coach_id=world["coach"].id)
    assert third.status_code == 409
    assert third.json["code"] == "slot_unavailable"
    slots = client.get(
        f"/api/v1/slots?type=coding&start={day}&end={day}&tz=UTC&coach_id={world['coach'].id}",
        headers=auth(world["token"]),
    ).json["slots"]
    assert slots == []


def past(days_ago: int, hour: int = 10) -> dt.datetime:
    return (utcnow() - dt.timedelta(days=days_ago)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def test_three_no_shows_in_sixty_days_pause_booking_until_staff_lift_it(client, world):
    ids = [
        insert_booking(world["learner"].id, world["coach"].id, past(days)).id
        for days in (50, 20, 2)
    ]
    for booking_id in ids[:2]:
        response = client.post(
            f"/api/v1/bookings/{booking_id}/outcome",
            json={"status": "no_show"},
            headers=auth(world["coach_token"]),
        )
        assert response.status_code == 200
        assert response.json["status"] == "no_show"
    assert book(client, world["token"], at(world["day"], 9)).status_code == 201
    client.post(
        f"/api/v1/bookings/{ids[2]}/outcome",
        json={"status": "no_show"},
        headers=auth(world["coach_token"]),
    )
    refused = book(client, world["token"], at(world["day"], 11), type_="behavioral")
    assert refused.status_code == 403
    assert refused.json["code"] == "booking_suspended"
    assert "missed 3 sessions in 60 days" in refused.json["detail"]
    # The learner is told why, in-app and by email.
    assert len(events("booking.learner_suspended")) == 1
    process_all()
    mail = db.session.scalars(select(Delivery).where(Delivery.kind == "booking_suspended")).all()
    assert [d.to_address for d in mail] == [world["learner"].email]
    assert "missed 3 sessions" in mail[0].text_body
    # Staff see it and lift it.
    listed = client.get("/api/v1/suspensions", headers=auth(world["staff_token"])).json["items"]
    assert [s["learner"]["id"] for s in listed] == [world["learner"].id]
    assert client.get("/api/v1/suspensions", headers=auth(world["token"])).status_code == 403
    lifted = client.post(
        f"/api/v1/suspensions/{listed[0]['id']}/lift",
        json={"reason": "train delays, confirmed"},
        headers=auth(world["staff_token"]),
    )
    assert lifted.status_code == 200
    assert lifted.json["lifted_at"] is not None
    [entry] = audit.entries(audit.AuditFilter(action="suspension.lift")).items
    assert entry.subject_id == listed[0]["id"] and entry.reason == "train delays, confirmed"
    again = client.post(
        f"/api/v1/suspensions/{listed[0]['id']}/lift",
        json={},
        headers=auth(world["staff_token"]),
    )
    assert again.status_code == 409 and again.json["code"] == "conflict"
    assert book(client, world["token"], at(world["day"], 11), type_="behavioral").status_code == 201
    # The same three no-shows do not suspend again.
    extra = insert_booking(world["learner"].id, world["coach"].id, past(1, 12))
    client.post(
        f"/api/v1/bookings/{extra.id}/outcome",
        json={"status": "completed"},
        headers=auth(world["coach_token"]),
    )
    assert (
        db.session.scalar(select(LearnerSuspension).where(LearnerSuspension.lifted_at.is_(None)))
        is None
    )


def test_outcomes_are_for_the_coach_after_the_start(client, world, make_user, token_for):
    upcoming = book(client, world["token"], at(world["day"], 9)).json
    url = f"/api/v1/bookings/{upcoming['id']}/outcome"
    early = client.post(url, json={"status": "completed"}, headers=auth(world["coach_token"]))
    assert early.status_code == 409
    assert early.json["code"] == "invalid_state"
    assert (
        client.post(url, json={"status": "completed"}, headers=auth(world["token"])).status_code
        == 403
    )
    other_coach = token_for(make_coach(make_user, "UTC"))
    assert (
        client.post(url, json={"status": "completed"}, headers=auth(other_coach)).status_code == 404
    )
    bad = client.post(url, json={"status": "great"}, headers=auth(world["coach_token"]))
    assert bad.status_code == 422


# --- waitlist ------------------------------------------------------------------------------------


@pytest.fixture
def scarce(db_session, make_user, token_for):
    """A coach with exactly one slot in the whole horizon (extra hours, no weekly rules)."""
    seed_types()
    coach = make_user("coach", timezone="UTC", expertise=["python"], name="Solo Coach")
    start = at(future_weekday(4), 10)
    extra_hours(coach.id, start)
    db.session.commit()
    learners = [make_user("learner", name=f"Learner {i}") for i in range(3)]
    return {
        "coach": coach,
        "start": start,
        "learners": learners,
        "tokens": [token_for(learner) for learner in learners],
    }


def join(client, token, **body):
    return client.post("/api/v1/waitlist", json={"type": "coding", **body}, headers=auth(token))


def test_join_is_refused_while_slots_are_free(client, scarce):
    response = join(client, scarce["tokens"][1])
    assert response.status_code == 409
    assert response.json["code"] == "slots_available"


def test_a_freed_slot_is_held_for_the_first_in_line_then_passes_on(client, scarce):
    first, second, third = scarce["tokens"]
    start = scarce["start"]
    booked = book(client, first, start).json
    waiting = join(client, second)
    assert waiting.status_code == 201, waiting.json
    assert waiting.json["status"] == "waiting"
    again = join(client, second)
    assert again.json["id"] == waiting.json["id"]  # joining twice is one entry
    later = join(client, third, day=start.date().isoformat(), tz="UTC")
    assert later.status_code == 201

    client.post(f"/api/v1/bookings/{booked['id']}/cancel", json={}, headers=auth(first))
    now = utcnow()
    assert waitlist.match(now=now) == 1
    db.session.commit()
    entries = client.get("/api/v1/waitlist", headers=auth(second)).json["items"]
    assert entries[0]["status"] == "offered"
    assert entries[0]["offer"]["start"] == start.isoformat()
    # Held: nobody else sees it or can book it meanwhile.
    slots = client.get(
        f"/api/v1/slots?type=coding&start={start.date()}&end={start.date()}&tz=UTC",
        headers=auth(third),
    ).json["slots"]
    assert slots == []
    assert book(client, third, start).json["code"] == "slot_unavailable"
    # Offered by email and in-app.
    process_all()
    offer_mail = db.session.scalars(select(Delivery).where(Delivery.kind == "waitlist_offer")).all()
    assert [d.to_address for d in offer_mail] == [scarce["learners"][1].email]

    # Thirty minutes pass: it goes to the next in line.
    assert waitlist.match(now=now + dt.timedelta(minutes=31)) == 0
    db.session.commit()
    assert (
        client.get("/api/v1/waitlist", headers=auth(second)).json["items"][0]["status"] == "expired"
    )
    lapsed = client.post(f"/api/v1/waitlist/{waiting.json['id']}/accept", headers=auth(second))
    assert lapsed.status_code == 409
    assert lapsed.json["code"] == "offer_expired"
    mine = client.get("/api/v1/waitlist", headers=auth(third)).json["items"][0]
    assert mine["status"] == "offered"
    accepted = client.post(f"/api/v1/waitlist/{mine['id']}/accept", headers=auth(third))
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["status"] == "confirmed"
    assert accepted.json["start"] == start.isoformat()
    assert accepted.json["learner"]["id"] == scarce["learners"][2].id
    assert (
        client.get("/api/v1/waitlist", headers=auth(third)).json["items"][0]["status"] == "booked"
    )
    listed = client.get("/api/v1/bookings", headers=auth(third)).json["items"]
    assert [b["id"] for b in listed] == [accepted.json["id"]]


def test_a_declined_offer_with_nobody_else_waiting_frees_the_slot(client, scarce):
    first, second, _ = scarce["tokens"]
    booked = book(client, first, scarce["start"]).json
    entry = join(client, second).json
    client.post(f"/api/v1/bookings/{booked['id']}/cancel", json={}, headers=auth(first))
    waitlist.match()
    db.session.commit()
    declined = client.post(f"/api/v1/waitlist/{entry['id']}/decline", headers=auth(second))
    assert declined.status_code == 200
    assert declined.json["status"] == "expired"
    holds = db.session.scalars(select(Booking).where(Booking.status == "held")).all()
    assert holds == []
    # Free for everyone again; and a held offer never shows up as a booking.
    assert book(client, first, scarce["start"]).status_code == 201


def test_new_availability_is_offered_to_the_waitlist(client, scarce, make_user, token_for):
    first, second, _ = scarce["tokens"]
    assert book(client, first, scarce["start"]).status_code == 201
    entry = join(client, second).json
    assert waitlist.match() == 0
    coach_token = token_for(scarce["coach"])
    extra = scarce["start"] + dt.timedelta(days=1)
    response = client.put(
        "/api/v1/coaches/me/availability",
        json={
            "timezone": "UTC",
            "rules": [],
            "exceptions": [
                {
                    "start": scarce["start"].isoformat(),
                    "end": (scarce["start"] + dt.timedelta(minutes=45)).isoformat(),
                    "available": True,
                },
                {
                    "start": extra.isoformat(),
                    "end": (extra + dt.timedelta(hours=1)).isoformat(),
                    "available": True,
                },
            ],
        },
        headers=auth(coach_token),
    )
    assert response.status_code == 200, response.json
    assert waitlist.match() == 1
    db.session.commit()
    row = db.session.get(WaitlistEntry, entry["id"])
    assert row.status == "offered"
    assert row.hold.start_at == extra


def test_leaving_the_waitlist(client, scarce):
    book(client, scarce["tokens"][0], scarce["start"])
    entry = join(client, scarce["tokens"][1]).json
    assert (
        client.delete(
            f"/api/v1/waitlist/{entry['id']}", headers=auth(scarce["tokens"][2])
        ).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/v1/waitlist/{entry['id']}", headers=auth(scarce["tokens"][1])
        ).status_code
        == 204
    )
    assert db.session.get(WaitlistEntry, entry["id"]).status == "cancelled"
