"""Which coach runs which interview type: explicit, visible in the API, chosen by staff (audited),
never decided by expertise tags; warnings on the staff dashboard (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from services.booking import interview_types
from services.db import db
from services.models import InterviewType, StaffAction, User
from tests.support_auth import csrf_token, sign_in
from tests.support_booking import add_rules, at, auth, book, future_weekday, seed_types

ALL_TYPES = ["behavioral", "technical-ml", "ml-system-design", "coding"]


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    learner = make_user("learner", name="Lee Learner")
    staff = make_user("staff", name="Sam Staff")
    return {
        "learner": learner,
        "token": token_for(learner),
        "staff": staff,
        "staff_token": token_for(staff),
        "day": future_weekday(3),
    }


def cli_coach(app, *extra: str) -> int:
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            f"coach-{uuid.uuid4().hex[:8]}@example.com",
            "--password",
            "long password",
            "--role",
            "coach",
            "--expertise",
            "interviews",
            *extra,
        ]
    )
    assert result.exit_code == 0, result.output
    coach_id = int(result.output.strip())
    add_rules(coach_id)
    return coach_id


def slots(client, token, type_, day, coach_id=None):
    query = f"type={type_}&start={day}&end={day}&tz=UTC"
    if coach_id is not None:
        query += f"&coach_id={coach_id}"
    return client.get(f"/api/v1/slots?{query}", headers=auth(token))


def put_types(client, token, coach_id, body):
    return client.put(f"/api/v1/coaches/{coach_id}/interview-types", json=body, headers=auth(token))


# --- a coach runs every active type unless narrowed ---------------------------------------------


def test_a_coach_made_by_the_cli_runs_every_active_type_whatever_their_expertise(
    app, client, world
):
    coach_id = cli_coach(app)

    for slug in ALL_TYPES:
        response = slots(client, world["token"], slug, world["day"], coach_id)
        assert response.status_code == 200, (slug, response.json)
        assert response.json["slots"], slug
        assert all(s["coach_ids"] == [coach_id] for s in response.json["slots"])


def test_interview_types_narrows_a_cli_coach_and_bad_slugs_make_nobody(app, client, world):
    coach_id = cli_coach(app, "--interview-types", "behavioral, coding")
    assert interview_types.coach_types(coach_id).interview_types == ("behavioral", "coding")
    assert slots(client, world["token"], "coding", world["day"], coach_id).status_code == 200

    before = db.session.scalar(select(func.count(User.id)))
    for bad in ("behavioral,no-such-type", ""):
        result = app.test_cli_runner().invoke(
            args=[
                *("users", "create", "--email", "bad@example.com", "--password", "long password"),
                *("--role", "coach", "--interview-types", bad),
            ]
        )
        assert result.exit_code == 1
        assert "interview_types" in result.output
    result = app.test_cli_runner().invoke(
        args=[
            *("users", "create", "--email", "lena@example.com", "--password", "long password"),
            *("--role", "learner", "--interview-types", "coding"),
        ]
    )
    assert result.exit_code == 1 and "Only coaches" in result.output
    assert db.session.scalar(select(func.count(User.id))) == before


def test_expertise_tags_never_make_a_coach_unbookable(client, world, make_user):
    """The type's tags (coding: python, algorithms) and the coach's share nothing."""
    coach = make_user("coach", name="Tag Less", expertise=["frontend"])
    add_rules(coach.id)

    response = slots(client, world["token"], "coding", world["day"], coach.id)
    assert response.status_code == 200, response.json
    assert response.json["slots"]
    booked = book(client, world["token"], at(world["day"], 10), "coding", coach_id=coach.id)
    assert booked.status_code == 201, booked.json
    # Nor do they hide a coach when no coach is named.
    anyone = slots(client, world["token"], "ml-system-design", world["day"])
    assert any(coach.id in s["coach_ids"] for s in anyone.json["slots"])


def test_a_coach_who_runs_every_type_picks_up_a_type_added_later(client, world, make_user):
    everything = make_user("coach", name="All Types")
    narrowed = make_user("coach", name="Two Types")
    interview_types.set_coach_types(narrowed.id, ["coding", "behavioral"])
    db.session.add(InterviewType(slug="case-study", name="Case study", duration_minutes=45))
    db.session.commit()

    response = client.get("/api/v1/interview-types", headers=auth(world["token"]))
    coach_ids = {t["slug"]: t["coach_ids"] for t in response.json["items"]}
    assert coach_ids["case-study"] == [everything.id]
    assert coach_ids["coding"] == sorted([everything.id, narrowed.id])


# --- visible in the API ---------------------------------------------------------------------------


def test_coaches_list_their_interview_types_and_types_their_coaches(client, world, make_user):
    ada = make_user("coach", name="Ada Coach", expertise=["ml"])
    bo = make_user("coach", name="Bo Coach", expertise=["python"])
    gone = make_user("coach", name="Gone Coach")
    interview_types.set_coach_types(bo.id, ["coding"])
    gone.active = False
    db.session.commit()

    coaches = client.get("/api/v1/coaches", headers=auth(world["token"]))
    assert coaches.status_code == 200
    assert coaches.json["items"] == [
        {
            "id": ada.id,
            "name": "Ada Coach",
            "expertise": ["ml"],
            "interview_types": ALL_TYPES,
            "has_hours": False,
        },
        {
            "id": bo.id,
            "name": "Bo Coach",
            "expertise": ["python"],
            "interview_types": ["coding"],
            "has_hours": False,
        },
    ]
    types = client.get("/api/v1/interview-types", headers=auth(world["token"]))
    assert {t["slug"]: t["coach_ids"] for t in types.json["items"]} == {
        "behavioral": [ada.id],
        "technical-ml": [ada.id],
        "ml-system-design": [ada.id],
        "coding": sorted([ada.id, bo.id]),
    }
    assert set(types.json["items"][0]) == {
        "slug",
        "name",
        "duration_minutes",
        "description",
        "coach_ids",
        "questions",
    }


def test_a_slot_query_or_booking_naming_a_coach_who_does_not_run_the_type_says_what_they_run(
    client, world, make_user
):
    coach = make_user("coach", name="Bo Coach", expertise=["python", "algorithms"])
    add_rules(coach.id)
    interview_types.set_coach_types(coach.id, ["behavioral", "technical-ml"])
    db.session.commit()

    response = slots(client, world["token"], "coding", world["day"], coach.id)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "behavioral, technical-ml" in response.json["detail"]
    assert response.json["errors"]["coach_id"] == [response.json["detail"]]
    booked = book(client, world["token"], at(world["day"], 10), "coding", coach_id=coach.id)
    assert booked.status_code == 422
    assert "behavioral, technical-ml" in booked.json["detail"]

    interview_types.set_coach_types(coach.id, [])
    db.session.commit()
    none = slots(client, world["token"], "coding", world["day"], coach.id)
    assert none.status_code == 422 and "no interview type" in none.json["detail"]


# --- staff change it, audited ---------------------------------------------------------------------


def test_staff_choose_a_coachs_types_through_the_api_audited(client, world, make_user):
    coach = make_user("coach", name="Cy Coach")
    token = world["staff_token"]
    path = f"/api/v1/coaches/{coach.id}/interview-types"

    assert client.get(path, headers=auth(world["token"])).json == {
        "coach_id": coach.id,
        "runs_all_types": True,
        "interview_types": ALL_TYPES,
    }
    narrowed = put_types(
        client, token, coach.id, {"interview_types": ["coding"], "reason": "coding only for now"}
    )
    assert narrowed.status_code == 200, narrowed.json
    assert narrowed.json == {
        "coach_id": coach.id,
        "runs_all_types": False,
        "interview_types": ["coding"],
    }
    assert client.get(path, headers=auth(world["token"])).json == narrowed.json
    [entry] = db.session.scalars(
        select(StaffAction).where(StaffAction.action == "coach.interview_types")
    )
    assert (entry.subject_id, entry.reason) == (coach.id, "coding only for now")
    assert entry.detail == {
        "before": {"runs_all_types": True, "interview_types": ALL_TYPES},
        "after": {"runs_all_types": False, "interview_types": ["coding"]},
    }

    again = put_types(client, token, coach.id, {"runs_all_types": True, "reason": "trained"})
    assert again.json["runs_all_types"] is True and again.json["interview_types"] == ALL_TYPES
    assert (
        db.session.scalar(
            select(func.count(StaffAction.id)).where(StaffAction.action == "coach.interview_types")
        )
        == 2
    )


@pytest.mark.parametrize(
    "body",
    [
        {"interview_types": ["coding", "no-such-type"]},
        {"runs_all_types": True, "interview_types": ["coding"]},
        {"runs_all_types": False},
        {},
        {"interview_types": "coding"},
    ],
)
def test_bad_type_choices_are_422_and_change_nothing(client, world, make_user, body):
    coach = make_user("coach")
    interview_types.set_coach_types(coach.id, ["behavioral"])
    db.session.commit()

    response = put_types(client, world["staff_token"], coach.id, body)

    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error"
    # The list, or the item in it that is not a type ("interview_types.1").
    assert {name.split(".")[0] for name in response.json["errors"]} == {"interview_types"}
    db.session.expire_all()
    assert interview_types.coach_types(coach.id).interview_types == ("behavioral",)
    assert not db.session.scalars(select(StaffAction)).all()


def test_only_staff_change_a_coachs_types_and_unknown_coaches_are_404(client, world, make_user):
    coach = make_user("coach")
    learner = world["learner"]
    assert put_types(client, world["token"], coach.id, {"runs_all_types": True}).status_code == 403
    for missing in (learner.id, 987_654_321, 10**12):
        response = put_types(client, world["staff_token"], missing, {"runs_all_types": True})
        assert response.status_code == 404, missing
        got = client.get(f"/api/v1/coaches/{missing}/interview-types", headers=auth(world["token"]))
        assert got.status_code == 404
    coach.active = False
    db.session.commit()
    path = f"/api/v1/coaches/{coach.id}/interview-types"
    assert client.get(path, headers=auth(world["token"])).status_code == 404
    assert client.get(path, headers=auth(world["staff_token"])).status_code == 200


def test_staff_choose_a_coachs_types_on_the_coachs_page(client, world, make_user):
    coach = make_user("coach", name="Cy Coach", review_capacity=4)
    sign_in(client, world["staff"].email)
    page = f"/staff/coaches/{coach.id}/edit"

    html = client.get(page).get_data(as_text=True)
    [every] = re.findall(r'<input[^>]*value="all"[^>]*>', html)
    assert "checked" in every
    assert html.count('type="checkbox"') == len(ALL_TYPES)
    response = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "expertise": "",
            "review_capacity": "4",
            "types_scope": "chosen",
            "interview_types": ["coding", "behavioral"],
            "reason": "new coach",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert interview_types.coach_types(coach.id).interview_types == ("behavioral", "coding")
    [entry] = db.session.scalars(
        select(StaffAction).where(StaffAction.action == "coach.interview_types")
    )
    assert entry.reason == "new coach"
    listing = client.get("/staff/coaches").get_data(as_text=True)
    assert "behavioral, coding" in listing

    bad = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "review_capacity": "4",
            "types_scope": "chosen",
            "interview_types": ["no-such-type"],
        },
    )
    assert bad.status_code == 200 and "field-error" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert interview_types.coach_types(coach.id).interview_types == ("behavioral", "coding")


# --- warnings on the dashboard -------------------------------------------------------------------


def test_the_dashboard_warns_of_coaches_who_run_no_type_and_types_nobody_runs(
    client, world, make_user
):
    sign_in(client, world["staff"].email)
    idle = make_user("coach", name="Idle Coach")
    add_rules(idle.id)
    quiet = make_user("coach", name="Quiet Coach")  # no availability: nothing to warn about
    busy = make_user("coach", name="Busy Coach")
    add_rules(busy.id)
    interview_types.set_coach_types(idle.id, [])
    interview_types.set_coach_types(quiet.id, [])
    interview_types.set_coach_types(busy.id, ["behavioral", "technical-ml", "coding"])
    db.session.commit()

    html = client.get("/staff/").get_data(as_text=True)

    assert f'id="idle-coach-{idle.id}"' in html
    assert "Idle Coach has availability but runs no interview type" in html
    assert f'id="idle-coach-{quiet.id}"' not in html and f'id="idle-coach-{busy.id}"' not in html
    assert 'id="uncovered-type-ml-system-design"' in html
    assert "no active coach runs ML system design" in html
    assert 'id="uncovered-type-coding"' not in html

    interview_types.set_coach_types(idle.id, None)
    db.session.commit()
    calm = client.get("/staff/").get_data(as_text=True)
    assert "idle-coach-" not in calm and "uncovered-type-" not in calm


def test_an_extra_hours_exception_counts_as_availability(world, make_user):
    from services.booking import availability

    coach = make_user("coach", name="Extra Hours")
    interview_types.set_coach_types(coach.id, [])
    day = world["day"] + dt.timedelta(days=7)
    availability.add_exception(
        coach.id, availability.ExceptionInput(at(day, 9), at(day, 12), available=True)
    )
    db.session.commit()

    assert [c.id for c in interview_types.coverage().idle_coaches] == [coach.id]
