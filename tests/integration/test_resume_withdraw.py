"""A learner (or staff) withdraws a résumé before its review (per-test rollback, SQLite and
PostgreSQL): the API and the learner's page, the coach told and freed, and what is refused."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from services import audit, notifications, resumes
from services.db import db
from services.models import Assignment, Notification, OutboxEvent, Resume
from services.models.resumes import AssignmentStatus
from services.resumes import routing
from tests.support_auth import csrf_token, sign_in
from tests.support_resumes import make_pdf, upload


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lena Learner")


@pytest.fixture
def coach(make_user):
    return make_user("coach", name="Cora Coach", expertise=["ml", "python"], review_capacity=3)


def routed_resume(client, token: str) -> int:
    resume_id = upload(client, token, make_pdf()).json["id"]
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()
    return resume_id


def withdrawn_events(resume_id: int) -> list[OutboxEvent]:
    rows = db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "resume.withdrawn"))
    return [e for e in rows if e.payload["resume_id"] == resume_id]


def test_the_learner_withdraws_an_assigned_resume_and_the_coach_is_told_and_freed(
    client, learner, coach, token_for
):
    token = token_for(learner)
    resume_id = routed_resume(client, token)
    assert db.session.get(Resume, resume_id).reviewer_id == coach.id
    coach_token = token_for(coach)
    assert client.get(f"/api/v1/resumes/{resume_id}", headers=auth(coach_token)).status_code == 200

    response = client.post(
        f"/api/v1/resumes/{resume_id}/cancel",
        headers=auth(token),
        json={"reason": "I got the job already"},
    )

    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "cancelled"
    assert body["reviewer"] is None and body["due_at"] is None
    last = body["history"][-1]
    assert last["event"] == "cancelled"
    assert last["by"] == {"id": learner.id, "name": "Lena Learner"}
    assert last["detail"] == "I got the job already"
    assignment = db.session.scalar(select(Assignment).where(Assignment.resume_id == resume_id))
    assert assignment.status == AssignmentStatus.WITHDRAWN
    # The coach no longer holds it (not in their list, not visible), so their room is back.
    assert routing.open_counts().get(coach.id, 0) == 0
    assert client.get(f"/api/v1/resumes/{resume_id}", headers=auth(coach_token)).status_code == 404
    # The coach is told, in the app.
    [event] = withdrawn_events(resume_id)
    notifications.fan_out(event.id)
    db.session.commit()
    told = db.session.scalars(
        select(Notification).where(
            Notification.user_id == coach.id, Notification.kind == "resume_withdrawn"
        )
    ).all()
    assert len(told) == 1 and "Lena Learner" in told[0].body

    # Asking again answers the same and changes nothing more.
    again = client.post(f"/api/v1/resumes/{resume_id}/cancel", headers=auth(token), json={})
    assert again.status_code == 200 and again.json["status"] == "cancelled"
    assert len(again.json["history"]) == len(body["history"])
    assert len(withdrawn_events(resume_id)) == 1


def test_a_resume_nobody_holds_is_withdrawn_without_telling_a_coach(client, learner, token_for):
    token = token_for(learner)
    resume_id = upload(client, token, make_pdf()).json["id"]  # submitted, not routed yet

    response = client.post(f"/api/v1/resumes/{resume_id}/cancel", headers=auth(token), json={})

    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert withdrawn_events(resume_id) == []
    # Routing a cancelled résumé afterwards (a queued job) does nothing.
    routing.route(resume_id)
    db.session.commit()
    assert db.session.get(Resume, resume_id).status == "cancelled"


def test_a_reviewed_resume_cannot_be_withdrawn(client, learner, coach, token_for):
    token = token_for(learner)
    resume_id = routed_resume(client, token)
    coach_token = token_for(coach)
    client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(coach_token))
    reviewed = client.post(
        f"/api/v1/resumes/{resume_id}/review",
        headers=auth(coach_token),
        json={"summary": "Solid.", "scores": {"impact": 4}},
    )
    assert reviewed.status_code == 200

    response = client.post(f"/api/v1/resumes/{resume_id}/cancel", headers=auth(token), json={})

    assert response.status_code == 409
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json["code"] == "invalid_status"
    assert db.session.get(Resume, resume_id).status == "reviewed"


def test_who_may_withdraw_and_bad_input(client, learner, coach, make_user, token_for):
    token = token_for(learner)
    resume_id = routed_resume(client, token)
    url = f"/api/v1/resumes/{resume_id}/cancel"

    other = client.post(url, headers=auth(token_for(make_user("learner"))), json={})
    assert other.status_code == 404 and other.json["code"] == "not_found"
    by_coach = client.post(url, headers=auth(token_for(coach)), json={})
    assert by_coach.status_code == 403
    too_long = client.post(url, headers=auth(token), json={"reason": "x" * 1001})
    assert too_long.status_code == 422 and too_long.json["code"] == "validation_error"
    assert client.post(url, json={}).status_code == 401
    assert db.session.get(Resume, resume_id).status == "assigned"  # nothing changed

    staff = make_user("staff", name="Sam Staff")
    by_staff = client.post(url, headers=auth(token_for(staff)), json={"reason": "Duplicate"})
    assert by_staff.status_code == 200 and by_staff.json["status"] == "cancelled"
    assert by_staff.json["history"][-1]["by"]["name"] == "Sam Staff"
    [entry] = audit.entries(audit.AuditFilter(action="resume.cancel", subject_id=resume_id)).items
    assert entry.actor_id == staff.id and entry.reason == "Duplicate"


def test_a_new_version_reopens_a_withdrawn_resume(client, learner, token_for):
    token = token_for(learner)
    resume_id = upload(client, token, make_pdf()).json["id"]
    client.post(f"/api/v1/resumes/{resume_id}/cancel", headers=auth(token), json={})

    response = client.post(
        f"/api/v1/resumes/{resume_id}/versions",
        data={"file": (io.BytesIO(make_pdf()), "cv-v2.pdf")},
        headers=auth(token),
        content_type="multipart/form-data",
    )

    assert response.status_code == 201, response.json
    assert response.json["status"] == "submitted"


def test_the_learner_page_withdraws_with_a_form(client, learner, coach, token_for):
    resume_id = routed_resume(client, token_for(learner))
    sign_in(client, learner.email)
    page = f"/learn/resumes/{resume_id}"
    assert "Withdraw this résumé" in client.get(page).get_data(as_text=True)

    too_long = client.post(
        f"{page}/cancel", data={"csrf_token": csrf_token(client, page), "reason": "x" * 1001}
    )
    assert too_long.status_code == 422
    assert db.session.get(Resume, resume_id).status == "assigned"
    no_csrf = client.post(f"{page}/cancel", data={"reason": "Found a job"})
    assert no_csrf.status_code == 400  # the CSRF check refuses it, not the form's validation
    assert db.session.get(Resume, resume_id).status == "assigned"

    response = client.post(
        f"{page}/cancel",
        data={"csrf_token": csrf_token(client, page), "reason": "Found a job"},
        follow_redirects=True,
    )

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Withdrawn." in html and "Withdraw this résumé" not in html
    assert db.session.get(Resume, resume_id).status == "cancelled"
