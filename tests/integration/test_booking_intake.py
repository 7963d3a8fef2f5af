"""Intake questions: kinds, conditions and validation through the API; the answers in the booking,
its emails, the .ics and the coach's feed; kept by a reschedule; round robin preferring the coach
whose expertise covers the skills the answers name."""

from __future__ import annotations

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from services import notifications
from services.booking import feed, intake, waitlist
from services.db import db
from services.models import Booking, Delivery, InterviewType
from tests.support_booking import (
    at,
    auth,
    book,
    events,
    extra_hours,
    future_weekday,
    iso,
    make_coach,
    process_all,
    seed_types,
)
from tests.support_openapi import faults


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, "UTC", name="Casey Coach")
    learner = make_user("learner", timezone="UTC", name="Lee Learner")
    coding = db.session.scalar(select(InterviewType).where(InterviewType.slug == "coding"))
    return {
        "coach": coach,
        "learner": learner,
        "token": token_for(learner),
        "day": future_weekday(3),
        "type": coding,
    }


def _questions(client, token, slug="coding"):
    response = client.get("/api/v1/interview-types", headers=auth(token))
    assert response.status_code == 200
    return next(t for t in response.json["items"] if t["slug"] == slug)["questions"]


def _add(itype, kind, label, **kwargs):
    question = intake.add_question(itype.id, intake.QuestionSpec(kind, label, **kwargs))
    db.session.commit()
    return question


def _bookings() -> int:
    return db.session.scalar(select(func.count(Booking.id))) or 0


def test_each_type_lists_its_seeded_questions_with_the_condition(client, world):
    questions = _questions(client, world["token"])
    labels = [q["label"] for q in questions]
    assert labels[:2] == ["Target company", "Role level"]
    assert "Link to the job description" in labels
    kinds = {q["label"]: q["kind"] for q in questions}
    assert kinds["When is the interview?"] == "date"
    assert kinds["Link to the job description"] == "url"
    scheduled = next(q for q in questions if q["label"].startswith("Do you have"))
    when = next(q for q in questions if q["label"] == "When is the interview?")
    assert when["condition"] == {"question_id": scheduled["id"], "value": "Yes"}
    assert all(not q["required"] for q in questions)  # seeded ones never block a booking


def test_a_required_question_left_out_is_a_422_naming_it_and_books_nothing(client, world):
    company = _add(world["type"], "short", "Which team?", required=True)
    before = _bookings()
    response = book(client, world["token"], at(world["day"], 10), answers={})
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error"
    assert f"answers.{company.id}" in response.json["errors"]
    assert "Which team?" in response.json["detail"]
    assert _bookings() == before


@pytest.mark.parametrize(
    ("kind", "options", "value", "message"),
    [
        ("date", (), "next Tuesday", "YYYY-MM-DD"),
        ("url", (), "javascript:alert(1)", "https://"),
        ("single", ("Junior", "Senior"), "CEO", "choices"),
        ("multi", ("SQL", "Python"), ["SQL", "Rust"], "Rust"),
        ("short", (), "x" * 201, "200 characters"),
    ],
)
def test_each_kind_refuses_what_does_not_fit(client, world, kind, options, value, message):
    question = _add(world["type"], kind, f"A {kind} question", options=options)
    response = book(client, world["token"], at(world["day"], 10), answers={str(question.id): value})
    assert response.status_code == 422, response.json
    assert message in response.json["errors"][f"answers.{question.id}"][0]


def test_an_unknown_question_id_is_refused(client, world):
    response = book(client, world["token"], at(world["day"], 10), answers={"999999": "x"})
    assert response.status_code == 422
    assert "answers.999999" in response.json["errors"]


def test_a_conditional_question_is_asked_only_when_the_earlier_choice_has_the_value(client, world):
    itype = world["type"]
    onsite = _add(itype, "single", "Onsite or remote?", options=("Onsite", "Remote"))
    city = _add(
        itype,
        "short",
        "Which city?",
        required=True,
        condition_question_id=onsite.id,
        condition_value="Onsite",
    )
    # Remote: the city is not asked, so not required, and an answer to it is dropped.
    response = book(
        client,
        world["token"],
        at(world["day"], 10),
        answers={str(onsite.id): "Remote", str(city.id): "Berlin"},
    )
    assert response.status_code == 201, response.json
    assert [a["question"] for a in response.json["answers"]] == ["Onsite or remote?"]
    # Onsite: the city is required.
    response = book(
        client, world["token"], at(world["day"], 11), answers={str(onsite.id): "Onsite"}
    )
    assert response.status_code == 422
    assert list(response.json["errors"]) == [f"answers.{city.id}"]


def test_a_condition_on_a_conditional_question_is_refused(world):
    itype = world["type"]
    first = _add(itype, "single", "First?", options=("A", "B"))
    second = _add(
        itype,
        "single",
        "Second?",
        options=("C", "D"),
        condition_question_id=first.id,
        condition_value="A",
    )
    with pytest.raises(Exception, match="one level"):
        intake.add_question(
            itype.id,
            intake.QuestionSpec(
                "short", "Third?", condition_question_id=second.id, condition_value="C"
            ),
        )


def test_answers_keep_the_wording_as_asked_and_reach_the_emails_ics_and_feed(
    client, world, token_for
):
    itype = world["type"]
    focus = _add(itype, "long", "What should we focus on?", required=True)
    areas = _add(itype, "multi", "Areas", options=("SQL", "Python", "Kubernetes"))
    response = book(
        client,
        world["token"],
        at(world["day"], 10),
        answers={str(focus.id): "Dynamic programming", str(areas.id): ["Python", "SQL"]},
    )
    assert response.status_code == 201, response.json
    booking_id = response.json["id"]
    assert {"question": "Areas", "value": ["SQL", "Python"]}.items() <= (
        response.json["answers"][1].items()
    )
    # Staff reword the question later: the booking keeps the question as it was asked.
    intake.update_question(
        itype.id, focus.id, intake.QuestionSpec("long", "Focus areas, in detail", required=True)
    )
    db.session.commit()
    shown = client.get(f"/api/v1/bookings/{booking_id}", headers=auth(world["token"])).json
    assert shown["answers"][0]["question"] == "What should we focus on?"
    # ... and stop asking one: the answer given stays, with its wording.
    intake.remove_question(itype.id, areas.id)
    db.session.commit()
    assert "Areas" not in [q["label"] for q in _questions(client, world["token"])]
    shown = client.get(f"/api/v1/bookings/{booking_id}", headers=auth(world["token"])).json
    assert [(a["question"], a["value"]) for a in shown["answers"]] == [
        ("What should we focus on?", "Dynamic programming"),
        ("Areas", ["SQL", "Python"]),
    ]

    (event,) = events("booking.confirmed")
    notifications.fan_out(event.id)
    deliveries = {
        d.to_address: d
        for d in db.session.scalars(select(Delivery).where(Delivery.kind == "booking_confirmed"))
    }
    to_coach = deliveries[world["coach"].email]
    assert "Lee Learner's answers" in to_coach.text_body
    assert "What should we focus on?: Dynamic programming" in to_coach.text_body
    assert "Areas: SQL, Python" in to_coach.html_body
    description = str(Calendar.from_ical(to_coach.ics).walk("VEVENT")[0]["DESCRIPTION"])
    assert "Intake answers from Lee Learner:\nWhat should we focus on?: Dynamic programming" in (
        description
    )
    to_learner = deliveries[world["learner"].email]
    assert "Your answers for the coach" in to_learner.text_body
    # The learner's copy shows their own answers, as theirs.
    own = str(Calendar.from_ical(to_learner.ics).walk("VEVENT")[0]["DESCRIPTION"])
    assert "Your answers for the coach:\nWhat should we focus on?: Dynamic programming" in own
    assert "Areas: SQL, Python" in own and "Intake answers from" not in own
    # The .ics each downloads is the copy their email carried.
    for who, heading in (
        (world["learner"], "Your answers for the coach"),
        (world["coach"], "from"),
    ):
        got = client.get(f"/api/v1/bookings/{booking_id}/ics", headers=auth(token_for(who)))
        assert got.status_code == 200
        assert heading in str(Calendar.from_ical(got.data).walk("VEVENT")[0]["DESCRIPTION"])

    secret = feed.create_feed(world["coach"].id)
    db.session.commit()
    body = feed.feed_ics(secret)
    assert body is not None
    (vevent,) = Calendar.from_ical(body).walk("VEVENT")
    assert "Intake answers from Lee Learner:" in str(vevent["DESCRIPTION"])
    assert "Areas: SQL, Python" in str(vevent["DESCRIPTION"])


def test_a_reschedule_keeps_the_answers(client, world):
    focus = _add(world["type"], "short", "Focus", required=True)
    response = book(client, world["token"], at(world["day"], 10), answers={str(focus.id): "Graphs"})
    assert response.status_code == 201, response.json
    moved = client.post(
        f"/api/v1/bookings/{response.json['id']}/reschedule",
        json={"start": iso(at(world["day"], 14))},
        headers=auth(world["token"]),
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["start"].startswith(f"{world['day']}T14:00")
    assert [(a["question"], a["value"]) for a in moved.json["answers"]] == [("Focus", "Graphs")]
    # The moved event each is sent still carries them.
    process_all()
    moved_mail = {
        d.to_address: d
        for d in db.session.scalars(select(Delivery).where(Delivery.kind == "booking_rescheduled"))
    }
    for who in (world["coach"], world["learner"]):
        (vevent,) = Calendar.from_ical(moved_mail[who.email].ics).walk("VEVENT")
        assert "Focus: Graphs" in str(vevent["DESCRIPTION"]), who.name


def test_round_robin_prefers_the_free_coach_whose_expertise_covers_the_answers(
    client, world, make_user
):
    make_coach(make_user, "UTC", name="Alex Algorithms", expertise=["python", "algorithms"])
    ops = make_coach(make_user, "UTC", name="Morgan Mlops", expertise=["mlops", "python"])
    focus = _add(world["type"], "long", "Focus")
    # Casey (every tag) and Morgan both cover mlops; make Casey busier so round robin alone
    # would pick Alex, who has no bookings and covers none of it.
    other = make_user("learner", name="Other Learner")
    db.session.add(
        Booking(
            uid="busy-1",
            learner_id=other.id,
            coach_id=world["coach"].id,
            interview_type_id=world["type"].id,
            start_at=at(world["day"], 15),
            end_at=at(world["day"], 15, 45),
            block_start_at=at(world["day"], 15),
            block_end_at=at(world["day"], 16),
            meeting_url="https://meet.example.com/x",
        )
    )
    db.session.commit()
    response = book(
        client,
        world["token"],
        at(world["day"], 10),
        answers={str(focus.id): "Serving models on k8s"},
    )
    assert response.status_code == 201, response.json
    assert response.json["coach"]["id"] == ops.id
    booking = db.session.get(Booking, response.json["id"])
    assert "Kubernetes" in booking.placement_reason
    assert "mlops" in booking.placement_reason
    # Without skills in the answers, round robin alone decides (the least booked coach).
    response = book(client, world["token"], at(world["day"], 12), answers={})
    assert response.status_code == 201
    assert response.json["coach"]["name"] == "Alex Algorithms"
    assert db.session.get(Booking, response.json["id"]).placement_reason == ""


def test_a_waitlist_offer_carries_the_answers_forward(client, db_session, make_user, token_for):
    seed_types()
    coach = make_user("coach", timezone="UTC", expertise=["python"], name="Solo Coach")
    start = at(future_weekday(4), 10)
    extra_hours(coach.id, start)  # the one slot in the horizon
    itype = db.session.scalar(select(InterviewType).where(InterviewType.slug == "coding"))
    focus = _add(itype, "short", "Focus", required=True)
    first, second = (make_user("learner", name=n) for n in ("First Learner", "Second Learner"))
    first_token, second_token = token_for(first), token_for(second)
    booked = book(client, first_token, start, answers={str(focus.id): "First's focus"})
    assert booked.status_code == 201, booked.json
    missing = client.post("/api/v1/waitlist", json={"type": "coding"}, headers=auth(second_token))
    assert missing.status_code == 422 and f"answers.{focus.id}" in missing.json["errors"]
    waiting = client.post(
        "/api/v1/waitlist",
        json={"type": "coding", "answers": {str(focus.id): "Graph search"}},
        headers=auth(second_token),
    )
    assert waiting.status_code == 201, waiting.json
    assert waiting.json["answers"][0]["value"] == "Graph search"
    client.post(f"/api/v1/bookings/{booked.json['id']}/cancel", json={}, headers=auth(first_token))
    assert waitlist.match() == 1
    db.session.commit()
    process_all()
    (offer,) = db.session.scalars(select(Delivery).where(Delivery.kind == "waitlist_offer"))
    assert "Focus: Graph search" in offer.text_body
    accepted = client.post(
        f"/api/v1/waitlist/{waiting.json['id']}/accept", headers=auth(second_token)
    )
    assert accepted.status_code == 201, accepted.json
    assert [(a["question"], a["value"]) for a in accepted.json["answers"]] == [
        ("Focus", "Graph search")
    ]


def test_the_questions_and_answers_are_as_the_openapi_document_says(client, world):
    itype = world["type"]
    scheduled = _add(itype, "single", "Scheduled?", options=("Yes", "No"), required=True)
    _add(
        itype,
        "date",
        "When?",
        condition_question_id=scheduled.id,
        condition_value="Yes",
        help="If you know it.",
    )
    areas = _add(itype, "multi", "Areas", options=("SQL", "Python", "Kubernetes"))
    link = _add(itype, "url", "Posting")
    listed = client.get("/api/v1/interview-types", headers=auth(world["token"]))
    assert faults(client, "get", "/api/v1/interview-types", 200, listed.json) == []
    asked = _questions(client, world["token"])
    assert {q["kind"] for q in asked} == {"short", "long", "single", "multi", "url", "date"}
    when = next(q for q in asked if q["label"] == "When?")
    assert when["condition"] == {"question_id": scheduled.id, "value": "Yes"}

    answers = {
        str(scheduled.id): "Yes",
        str(when["id"]): "2027-01-15",
        str(areas.id): ["Kubernetes", "SQL"],
        str(link.id): "https://jobs.example.com/1",
    }
    booked = book(client, world["token"], at(world["day"], 10), answers=answers)
    assert booked.status_code == 201, booked.json
    assert faults(client, "post", "/api/v1/bookings", 201, booked.json) == []
    assert {a["kind"] for a in booked.json["answers"]} == {"single", "date", "multi", "url"}
    shown = client.get(f"/api/v1/bookings/{booked.json['id']}", headers=auth(world["token"]))
    assert faults(client, "get", "/api/v1/bookings/{booking_id}", 200, shown.json) == []
    # The document is exact: an answer with a key it does not name, or a kind it does not list,
    # is not what it describes.
    first = shown.json["answers"][0]
    for wrong in ({**first, "extra": 1}, {**first, "kind": "essay"}):
        assert faults(
            client,
            "get",
            "/api/v1/bookings/{booking_id}",
            200,
            {**shown.json, "answers": [wrong]},
        )
