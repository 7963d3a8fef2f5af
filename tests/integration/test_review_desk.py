"""The coach's review desk without accidents (per-test rollback, both databases): the rubric is
live only once the offer is accepted, the outcome has no default, sending is confirmed first,
drafts are kept on the server per version, and a sent review can be corrected for a while, the
learner told (pages and API)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from services import notifications, resumes
from services.db import db
from services.models import Notification, OutboxEvent, Resume, Review, ReviewDraft
from services.resumes import routing
from services.rubric import RUBRIC
from tests.support_auth import csrf_token, sign_in
from tests.support_resumes import upload

SCORES = {
    "impact": "4",
    "clarity": "5",
    "ml_relevance": "4",
    "formatting": "3",
    "ats_readiness": "4",
}
REVIEW = {
    **SCORES,
    "summary": "Clear and relevant.",
    "comments": "Move skills up.\nAdd a GitHub link.",
    "outcome": "changes_suggested",
}


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lena Learner")


@pytest.fixture
def coach(make_user):
    return make_user("coach", name="Cora Coach", expertise=["ml", "python"])


@pytest.fixture
def offered(client, learner, coach, token_for):
    """A résumé routed to the coach (offered, not accepted); the coach is signed in."""
    from tests.support_resumes import make_pdf

    response = upload(client, token_for(learner), make_pdf())
    assert response.status_code == 201, response.json
    resume_id = response.json["id"]
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()
    assert db.session.get(Resume, resume_id).reviewer_id == coach.id
    sign_in(client, coach.email)
    return resume_id


def page_of(resume_id: int) -> str:
    return f"/coach/reviews/{resume_id}"


def accept(client, resume_id: int) -> str:
    token = csrf_token(client, page_of(resume_id))
    assert (
        client.post(f"{page_of(resume_id)}/accept", data={"csrf_token": token}).status_code == 302
    )
    return token


def send(client, resume_id: int, token: str, **changes: str):
    return client.post(
        f"{page_of(resume_id)}/review",
        data={"csrf_token": token, **REVIEW, "confirmed": "yes", **changes},
    )


def save_draft(client, resume_id: int, token: str | None, body: dict):
    headers = {"X-CSRFToken": token} if token else {}
    return client.put(f"{page_of(resume_id)}/draft", json=body, headers=headers)


def checked(html: str, name: str) -> list[str]:
    return re.findall(rf'<input checked[^>]*name="{name}"[^>]*value="([^"]+)"', html) + re.findall(
        rf'<input[^>]*name="{name}"[^>]*value="([^"]+)"[^>]*checked', html
    )


def test_the_rubric_is_live_only_once_the_offer_is_accepted(client, offered):
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert re.search(r'<fieldset class="review-fields" disabled>', html)
    assert "Accept to start reviewing" in html
    token = csrf_token(client, page_of(offered))
    refused = send(client, offered, token)
    assert refused.status_code == 409
    assert "Accept the offer first" in refused.get_data(as_text=True)
    assert db.session.get(Resume, offered).status == "assigned"
    assert save_draft(client, offered, token, {"summary": "Early"}).status_code == 409
    assert db.session.scalar(select(ReviewDraft)) is None

    accept(client, offered)
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert '<fieldset class="review-fields">' in html
    assert "Accept to start reviewing" not in html


def test_the_rubric_says_what_1_3_and_5_mean_for_each_criterion(client, offered):
    accept(client, offered)
    html = client.get(page_of(offered)).get_data(as_text=True)
    for criterion in RUBRIC:
        assert f'aria-describedby="{criterion.id}-anchors"' in html
        for score in (1, 3, 5):
            assert criterion.anchors[score].replace("'", "&#39;") in html


def test_the_outcome_has_no_default_and_is_required(client, offered):
    token = accept(client, offered)
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert len(re.findall(r'name="outcome"', html)) == 3
    assert checked(html, "outcome") == []

    missing = send(client, offered, token, outcome="")
    assert missing.status_code == 422
    assert "Choose an outcome" in missing.get_data(as_text=True)
    assert db.session.get(Resume, offered).status == "in_review"
    assert db.session.scalar(select(Review)) is None


def test_sending_shows_the_review_as_the_learner_will_see_it_first(client, offered):
    token = accept(client, offered)
    step = client.post(f"{page_of(offered)}/review", data={"csrf_token": token, **REVIEW})
    assert step.status_code == 200
    html = step.get_data(as_text=True)
    assert "Send this review to Lena Learner?" in html
    assert "Changes suggested" in html and "Clear and relevant." in html
    assert "<dt>Clarity</dt><dd>5/5</dd>" in html
    assert 'name="confirmed" value="yes"' in html
    assert db.session.get(Resume, offered).status == "in_review"  # nothing sent yet
    # ... and what it showed is kept as the draft, should the coach go back to edit.
    draft = db.session.scalar(select(ReviewDraft))
    assert draft.summary == "Clear and relevant." and draft.outcome == "changes_suggested"

    assert send(client, offered, token).status_code == 302
    assert db.session.get(Resume, offered).status == "reviewed"
    assert db.session.scalar(select(ReviewDraft)) is None  # sent: no draft left


def test_a_draft_is_kept_per_version_and_survives_a_reload_and_a_sign_out(client, offered, coach):
    token = accept(client, offered)
    body = {"scores": {"impact": "2", "clarity": 4}, "summary": "Half way", "outcome": None}
    saved = save_draft(client, offered, token, body)
    assert saved.status_code == 200, saved.json
    assert saved.json["message"].startswith("Draft saved at ")
    version = resumes.current_version(db.session.get(Resume, offered))
    draft = db.session.scalar(select(ReviewDraft))
    assert (draft.version_id, draft.coach_id) == (version.id, coach.id)
    assert draft.scores == {"impact": 2, "clarity": 4}

    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "Half way</textarea>" in html
    assert checked(html, "impact") == ["2"] and checked(html, "clarity") == ["4"]
    assert "Draft saved " in html

    client.post("/sign-out", data={"csrf_token": csrf_token(client, page_of(offered))})
    sign_in(client, coach.email)
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "Half way</textarea>" in html and checked(html, "impact") == ["2"]

    # A second save replaces the first: one draft per version and coach.
    token = csrf_token(client, page_of(offered))
    assert save_draft(client, offered, token, {"summary": "Nearly"}).status_code == 200
    drafts = db.session.scalars(select(ReviewDraft)).all()
    assert len(drafts) == 1 and drafts[0].summary == "Nearly" and drafts[0].scores == {}


def test_a_draft_needs_the_csrf_token_and_valid_values(client, offered):
    token = accept(client, offered)
    assert save_draft(client, offered, None, {"summary": "x"}).status_code == 400
    bad = save_draft(client, offered, token, {"scores": {"impact": 9}})
    assert bad.status_code == 422 and "scores.impact" in bad.json["errors"]
    assert save_draft(client, offered, token, {"outcome": "maybe"}).status_code == 422
    too_long = save_draft(client, offered, token, {"summary": "x" * (resumes.MAX_SUMMARY + 1)})
    assert too_long.status_code == 422
    assert db.session.scalar(select(ReviewDraft)) is None


def test_a_failed_submit_keeps_what_was_typed_as_the_draft(client, offered):
    token = accept(client, offered)
    response = client.post(
        f"{page_of(offered)}/review",
        data={"csrf_token": token, "impact": "3", "summary": "Typed, then sent too early"},
    )
    assert response.status_code == 422
    client.get("/dashboard")
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "Typed, then sent too early</textarea>" in html and checked(html, "impact") == ["3"]


def corrections(resume_id: int) -> list[OutboxEvent]:
    return [
        e
        for e in db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.kind == "resume.review_corrected")
        )
        if e.payload["resume_id"] == resume_id
    ]


def test_a_sent_review_can_be_corrected_and_the_learner_is_told(client, offered, learner):
    token = accept(client, offered)
    assert send(client, offered, token).status_code == 302
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "Correct this review" in html and "You can correct it until" in html
    assert checked(html, "outcome") == ["changes_suggested"]  # the sent review, to edit

    token = csrf_token(client, page_of(offered))
    step = client.post(
        f"{page_of(offered)}/correct",
        data={"csrf_token": token, **REVIEW, "outcome": "approved", "formatting": "4"},
    )
    assert step.status_code == 200
    assert "Send this correction to Lena Learner?" in step.get_data(as_text=True)
    done = client.post(
        f"{page_of(offered)}/correct",
        data={
            "csrf_token": token,
            **REVIEW,
            "outcome": "approved",
            "formatting": "4",
            "confirmed": "yes",
        },
    )
    assert done.status_code == 302
    review = db.session.scalar(select(Review))
    assert (review.outcome, review.formatting, review.corrected_at is not None) == (
        "approved",
        4,
        True,
    )
    [event] = corrections(offered)
    assert event.payload["changed"] == ["formatting", "outcome"]
    assert notifications.fan_out(event.id).made == 1
    note = db.session.scalar(
        select(Notification).where(Notification.kind == "resume_review_corrected")
    )
    assert note.user_id == learner.id
    assert "corrected the review" in note.body and "approved" in note.body
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "· corrected " in html  # the review says so, for the coach and the learner alike
    assert "Review corrected</strong> by Cora Coach: changed formatting and outcome" in html
    assert "(changed formatting and outcome)" in note.body

    # Sending the same again changes nothing and tells no one.
    again = client.post(
        f"{page_of(offered)}/correct",
        data={
            "csrf_token": token,
            **REVIEW,
            "outcome": "approved",
            "formatting": "4",
            "confirmed": "yes",
        },
    )
    assert again.status_code == 302 and len(corrections(offered)) == 1


def test_a_review_cannot_be_corrected_after_the_window(client, app, offered):
    token = accept(client, offered)
    assert send(client, offered, token).status_code == 302
    review = db.session.scalar(select(Review))
    window = dt.timedelta(hours=app.config["REVIEW_CORRECTION_HOURS"])
    review.created_at = review.created_at - window - dt.timedelta(minutes=1)
    db.session.commit()

    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "Correct this review" not in html and "The time to correct it ended" in html
    late = client.post(
        f"{page_of(offered)}/correct",
        data={"csrf_token": token, **REVIEW, "outcome": "approved", "confirmed": "yes"},
    )
    assert late.status_code == 409
    assert db.session.scalar(select(Review)).outcome == "changes_suggested"
    assert corrections(offered) == []


def test_the_api_corrects_a_review_within_the_window(client, app, offered, coach, token_for):
    auth = {"Authorization": f"Bearer {token_for(coach)}"}
    body = {"summary": "Good.", "scores": {"impact": 4, "clarity": 4}, "outcome": "approved"}
    before = client.put(f"/api/v1/resumes/{offered}/review", json=body, headers=auth)
    assert before.status_code == 409 and before.json["code"] == "invalid_status"
    assert (
        client.post(f"/api/v1/resumes/{offered}/review", json=body, headers=auth).status_code == 200
    )

    fixed = client.put(
        f"/api/v1/resumes/{offered}/review",
        json={**body, "outcome": "changes_suggested", "comments": ["Add numbers."]},
        headers=auth,
    )
    assert fixed.status_code == 200, fixed.json
    review = fixed.json["review"]
    assert review["outcome"] == "changes_suggested" and review["comments"] == "Add numbers."
    assert review["corrected_at"] is not None
    created = dt.datetime.fromisoformat(review["created_at"])
    until = dt.datetime.fromisoformat(review["correctable_until"])
    assert until - created == dt.timedelta(hours=app.config["REVIEW_CORRECTION_HOURS"])
    assert len(corrections(offered)) == 1

    row = db.session.scalar(select(Review))
    row.created_at = row.created_at - dt.timedelta(days=2)
    db.session.commit()
    late = client.put(f"/api/v1/resumes/{offered}/review", json=body, headers=auth)
    assert late.status_code == 409 and late.json["code"] == "correction_closed"


def test_the_checks_show_what_to_improve_before_what_passed(client, offered):
    html = client.get(page_of(offered)).get_data(as_text=True)
    assert "To improve (" in html and "Passed (" in html
    assert html.index("To improve (") < html.index("Passed (")
