"""The Résumés contract of the API, in-process (per-test rollback, SQLite and PostgreSQL): upload
answers, the bad-upload set, access, downloads, and the coach's accept/decline/review."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import resumes
from services.db import db
from services.models import Assignment, Resume, ResumeVersion, RoutingDecision
from services.resumes import routing
from tests.support_resumes import bad_uploads, make_docx, make_pdf, upload


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lena Learner")


@pytest.fixture
def coach(make_user):
    return make_user("coach", name="Cora Coach", expertise=["ml", "python"], review_capacity=3)


def analyse_and_route(resume_id: int) -> None:
    """What the worker does, in-process: checks, then routing (worker tests run the real thing)."""
    resume = db.session.get(Resume, resume_id)
    version = resumes.current_version(resume)
    resumes.analyse(version.id)
    routing.route(resume_id)
    db.session.commit()


def test_upload_answers_201_submitted_at_once(client, learner, token_for, app):
    token = token_for(learner)
    response = upload(client, token, make_pdf(), "Lena CV.pdf", notes="Aiming for MLE roles")

    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"] == f"/api/v1/resumes/{body['id']}"
    assert body["status"] == "submitted"
    assert body["target_role"] == "ML engineer"
    assert body["filename"] == "Lena CV.pdf"
    assert body["size"] == len(make_pdf())
    assert body["content_type"] == "application/pdf"
    assert body["reviewer"] is None and body["review"] is None and body["due_at"] is None
    assert body["checks"] is None  # the worker has not run yet
    assert body["created_at"].endswith("+00:00")
    assert [h["event"] for h in body["history"]] == ["submitted"]
    assert body["history"][0]["by"] == {"id": learner.id, "name": "Lena Learner"}
    version = db.session.scalar(select(ResumeVersion).where(ResumeVersion.resume_id == body["id"]))
    assert version.sha256 == body["versions"][0]["sha256"]
    # Content-addressed, outside every served folder, under a generated name.
    [path] = [p for p in stored_files(app) if p.name == version.sha256]
    assert "objects" in path.parts and "Lena" not in str(path)


def test_docx_is_sniffed_whatever_its_name(client, learner, token_for):
    response = upload(client, token_for(learner), make_docx(), "resume.pdf")
    assert response.status_code == 201, response.json
    assert response.json["content_type"].endswith("wordprocessingml.document")
    assert response.json["filename"] == "resume.docx"  # the real type's extension


def test_the_bad_upload_set_gets_4xx_and_stores_nothing(client, learner, token_for, app):
    token = token_for(learner)
    before_files = stored_files(app)
    before_rows = db.session.scalar(select(func.count(Resume.id)))
    for label, name, data, status, code in bad_uploads(app.config["MAX_UPLOAD_MB"]):
        response = upload(client, token, data, name)
        assert response.status_code == status, (label, response.status_code, response.json)
        assert response.mimetype == "application/problem+json", label
        assert response.json["code"] == code, (label, response.json)
        assert response.json["detail"], label
    assert db.session.scalar(select(func.count(Resume.id))) == before_rows
    assert stored_files(app) == before_files


def test_a_body_beyond_max_content_length_is_413_file_too_large(client, learner, token_for, app):
    big = b"%PDF-1.4\n" + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = upload(client, token_for(learner), big)
    assert response.status_code == 413
    assert response.json["code"] == "file_too_large"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"target_role": ""}, "target_role"),
        ({"target_role": "x" * 121}, "target_role"),
        ({"notes": "n" * 2001}, "notes"),
    ],
)
def test_invalid_fields_are_422_and_store_nothing(client, learner, token_for, app, form, field):
    before = stored_files(app)
    response = upload(client, token_for(learner), make_pdf(), **form)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]
    assert stored_files(app) == before


def test_a_missing_file_is_422(client, learner, token_for):
    response = client.post(
        "/api/v1/resumes",
        data={"target_role": "ML engineer"},
        headers=auth(token_for(learner)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "file" in response.json["errors"]


def test_only_learners_upload_and_anonymous_is_401(client, coach, token_for):
    assert upload(client, token_for(coach), make_pdf()).status_code == 403
    response = client.post("/api/v1/resumes", data={"target_role": "x"})
    assert response.status_code == 401


def test_access_owner_assigned_coach_staff_see_it_others_get_404(
    client, learner, coach, make_user, token_for
):
    other_learner = make_user("learner")
    other_coach = make_user("coach", expertise=["frontend"], review_capacity=0)
    staff = make_user("staff")
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    analyse_and_route(resume_id)

    for user, status in [
        (learner, 200),
        (coach, 200),
        (staff, 200),
        (other_learner, 404),
        (other_coach, 404),
    ]:
        token = token_for(user)
        assert client.get(f"/api/v1/resumes/{resume_id}", headers=auth(token)).status_code == status
        file_response = client.get(f"/api/v1/resumes/{resume_id}/file", headers=auth(token))
        assert file_response.status_code == status
    listed = client.get("/api/v1/resumes", headers=auth(token_for(other_learner))).json
    assert listed == {"items": [], "next_cursor": None}
    mine = client.get("/api/v1/resumes", headers=auth(token_for(coach))).json["items"]
    assert [r["id"] for r in mine] == [resume_id]


def test_download_is_an_attachment_with_nosniff_and_a_sandbox(client, learner, token_for):
    token = token_for(learner)
    pdf = make_pdf()
    resume_id = upload(client, token, pdf, "Résumé (final).pdf").json["id"]

    response = client.get(f"/api/v1/resumes/{resume_id}/file", headers=auth(token))

    assert response.status_code == 200
    assert response.data == pdf
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20%28final%29.pdf" in disposition
    assert 'filename="Resume (final).pdf"' in disposition  # the ASCII fallback
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_checks_then_routing_then_accept_and_review(client, learner, coach, token_for):
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    analyse_and_route(resume_id)
    coach_token = token_for(coach)

    body = client.get(f"/api/v1/resumes/{resume_id}", headers=auth(coach_token)).json
    assert body["status"] == "assigned"
    assert body["reviewer"] == {"id": coach.id, "name": "Cora Coach"}
    assert body["due_at"] is not None and body["offer_expires_at"] is not None
    checks = {c["id"]: c for c in body["checks"]}
    assert checks["contact_details"]["passed"] is True
    assert checks["skill_python"]["passed"] is True
    assert all(c["message"] for c in body["checks"])

    accepted = client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(coach_token))
    assert accepted.status_code == 200
    assert accepted.json["status"] == "in_review"

    review = client.post(
        f"/api/v1/resumes/{resume_id}/review",
        headers=auth(coach_token),
        json={
            "summary": "Strong ML focus; tighten the project bullets.",
            "scores": {
                "impact": 4,
                "clarity": 3,
                "ml_relevance": 5,
                "formatting": 4,
                "ats_readiness": 4,
            },
            "comments": "Lead with the latency result.",
        },
    )
    assert review.status_code == 200, review.json
    assert review.json["status"] == "reviewed"
    assert review.json["review"]["scores"]["ml_relevance"] == 5
    assert review.json["review"]["outcome"] == "changes_suggested"
    assert [h["event"] for h in review.json["history"]] == [
        "submitted",
        "checked",
        "assigned",
        "accepted",
        "reviewed",
    ]
    learner_view = client.get(f"/api/v1/resumes/{resume_id}", headers=auth(token_for(learner)))
    assert learner_view.json["review"]["summary"].startswith("Strong ML focus")
    # Reviewing twice is a state conflict, not a second review.
    again = client.post(
        f"/api/v1/resumes/{resume_id}/review",
        headers=auth(coach_token),
        json={"summary": "again", "scores": {"impact": 1}},
    )
    assert again.status_code == 409


def test_review_validation_and_roles(client, learner, coach, make_user, token_for):
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    analyse_and_route(resume_id)
    coach_token = token_for(coach)
    for body in [
        {"scores": {"impact": 3}},
        {"summary": "ok", "scores": {}},
        {"summary": "ok", "scores": {"impact": 6}},
        {"summary": "ok", "scores": {"charm": 3}},
        {"summary": "ok", "scores": {"impact": 3}, "outcome": "meh"},
    ]:
        response = client.post(
            f"/api/v1/resumes/{resume_id}/review", headers=auth(coach_token), json=body
        )
        assert response.status_code == 422, body
        assert response.json["code"] == "validation_error"
    learner_token = token_for(learner)
    assert (
        client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(learner_token)).status_code
        == 403
    )
    stranger = make_user("coach")
    response = client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(token_for(stranger)))
    assert response.status_code == 404


def test_decline_needs_a_reason_and_routes_to_someone_else(
    client, learner, coach, make_user, token_for
):
    second = make_user("coach", name="Second Coach", expertise=["python"], review_capacity=3)
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    analyse_and_route(resume_id)
    coach_token = token_for(coach)

    missing = client.post(
        f"/api/v1/resumes/{resume_id}/decline", headers=auth(coach_token), json={}
    )
    assert missing.status_code == 422

    declined = client.post(
        f"/api/v1/resumes/{resume_id}/decline",
        headers=auth(coach_token),
        json={"reason": "I know this learner personally."},
    )
    assert declined.status_code == 200
    assert declined.json["status"] == "submitted"
    assert declined.json["reviewer"] is None
    routing.route(resume_id)  # what the worker does next
    db.session.commit()
    resume = db.session.get(Resume, resume_id)
    assert resume.reviewer_id == second.id
    decision = routing.decisions_for(resume_id)[-1]
    assert "1 excluded: 1 declined" in decision.reason
    # The declining coach no longer sees it.
    assert client.get(f"/api/v1/resumes/{resume_id}", headers=auth(coach_token)).status_code == 404


def test_staff_assign_records_who_and_why(client, learner, coach, make_user, token_for):
    other = make_user("coach", name="Other Coach", expertise=["sql"], review_capacity=1)
    staff = make_user("staff", name="Sam Staff")
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    analyse_and_route(resume_id)
    staff_token = token_for(staff)

    response = client.post(
        f"/api/v1/resumes/{resume_id}/assign",
        headers=auth(staff_token),
        json={"coach_id": other.id, "reason": "Cora is on leave next week"},
    )

    assert response.status_code == 200, response.json
    assert response.json["reviewer"]["id"] == other.id
    assert response.json["routing_reason"].startswith(
        "assigned by Sam Staff: Cora is on leave next week"
    )
    live = db.session.scalars(select(Assignment).where(Assignment.resume_id == resume_id)).all()
    assert sorted(a.status for a in live) == ["offered", "withdrawn"]
    decision = db.session.scalars(
        select(RoutingDecision).where(RoutingDecision.resume_id == resume_id)
    ).all()[-1]
    assert decision.outcome == "manual" and decision.actor_id == staff.id
    audit = client.get(f"/api/v1/resumes/{resume_id}/decisions", headers=auth(staff_token)).json
    assert [d["outcome"] for d in audit["items"]] == ["offered", "manual"]
    assert audit["items"][0]["components"]["coach"]["matched"] == ["ml", "python"]
    bad = client.post(
        f"/api/v1/resumes/{resume_id}/assign", headers=auth(staff_token), json={"coach_id": 999999}
    )
    assert bad.status_code == 422
    assert (
        client.post(
            f"/api/v1/resumes/{resume_id}/assign",
            headers=auth(token_for(coach)),
            json={"coach_id": other.id},
        ).status_code
        == 403
    )


def test_a_new_version_is_kept_and_goes_back_to_the_last_reviewer(
    client, learner, coach, make_user, token_for
):
    token = token_for(learner)
    coach_token = token_for(coach)
    resume_id = upload(client, token, make_pdf()).json["id"]
    analyse_and_route(resume_id)
    assert db.session.get(Resume, resume_id).reviewer_id == coach.id
    busy = client.post(
        f"/api/v1/resumes/{resume_id}/versions",
        headers=auth(token),
        data={"file": (io.BytesIO(make_pdf()), "v2.pdf")},
        content_type="multipart/form-data",
    )
    assert busy.status_code == 409 and busy.json["code"] == "review_in_progress"
    client.post(
        f"/api/v1/resumes/{resume_id}/review",
        headers=auth(coach_token),
        json={"summary": "Good", "scores": {"impact": 4}},
    )
    make_user("coach", expertise=["ml", "python", "sql"], review_capacity=9)  # a better fit now
    response = client.post(
        f"/api/v1/resumes/{resume_id}/versions",
        headers=auth(token),
        data={"file": (io.BytesIO(make_docx()), "v2.docx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert response.json["version"] == 2 and len(response.json["versions"]) == 2
    assert response.json["status"] == "submitted"
    assert response.json["review"] is None  # the review was of version 1
    analyse_and_route(resume_id)
    assert db.session.get(Resume, resume_id).reviewer_id == coach.id
    assert "reviewed v1" in routing.decisions_for(resume_id)[-1].reason


def test_list_filters_by_status_and_paginates(client, learner, token_for):
    token = token_for(learner)
    ids = [upload(client, token, make_pdf()).json["id"] for _ in range(3)]
    page = client.get("/api/v1/resumes?limit=2", headers=auth(token)).json
    assert [r["id"] for r in page["items"]] == ids[::-1][:2]
    rest = client.get(f"/api/v1/resumes?limit=2&cursor={page['next_cursor']}", headers=auth(token))
    assert [r["id"] for r in rest.json["items"]] == [ids[0]]
    assert rest.json["next_cursor"] is None
    none = client.get("/api/v1/resumes?status=reviewed", headers=auth(token)).json
    assert none["items"] == []
    # The filter keeps what matches, too (an empty answer alone would pass with a broken filter).
    status = db.session.get(Resume, ids[0]).status
    matching = client.get(f"/api/v1/resumes?status={status}", headers=auth(token)).json
    assert {r["id"] for r in matching["items"]} == {
        i for i in ids if db.session.get(Resume, i).status == status
    }
    assert all(r["status"] == status for r in matching["items"])
    assert client.get("/api/v1/resumes?status=bogus", headers=auth(token)).status_code == 422


def test_out_of_range_ids_and_nul_characters_are_4xx_not_500(client, learner, make_user, token_for):
    token = token_for(learner)
    huge = 2**63 + 5
    assert client.get(f"/api/v1/resumes/{huge}", headers=auth(token)).status_code == 404
    response = upload(client, token, make_pdf(), target_role="ML\x00engineer")
    assert response.status_code == 422 and "target_role" in response.json["errors"]
    staff_token = token_for(make_user("staff"))
    resume_id = upload(client, token, make_pdf()).json["id"]
    assigned = client.post(
        f"/api/v1/resumes/{resume_id}/assign", headers=auth(staff_token), json={"coach_id": huge}
    )
    assert assigned.status_code == 422
    queue = client.get(f"/api/v1/queue?coach_id={huge}", headers=auth(staff_token))
    assert queue.status_code == 422
