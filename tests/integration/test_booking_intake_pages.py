"""Intake questions in the pages: the learner answers on the confirm step (checked by the server,
kept on a refusal), the coach and staff see the answers (staff also why that coach), and staff
edit a type's questions."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from services.booking import intake
from services.db import db
from services.models import Booking, IntakeQuestion, InterviewType
from tests.support_auth import csrf_token, sign_in
from tests.support_booking import at, future_weekday, make_coach, seed_types


@pytest.fixture
def world(db_session, make_user):
    seed_types()
    coach = make_coach(make_user, "UTC", name="Casey Coach", expertise=["mlops", "python"])
    learner = make_user("learner", timezone="UTC", name="Lee Learner")
    staff = make_user("staff", name="Sam Staff")
    itype = db.session.scalar(select(InterviewType).where(InterviewType.slug == "coding"))
    team = intake.add_question(
        itype.id, intake.QuestionSpec("short", "Which team are you joining?", required=True)
    )
    db.session.commit()
    return {"coach": coach, "learner": learner, "staff": staff, "type": itype, "team": team}


def sign_out(client):
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})


def text(response):
    return html.unescape(response.get_data(as_text=True))


def test_the_learner_answers_on_the_confirm_step_and_the_coach_and_staff_see_it(client, world):
    sign_in(client, world["learner"].email)
    start = at(future_weekday(3), 10).isoformat()
    url = f"/learn/bookings/new/confirm?type=coding&start={start.replace('+', '%2B')}"
    page = text(client.get(url))
    assert 'Which team are you joining? <span class="required">(required)</span>' in page
    assert "Target company" in page  # a seeded question
    assert "Only if you answered “Yes” to “Do you have a real interview scheduled?”" in page
    questions = {q.label: q for q in intake.questions_of(world["type"].id)}
    focus = questions["What should the session focus on?"]
    level = questions["Role level"]
    # Left out: refused on the same page, naming the question, keeping what was typed.
    refused = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            f"answer-{focus.id}": "Deploying on Kubernetes",
            f"answer-{level.id}": "Senior",
        },
    )
    assert refused.status_code == 422
    body = text(refused)
    assert "Answer “Which team are you joining?”: it is required." in body
    assert "Deploying on Kubernetes</textarea>" in body
    assert re.search(r'value="Senior" checked', body)
    assert (
        db.session.scalar(select(Booking).where(Booking.learner_id == world["learner"].id)) is None
    )
    booked = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            f"answer-{world['team'].id}": "Ranking",
            f"answer-{focus.id}": "Deploying on Kubernetes",
            f"answer-{level.id}": "Senior",
        },
    )
    assert booked.status_code == 302, text(booked)
    booking = db.session.scalar(select(Booking).where(Booking.learner_id == world["learner"].id))
    assert [a["question"] for a in booking.answers] == [
        "Role level",
        "What should the session focus on?",
        "Which team are you joining?",
    ]
    learner_page = text(client.get(f"/learn/bookings/{booking.id}"))
    assert "Booked with Casey Coach" in learner_page
    assert "Your answers for the coach" in learner_page and "Ranking" in learner_page

    sign_out(client)
    sign_in(client, world["coach"].email)
    coach_page = text(client.get(f"/coach/sessions/{booking.id}"))
    assert "Lee Learner's answers" in coach_page
    assert "Deploying on Kubernetes" in coach_page

    sign_out(client)
    sign_in(client, world["staff"].email)
    staff_page = text(client.get("/staff/sessions"))
    assert "Intake answers (3)" in staff_page
    assert "Why this coach: The learner's answers name Kubernetes" in staff_page


def test_staff_add_edit_and_remove_a_question(client, world):
    sign_in(client, world["staff"].email)
    base = "/staff/interview-types/coding/questions"
    assert "Which team are you joining?" in text(client.get(base))
    bad = client.post(
        base,
        data={"csrf_token": csrf_token(client, base), "label": "Stack?", "kind": "single"},
    )
    assert bad.status_code == 422
    assert "Give at least two choices" in text(bad)
    added = client.post(
        base,
        data={
            "csrf_token": csrf_token(client, base),
            "label": "Preferred language",
            "kind": "single",
            "options": "Python\nScala\n",
            "required": "y",
        },
    )
    assert added.status_code == 302
    question = db.session.scalar(
        select(IntakeQuestion).where(IntakeQuestion.label == "Preferred language")
    )
    assert question.options == ["Python", "Scala"] and question.required
    edit = f"{base}/{question.id}"
    saved = client.post(
        edit,
        data={
            "csrf_token": csrf_token(client, edit),
            "label": "Preferred programming language",
            "kind": "single",
            "options": "Python\nScala\nGo",
        },
    )
    assert saved.status_code == 302
    db.session.refresh(question)
    assert question.label == "Preferred programming language" and not question.required
    removed = client.post(f"{edit}/remove", data={"csrf_token": csrf_token(client, base)})
    assert removed.status_code == 302
    assert "Preferred programming language" not in text(client.get(base))


def _busy(make_user, coach, itype, day, uid):
    """A session of another learner's, so round robin (least booked first) passes ``coach`` by."""
    other = make_user("learner", name=f"Other {uid}")
    db.session.add(
        Booking(
            uid=uid,
            learner_id=other.id,
            coach_id=coach.id,
            interview_type_id=itype.id,
            start_at=at(day, 15),
            end_at=at(day, 15, 45),
            block_start_at=at(day, 15),
            block_end_at=at(day, 16),
            meeting_url="https://meet.example.com/busy",
        )
    )


def test_the_confirm_page_says_which_coach_the_answers_may_send_the_session_to(
    client, world, make_user
):
    day = future_weekday(3)
    dana = make_coach(make_user, "UTC", name="Dana Nlp", expertise=["nlp"])
    pat = make_coach(make_user, "UTC", name="Pat Python", expertise=["python"])
    for coach in (dana, pat):  # busier than Casey even once Casey takes the first booking
        for days in (5, 12):  # two dates: from a Monday, 5 and 6 days ahead are one
            _busy(make_user, coach, world["type"], future_weekday(days), f"{coach.id}-{days}")
    db.session.commit()
    casey = world["coach"]
    focus = {q.label: q for q in intake.questions_of(world["type"].id)}[
        "What should the session focus on?"
    ]
    sign_in(client, world["learner"].email)

    def confirm_page(hour):
        start = at(day, hour).isoformat().replace("+", "%2B")
        url = f"/learn/bookings/new/confirm?type=coding&start={start}"
        return url, text(client.get(url))

    url, page = confirm_page(10)
    # Round robin alone names Casey (least booked); Dana's nlp is beyond Casey's expertise, so
    # answers naming it may move the session; Pat's python is within Casey's, so it never moves.
    assert re.search(r'data-testid="confirm-coach">Casey Coach <span', page)
    assert (
        "If your answers name nlp skills (in Dana Nlp's expertise, not Casey Coach's), Dana Nlp "
        "may take the session instead." in page
    )
    assert "Pat Python may take" not in page
    assert re.search(rf'name="prefer" type="hidden" value="{casey.id}"', page)

    def book(url, focus_text):
        return client.post(
            url,
            data={
                "csrf_token": csrf_token(client, url),
                "prefer": str(casey.id),
                f"answer-{world['team'].id}": "Search",
                f"answer-{focus.id}": focus_text,
            },
        )

    # Answers naming what Casey covers (and Pat, whose expertise Casey's includes): Casey, as named.
    assert book(url, "Python services on Kubernetes").status_code == 302
    first = db.session.scalar(select(Booking).where(Booking.learner_id == world["learner"].id))
    assert first.coach_id == casey.id
    shown = text(client.get(f"/learn/bookings/{first.id}"))
    assert "Booked with Casey Coach" in shown and "may take" not in shown

    # Answers naming an nlp skill: Dana, as the page said she might be, and the learner is told.
    url, page = confirm_page(12)
    assert "Dana Nlp may take the session instead" in page
    assert book(url, "Fine-tuning large language models").status_code == 302
    second = db.session.scalars(
        select(Booking).where(Booking.learner_id == world["learner"].id).order_by(Booking.id.desc())
    ).first()
    assert second.coach_id == dana.id
    shown = text(client.get(f"/learn/bookings/{second.id}"))
    assert (
        "Dana Nlp takes your session: their expertise covers what your answers ask (nlp)." in shown
    )
    assert "Why this coach" not in shown  # staff's explanation stays staff's
    assert "name LLMs" in second.placement_reason and "covers nlp" in second.placement_reason
