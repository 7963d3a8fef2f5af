"""The booking contract (the served OpenAPI document): slots, booking, validation, idempotency,
visibility."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from services.db import db
from services.models import Booking, IdempotencyKey
from tests.support_booking import at, auth, book, future_weekday, iso, make_coach, seed_types


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, "UTC", name="Casey Coach")
    learner = make_user("learner", timezone="America/New_York", name="Lee Learner")
    return {
        "coach": coach,
        "learner": learner,
        "token": token_for(learner),
        "day": future_weekday(3),
    }


def bookings_count() -> int:
    return db.session.scalar(select(func.count(Booking.id))) or 0


def test_interview_types_are_seeded_with_their_durations(client, world):
    response = client.get("/api/v1/interview-types", headers=auth(world["token"]))
    assert response.status_code == 200
    durations = {t["slug"]: t["duration_minutes"] for t in response.json["items"]}
    assert durations == {
        "behavioral": 45,
        "technical-ml": 60,
        "ml-system-design": 60,
        "coding": 45,
    }


def test_slots_are_grouped_in_the_viewers_zone_inside_availability(client, world):
    day = world["day"]
    response = client.get(
        f"/api/v1/slots?type=coding&start={day}&end={day}&tz=Europe/Berlin",
        headers=auth(world["token"]),
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["timezone"] == "Europe/Berlin"
    starts = [dt.datetime.fromisoformat(s["start"]) for s in body["slots"]]
    # The coach works 09:00-17:00 UTC; a 45-minute session on the :00/:30 grid, shown in Berlin.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    expected_offset = at(day, 9).astimezone(berlin).utcoffset()
    assert all(s.utcoffset() == expected_offset for s in starts)
    utc = [s.astimezone(dt.UTC) for s in starts]
    assert utc[0] == at(day, 9)
    assert utc[-1] == at(day, 16)  # 16:00 + 45 min ends by 17:00; 16:30 would not
    assert len(utc) == 15
    assert all(s["coach_ids"] == [world["coach"].id] for s in body["slots"])
    ends = [dt.datetime.fromisoformat(s["end"]) for s in body["slots"]]
    assert all(e - s == dt.timedelta(minutes=45) for s, e in zip(starts, ends, strict=True))


def test_slots_default_to_the_callers_zone(client, world):
    day = world["day"]
    response = client.get(
        f"/api/v1/slots?type=coding&start={day}&end={day + dt.timedelta(days=1)}",
        headers=auth(world["token"]),
    )
    assert response.json["timezone"] == "America/New_York"
    first = dt.datetime.fromisoformat(response.json["slots"][0]["start"])
    assert (
        first.utcoffset()
        == at(day, 9).astimezone(zoneinfo.ZoneInfo("America/New_York")).utcoffset()
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=nope", "type"),
        ("type=coding&tz=Mars/Olympus", "tz"),
        ("type=coding&tz=../../etc/passwd", "tz"),
        ("type=coding&start=2027-01-10&end=2027-01-01", "end"),
        ("type=coding&start=2027-01-01&end=2027-03-10", "end"),
        ("type=coding&start=2027-13-01", "start"),
        ("type=coding&coach_id=999999", "coach_id"),
        ("", "type"),
    ],
)
def test_bad_slot_queries_are_422_problems(client, world, query, field):
    response = client.get(f"/api/v1/slots?{query}", headers=auth(world["token"]))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


def test_slots_need_a_token_and_a_learner_or_staff(client, world, make_user, token_for):
    assert client.get("/api/v1/slots?type=coding").status_code == 401
    coach_token = token_for(world["coach"])
    response = client.get("/api/v1/slots?type=coding", headers=auth(coach_token))
    assert response.status_code == 403
    staff = make_user("staff")
    assert (
        client.get("/api/v1/slots?type=coding", headers=auth(token_for(staff))).status_code == 200
    )


def test_booking_answers_201_with_the_contract_shape(client, world):
    start = at(world["day"], 10)
    response = book(client, world["token"], start, notes="Graph questions please")
    assert response.status_code == 201, response.json
    body = response.json
    assert {
        "id",
        "status",
        "type",
        "start",
        "end",
        "coach",
        "learner",
        "meeting_url",
        "created_at",
    } <= set(body)
    assert body["status"] == "confirmed"
    assert body["type"] == "coding"
    assert dt.datetime.fromisoformat(body["start"]) == start
    assert body["start"].endswith("+00:00")
    assert dt.datetime.fromisoformat(body["end"]) == start + dt.timedelta(minutes=45)
    assert body["coach"] == {"id": world["coach"].id, "name": "Casey Coach"}
    assert body["learner"] == {"id": world["learner"].id, "name": "Lee Learner"}
    assert body["meeting_url"].startswith("https://")
    assert response.headers["Location"] == f"/api/v1/bookings/{body['id']}"
    again = client.get(f"/api/v1/bookings/{body['id']}", headers=auth(world["token"]))
    assert again.status_code == 200
    assert again.json["id"] == body["id"]
    assert again.json["history"][0]["event"] == "booked"


def test_a_booked_slot_and_its_buffer_leave_the_slot_list(client, world):
    day = world["day"]
    assert book(client, world["token"], at(day, 10)).status_code == 201
    response = client.get(
        f"/api/v1/slots?type=coding&start={day}&end={day}&tz=UTC", headers=auth(world["token"])
    )
    starts = {dt.datetime.fromisoformat(s["start"]) for s in response.json["slots"]}
    # 10:00-10:45 plus a 15-minute buffer after: 10:00 and 10:30 are gone, 9:00 and 11:00 stay.
    assert at(day, 10) not in starts
    assert at(day, 10, 30) not in starts
    assert at(day, 9) in starts  # 9:00-9:45 + 15 min buffer ends at 10:00 exactly
    assert at(day, 11) in starts


def test_the_same_slot_twice_is_409_slot_unavailable_and_writes_nothing(
    client, world, make_user, token_for
):
    start = at(world["day"], 11)
    assert book(client, world["token"], start).status_code == 201
    other = token_for(make_user("learner"))
    before = bookings_count()
    response = book(client, other, start, coach_id=world["coach"].id)
    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"
    assert response.mimetype == "application/problem+json"
    # Inside the first session's buffer, too.
    assert book(client, other, at(world["day"], 11, 30)).json["code"] == "slot_unavailable"
    assert bookings_count() == before


def test_the_database_refuses_an_overlap_that_skips_the_checks(client, world):
    """The invariant holds without the service: a raw overlapping insert is refused."""
    from sqlalchemy.exc import IntegrityError

    start = at(world["day"], 12)
    first = book(client, world["token"], start).json
    row = db.session.get(Booking, first["id"])
    clone = Booking(
        uid="clone@test",
        learner_id=row.learner_id,
        coach_id=row.coach_id,
        interview_type_id=row.interview_type_id,
        start_at=row.start_at + dt.timedelta(minutes=30),
        end_at=row.end_at + dt.timedelta(minutes=30),
        block_start_at=row.block_start_at + dt.timedelta(minutes=30),
        block_end_at=row.block_end_at + dt.timedelta(minutes=30),
        meeting_url="https://example.com/x",
    )
    db.session.add(clone)
    with pytest.raises(IntegrityError, match="ex_booking_coach_overlap"):
        db.session.flush()
    db.session.rollback()


def test_round_robin_spreads_learners_over_free_coaches(client, world, make_user, token_for):
    second = make_coach(make_user, "UTC", name="Dana Coach")
    start = at(world["day"], 13)
    a = book(client, world["token"], start).json
    b = book(client, token_for(make_user("learner")), start).json
    assert {a["coach"]["id"], b["coach"]["id"]} == {world["coach"].id, second.id}
    third = book(client, token_for(make_user("learner")), start)
    assert third.status_code == 409
    assert third.json["code"] == "slot_unavailable"


def test_round_robin_picks_the_least_booked_coach(client, world, make_user, token_for):
    second = make_coach(make_user, "UTC", name="Dana Coach")
    day = world["day"]
    book(client, world["token"], at(day, 9), coach_id=world["coach"].id)
    other = token_for(make_user("learner"))
    response = book(client, other, at(day, 14))
    assert response.json["coach"]["id"] == second.id  # the first coach already has one


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "coding", "start": "2020-01-06T10:00:00+00:00"}, "start"),  # past
        ({"type": "unknown", "start": None}, "type"),
        ({"type": "coding", "start": "2030-01-07T10:00:00+00:00"}, "start"),  # beyond horizon
        ({"type": "coding", "start": "not a time"}, "start"),
        ({"type": "coding", "start": "2027-01-07T10:00:00"}, "start"),  # no offset
        ({"type": "coding"}, "start"),
        ({"type": "coding", "start": None, "coach_id": 999999}, "coach_id"),
        ({"type": "coding", "start": None, "unexpected": 1}, "unexpected"),
    ],
)
def test_bad_bookings_are_422_and_write_nothing(client, world, body, field):
    if "start" in body and body["start"] is None:
        body["start"] = iso(at(world["day"], 10))
    before = bookings_count()
    response = client.post("/api/v1/bookings", json=body, headers=auth(world["token"]))
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]
    assert response.json["detail"]
    assert bookings_count() == before


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (lambda day: at(day, 10, 15), "grid"),
        (lambda day: at(day, 20), "available"),  # outside the coach's hours
        (lambda day: at(day + dt.timedelta(days=(5 - day.weekday()) % 7 or 7), 10), "available"),
        (
            lambda day: (
                dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(hours=2)
            ),
            "notice",
        ),
    ],
)
def test_times_off_the_grid_off_a_slot_or_inside_the_notice_are_422(client, world, when, message):
    before = bookings_count()
    response = book(client, world["token"], when(world["day"]))
    assert response.status_code == 422
    assert message in response.json["errors"]["start"][0]
    assert response.mimetype == "application/problem+json"
    assert bookings_count() == before


def test_malformed_json_is_a_400_problem(client, world):
    response = client.post(
        "/api/v1/bookings",
        data="{not json",
        content_type="application/json",
        headers=auth(world["token"]),
    )
    assert response.status_code == 400
    assert response.json["code"] == "malformed_json"
    assert bookings_count() == 0


def test_only_learners_book(client, world, make_user, token_for):
    staff = token_for(make_user("staff"))
    response = book(client, staff, at(world["day"], 10))
    assert response.status_code == 403


def test_an_idempotency_key_returns_the_first_answer_and_books_once(client, world):
    start = at(world["day"], 15)
    first = book(client, world["token"], start, key="retry-1")
    assert first.status_code == 201
    before = bookings_count()
    second = book(client, world["token"], start, key="retry-1")
    assert second.status_code == 201
    assert second.json["id"] == first.json["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert bookings_count() == before
    # The same key with another request is refused, not silently replayed.
    other = book(client, world["token"], at(world["day"], 9), key="retry-1")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json["errors"]
    assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 1


def test_keys_are_per_learner(client, world, make_user, token_for):
    other = token_for(make_user("learner"))
    a = book(client, world["token"], at(world["day"], 9), key="same")
    b = book(client, other, at(world["day"], 14), key="same")
    assert a.status_code == b.status_code == 201
    assert a.json["id"] != b.json["id"]


def test_a_learner_never_holds_two_overlapping_sessions(client, world, make_user):
    make_coach(make_user, "UTC", name="Dana Coach")
    assert book(client, world["token"], at(world["day"], 10)).status_code == 201
    response = book(client, world["token"], at(world["day"], 10, 30), type_="technical-ml")
    assert response.status_code == 409
    assert response.json["code"] == "slot_unavailable"
    assert "already have a session" in response.json["detail"]
    assert bookings_count() == 1


def test_each_role_sees_what_is_theirs_and_404_otherwise(client, world, make_user, token_for):
    mine = book(client, world["token"], at(world["day"], 10)).json
    stranger = token_for(make_user("learner"))
    other_coach = token_for(make_coach(make_user, "UTC"))
    staff = token_for(make_user("staff"))
    coach = token_for(world["coach"])
    url = f"/api/v1/bookings/{mine['id']}"
    assert client.get(url, headers=auth(stranger)).status_code == 404
    assert client.get(url, headers=auth(other_coach)).status_code == 404
    assert client.get(url, headers=auth(coach)).status_code == 200
    assert client.get(url, headers=auth(staff)).status_code == 200
    assert client.get(url + "/ics", headers=auth(stranger)).status_code == 404
    assert client.post(url + "/cancel", json={}, headers=auth(stranger)).status_code == 404
    assert client.get("/api/v1/bookings/999999", headers=auth(staff)).status_code == 404

    def ids(token, query=""):
        return [
            b["id"]
            for b in client.get(f"/api/v1/bookings{query}", headers=auth(token)).json["items"]
        ]

    assert ids(world["token"]) == [mine["id"]]
    assert ids(stranger) == []
    assert ids(coach) == [mine["id"]]
    assert ids(other_coach) == []
    assert mine["id"] in ids(staff)


def test_the_list_filters_and_pages(client, world):
    day = world["day"]
    ids = [book(client, world["token"], at(day, h)).json["id"] for h in (9, 11)]
    headers = auth(world["token"])
    page = client.get("/api/v1/bookings?limit=1", headers=headers).json
    assert [b["id"] for b in page["items"]] == ids[:1]
    rest = client.get(f"/api/v1/bookings?limit=1&cursor={page['next_cursor']}", headers=headers)
    assert [b["id"] for b in rest.json["items"]] == ids[1:]
    assert rest.json["next_cursor"] is None
    later = client.get(f"/api/v1/bookings?from={quote(iso(at(day, 10)))}", headers=headers).json
    assert [b["id"] for b in later["items"]] == ids[1:]
    that_day = client.get(f"/api/v1/bookings?from={day}&to={day}", headers=headers).json
    assert len(that_day["items"]) == 2
    none = client.get("/api/v1/bookings?status=cancelled", headers=headers).json
    assert none["items"] == []
    bad = client.get("/api/v1/bookings?status=weird", headers=headers)
    assert bad.status_code == 422
    bad = client.get("/api/v1/bookings?from=yesterday", headers=headers)
    assert bad.status_code == 422


def test_the_openapi_document_names_the_booking_errors(client, world):
    spec = client.get("/api/v1/openapi.json").json
    post = spec["paths"]["/api/v1/bookings"]["post"]
    assert {"201", "409", "422"} <= set(post["responses"])
    assert "slot_unavailable" in post["responses"]["409"]["description"]
    cancel = spec["paths"]["/api/v1/bookings/{booking_id}/cancel"]["post"]
    assert "too_late_to_cancel" in cancel["responses"]["409"]["description"]
    assert "/api/v1/coaches/me/availability" in spec["paths"]
    assert (
        "text/calendar"
        in spec["paths"]["/api/v1/bookings/{booking_id}/ics"]["get"]["responses"]["200"]["content"]
    )
