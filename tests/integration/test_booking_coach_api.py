"""Coaches through the API: availability (GET/PUT), feedback, and the private calendar feed."""

from __future__ import annotations

import datetime as dt

import pytest

from services.db import utcnow
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
    learner = make_user("learner", name="Lee Learner")
    return {
        "coach": coach,
        "learner": learner,
        "token": token_for(learner),
        "coach_token": token_for(coach),
    }


URL = "/api/v1/coaches/me/availability"


def test_a_coach_reads_their_weekly_rules_in_their_zone(client, world):
    response = client.get(URL, headers=auth(world["coach_token"]))
    assert response.status_code == 200
    body = response.json
    assert body["timezone"] == "Europe/Berlin"
    assert {"weekday": 0, "start": "09:00", "end": "17:00"} in body["rules"]
    assert len(body["rules"]) == 5
    assert body["exceptions"] == []


def test_put_replaces_the_availability_and_the_slots_follow(client, world):
    day = future_weekday(5, "Europe/Berlin")
    off_start = at(day, 12, tz="Europe/Berlin")
    response = client.put(
        URL,
        json={
            "timezone": "America/New_York",
            "weekly": [{"weekday": day.weekday(), "start": "08:00", "end": "12:00"}],
            "exceptions": [
                {
                    "start": off_start.isoformat(),
                    "end": (off_start + dt.timedelta(hours=1)).isoformat(),
                    "available": False,
                    "reason": "dentist",
                }
            ],
        },
        headers=auth(world["coach_token"]),
    )
    assert response.status_code == 200, response.json
    assert response.json["timezone"] == "America/New_York"
    assert response.json["rules"] == [{"weekday": day.weekday(), "start": "08:00", "end": "12:00"}]
    assert response.json["exceptions"][0]["reason"] == "dentist"
    assert response.json["exceptions"][0]["start"] == off_start.astimezone(dt.UTC).isoformat()
    slots = client.get(
        f"/api/v1/slots?type=coding&start={day}&end={day}&tz=America/New_York",
        headers=auth(world["token"]),
    ).json["slots"]
    hours = [s["start"][11:16] for s in slots]
    assert hours[0] == "08:00"
    assert hours[-1] == "11:00"  # 11:00 + 45 minutes ends before 12:00
    assert all(s["start"].endswith(("-05:00", "-04:00")) for s in slots)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Base", "rules": []}, "timezone"),
        ({"timezone": "UTC", "rules": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "rules"),
        ({"timezone": "UTC", "rules": [{"weekday": 1, "start": "9am", "end": "10:00"}]}, "rules"),
        ({"timezone": "UTC", "rules": [{"weekday": 1, "start": "11:00", "end": "10:00"}]}, "rules"),
        (
            {
                "timezone": "UTC",
                "rules": [
                    {"weekday": 1, "start": "09:00", "end": "12:00"},
                    {"weekday": 1, "start": "11:00", "end": "14:00"},
                ],
            },
            "rules",
        ),
        (
            {
                "timezone": "UTC",
                "rules": [],
                "exceptions": [
                    {"start": "2027-01-01T10:00:00+00:00", "end": "2027-01-01T09:00:00+00:00"}
                ],
            },
            "exceptions",
        ),
        ({"rules": []}, "timezone"),
    ],
)
def test_bad_availability_is_a_422_and_changes_nothing(client, world, body, field):
    response = client.put(URL, json=body, headers=auth(world["coach_token"]))
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error"
    assert any(key.startswith(field) for key in response.json["errors"]), response.json
    assert len(client.get(URL, headers=auth(world["coach_token"])).json["rules"]) == 5


def test_availability_is_for_coaches(client, world):
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=auth(world["token"])).status_code == 403
    assert client.put(URL, json={}, headers=auth(world["token"])).status_code == 403


def test_the_coach_writes_feedback_the_learner_sees(client, world, make_user, token_for):
    start = (utcnow() - dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    booking = insert_booking(world["learner"].id, world["coach"].id, start)
    url = f"/api/v1/bookings/{booking.id}/feedback"
    scores = {"communication": 4, "technical_depth": 3, "problem_solving": 5, "ml_knowledge": 2}
    early = client.put(url, json=scores, headers=auth(world["coach_token"]))
    assert early.status_code == 409  # mark it completed first
    client.post(
        f"/api/v1/bookings/{booking.id}/outcome",
        json={"status": "completed"},
        headers=auth(world["coach_token"]),
    )
    bad = client.put(url, json={**scores, "communication": 6}, headers=auth(world["coach_token"]))
    assert bad.status_code == 422
    saved = client.put(
        url, json={**scores, "notes": "Structure answers."}, headers=auth(world["coach_token"])
    )
    assert saved.status_code == 200, saved.json
    seen = client.get(f"/api/v1/bookings/{booking.id}", headers=auth(world["token"])).json
    assert seen["status"] == "completed"
    assert seen["feedback"]["notes"] == "Structure answers."
    assert seen["feedback"]["ml_knowledge"] == 2
    assert client.put(url, json=scores, headers=auth(world["token"])).status_code == 403
    other = token_for(make_coach(make_user, "UTC"))
    assert client.put(url, json=scores, headers=auth(other)).status_code == 404


def test_the_private_feed_lists_sessions_and_can_be_revoked(client, world):
    start = at(future_weekday(3, "Europe/Berlin"), 10, tz="Europe/Berlin")
    booking = book(client, world["token"], start).json
    created = client.post("/api/v1/coaches/me/calendar-feed", headers=auth(world["coach_token"]))
    assert created.status_code == 201
    path = created.json["url"].removeprefix("http://testserver")
    feed = client.get(path)  # no bearer token: the secret in the URL is the credential
    assert feed.status_code == 200
    body = feed.get_data(as_text=True).replace("\r\n ", "")
    assert "X-WR-CALNAME:Mock interviews · Casey Coach" in body
    assert "Lee Learner" in body
    assert booking["meeting_url"] in body
    # A new address revokes the old one; DELETE revokes for good.
    again = client.post("/api/v1/coaches/me/calendar-feed", headers=auth(world["coach_token"]))
    assert client.get(path).status_code == 404
    new_path = again.json["url"].removeprefix("http://testserver")
    assert client.get(new_path).status_code == 200
    assert (
        client.delete(
            "/api/v1/coaches/me/calendar-feed", headers=auth(world["coach_token"])
        ).status_code
        == 204
    )
    assert client.get(new_path).status_code == 404
    assert (
        client.post("/api/v1/coaches/me/calendar-feed", headers=auth(world["token"])).status_code
        == 403
    )
