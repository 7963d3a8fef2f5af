"""What the API takes is what its OpenAPI document says, no more: a JSON body only as JSON, a
required one present, JSON types as JSON Schema means them, query values in their one spelling,
no NUL in text, time zones a person may pick; each refusal a problem that changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from services.db import db
from services.models import Booking, User
from tests.support_booking import at, auth, book, future_weekday, make_coach, seed_types

PROBLEM = "application/problem+json"


@pytest.fixture
def people(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, "UTC", name="Casey Coach")
    learner = make_user("learner", name="Lee Learner")
    staff = make_user("staff", name="Sam Staff")
    return {
        "coach": coach,
        "learner": learner,
        "learner_token": token_for(learner),
        "coach_token": token_for(coach),
        "staff_token": token_for(staff),
    }


def name_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).name


def test_a_json_body_sent_as_another_type_is_a_415_problem_and_changes_nothing(client, people):
    response = client.patch(
        "/api/v1/me",
        data='{"name": "Someone Else"}',
        content_type="text/plain",
        headers=auth(people["learner_token"]),
    )
    assert (response.status_code, response.mimetype) == (415, PROBLEM)
    assert response.json["code"] == "unsupported_media_type"
    assert name_of(people["learner"].id) == "Lee Learner"
    form = client.post(
        "/api/v1/bookings", data={"type": "coding"}, headers=auth(people["learner_token"])
    )
    assert (form.status_code, form.json["code"]) == (415, "unsupported_media_type")


def test_a_missing_required_body_is_a_422_problem_an_optional_one_may_be_left_out(client, people):
    missing = client.patch("/api/v1/me", headers=auth(people["learner_token"]))
    assert (missing.status_code, missing.mimetype) == (422, PROBLEM)
    assert missing.json["code"] == "validation_error"
    assert "_schema" in missing.json["errors"]
    start = at(future_weekday(3), 10)
    booking = book(client, people["learner_token"], start).json
    # A cancellation's reason is optional, and so is the body that would carry it.
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=auth(people["learner_token"])
    )
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status"] == "cancelled"


@pytest.mark.parametrize("weekday", ["1", True, 1.5, None])
def test_a_json_integer_is_a_json_integer(client, people, weekday):
    rules = [{"weekday": weekday, "start": "09:00", "end": "17:00"}]
    response = client.put(
        "/api/v1/coaches/me/availability",
        json={"timezone": "UTC", "rules": rules},
        headers=auth(people["coach_token"]),
    )
    assert (response.status_code, response.mimetype) == (422, PROBLEM), response.json
    assert "rules.0.weekday" in response.json["errors"]


def test_a_whole_number_written_as_a_float_is_an_integer_as_json_schema_says(client, people):
    rules = [{"weekday": 1.0, "start": "09:00", "end": "17:00"}]
    response = client.put(
        "/api/v1/coaches/me/availability",
        json={"timezone": "UTC", "rules": rules},
        headers=auth(people["coach_token"]),
    )
    assert response.status_code == 200, response.json
    assert response.json["rules"] == [{"weekday": 1, "start": "09:00", "end": "17:00"}]


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_a_json_boolean_is_true_or_false(client, people, value):
    response = client.put(
        f"/api/v1/coaches/{people['coach'].id}/interview-types",
        json={"runs_all_types": value, "interview_types": []},
        headers=auth(people["staff_token"]),
    )
    assert (response.status_code, response.mimetype) == (422, PROBLEM), response.json
    assert "runs_all_types" in response.json["errors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("unread=yes", "unread"),
        ("unread=1", "unread"),
        ("limit=%205", "limit"),
        ("limit=1_0", "limit"),
        ("limit=5.0", "limit"),
        ("limit=%D9%A3", "limit"),  # ARABIC-INDIC DIGIT THREE, which int() reads as 3
    ],
)
def test_a_query_value_has_one_spelling(client, people, query, field):
    response = client.get(f"/api/v1/notifications?{query}", headers=auth(people["learner_token"]))
    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    assert field in response.json["errors"]
    assert (
        client.get(
            "/api/v1/notifications?unread=true&limit=5", headers=auth(people["learner_token"])
        ).status_code
        == 200
    )


def test_a_booking_range_must_end_after_it_starts(client, people):
    headers = auth(people["learner_token"])
    inverted = client.get("/api/v1/bookings?from=2026-02-02&to=2026-02-01", headers=headers)
    assert (inverted.status_code, inverted.mimetype) == (422, PROBLEM)
    assert inverted.json["errors"] == {"to": ["`to` must be after `from`."]}
    one_day = client.get("/api/v1/bookings?from=2026-02-01&to=2026-02-01", headers=headers)
    assert one_day.status_code == 200  # a date as `to` takes in that whole day


@pytest.mark.parametrize("moment", ["2026-W05-1", "20260202", "2026-2-2", "2026-02-02T10:00"])
def test_booking_range_bounds_are_rfc_3339_dates_or_times(client, people, moment):
    response = client.get(f"/api/v1/bookings?from={moment}", headers=auth(people["learner_token"]))
    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    assert "from" in response.json["errors"]


def test_text_with_a_nul_character_is_refused_where_postgresql_could_not_store_it(client, people):
    headers = auth(people["learner_token"])
    response = client.patch("/api/v1/me", json={"name": "Lee\x00 Learner"}, headers=headers)
    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    assert "name" in response.json["errors"]
    query = client.get("/api/v1/audit?q=a%00b", headers=auth(people["staff_token"]))
    assert (query.status_code, query.json["errors"].keys()) == (422, {"q"})
    start = at(future_weekday(3), 10)
    noted = book(client, people["learner_token"], start, notes="bring\x00 a laptop")
    assert noted.status_code == 422
    assert db.session.query(Booking).count() == 0


def test_a_zone_sent_is_one_a_person_may_pick_or_the_callers_own(client, people, make_user):
    headers = auth(people["learner_token"])
    for name in ("US/Eastern", "Mars/Olympus", " Europe/Berlin", ""):
        response = client.patch("/api/v1/me", json={"timezone": name}, headers=headers)
        assert (response.status_code, response.mimetype) == (422, PROBLEM), name
        assert "timezone" in response.json["errors"]
    picked = client.patch("/api/v1/me", json={"timezone": "Europe/Berlin"}, headers=headers)
    assert picked.json["timezone"] == "Europe/Berlin"
    # An account given an old name before keeps it, and may send it back unchanged.
    old = make_user("learner")
    db.session.execute(update(User).where(User.id == old.id).values(timezone="US/Eastern"))
    db.session.commit()
    token = client.post(
        "/api/v1/auth/token", json={"email": old.email, "password": "correct horse battery"}
    ).json["token"]
    kept = client.patch(
        "/api/v1/me", json={"timezone": "US/Eastern", "name": "Old Zone"}, headers=auth(token)
    )
    assert kept.status_code == 200, kept.json
    assert kept.json["timezone"] == "US/Eastern"
