"""A résumé held against a job description: the job pasted or uploaded (PDF), the gap analysis of
a real PDF and DOCX résumé against a real job description (fixtures written for this project),
`job_match` in the API, the pages, and routing that adds the job's skills and says so."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from services import resumes
from services.db import db
from services.models import Resume, RoutingDecision
from services.resumes import routing
from tests.support_auth import csrf_token, sign_in
from tests.support_openapi import faults
from tests.support_resumes import make_pdf, upload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JOB = (FIXTURES / "jobs" / "mlops_engineer.txt").read_text()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Priya Patel")


def analyse_and_route(resume_id: int) -> None:
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()


@pytest.mark.parametrize("name", ["priya_patel.pdf", "priya_patel.docx"])
def test_the_gap_analysis_of_a_real_resume_against_a_real_job(
    client, learner, token_for, make_user, name
):
    make_user("coach", name="Cora Coach", expertise=["ml", "python"], review_capacity=3)
    token = token_for(learner)
    data = (FIXTURES / "resumes" / name).read_bytes()
    response = upload(client, token, data, name, job_description=JOB)
    assert response.status_code == 201, response.json
    assert response.json["job_description"].startswith("Title: Senior MLOps Engineer")
    assert response.json["job_match"] is None  # the worker has not run yet
    assert faults(client, "post", "/api/v1/resumes", 201, response.json) == []
    analyse_and_route(response.json["id"])
    body = client.get(f"/api/v1/resumes/{response.json['id']}", headers=auth(token)).json
    assert faults(client, "get", "/api/v1/resumes/{resume_id}", 200, body) == []
    match = body["job_match"]
    where = {m["name"]: m["where"] for m in match["matched"]}
    assert where["PyTorch"] == ["an experience bullet", "the skills section"]
    assert where["Kubernetes"] == ["the skills section"]  # listed, never shown in use
    assert where["CI/CD"] == ["a project"]
    missing = [m["name"] for m in match["missing"]]
    assert missing == ["Spark", "Google Cloud", "Terraform", "LLMs", "Teamwork"]  # hard first
    assert match["counts"] == {
        "hard_matched": 13,
        "hard_total": 17,
        "soft_matched": 2,
        "soft_total": 3,
    }
    assert match["title"]["job_title"] == "Senior MLOps Engineer"
    assert match["title"]["named"] is False
    assert any("Kubernetes is only in your skills list" in a for a in match["advice"])
    assert any("Spark, Google Cloud, Terraform and LLMs" in a for a in match["advice"])
    assert "keywords" in match["note"]
    assert "%" not in str(match)  # a breakdown, never one opaque percentage


@pytest.mark.parametrize("name", ["mlops_engineer.pdf", "mlops_engineer.docx"])
def test_the_job_description_may_be_a_pdf_or_docx(client, learner, token_for, name):
    token = token_for(learner)
    response = client.post(
        "/api/v1/resumes",
        data={
            "target_role": "MLOps engineer",
            "file": (io.BytesIO((FIXTURES / "resumes" / "priya_patel.pdf").read_bytes()), "cv.pdf"),
            "job_file": (io.BytesIO((FIXTURES / "jobs" / name).read_bytes()), name),
        },
        headers=auth(token),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert response.json["job_description"].startswith("Title: Senior MLOps Engineer")
    analyse_and_route(response.json["id"])
    match = client.get(f"/api/v1/resumes/{response.json['id']}", headers=auth(token)).json[
        "job_match"
    ]
    # The file's text gives the job the pasted description does.
    assert match["title"]["job_title"] == "Senior MLOps Engineer"
    assert match["counts"] == {
        "hard_matched": 13,
        "hard_total": 17,
        "soft_matched": 2,
        "soft_total": 3,
    }


def test_a_bad_job_description_is_refused_and_nothing_is_stored(client, learner, token_for):
    token = token_for(learner)
    cv = (FIXTURES / "resumes" / "priya_patel.pdf").read_bytes()
    too_long = upload(client, token, cv, "cv.pdf", job_description="x" * 20_001)
    assert too_long.status_code == 422
    assert "job_description" in too_long.json["errors"]
    not_a_document = client.post(
        "/api/v1/resumes",
        data={
            "target_role": "MLOps engineer",
            "file": (io.BytesIO(cv), "cv.pdf"),
            "job_file": (io.BytesIO(b"just some text, not a PDF"), "posting.pdf"),
        },
        headers=auth(token),
        content_type="multipart/form-data",
    )
    assert not_a_document.status_code in (415, 422), not_a_document.json
    assert list(not_a_document.json["errors"]) == ["job_file"]
    assert db.session.scalar(select(Resume).where(Resume.learner_id == learner.id)) is None


def test_routing_adds_the_jobs_skills_and_says_so(client, learner, token_for, make_user):
    make_user("coach", name="Mel Ml", expertise=["ml", "python"], review_capacity=3)
    ops = make_user(
        "coach", name="Ops Olu", expertise=["mlops", "docker", "cloud"], review_capacity=3
    )
    token = token_for(learner)
    # A résumé naming little infrastructure, aimed at an MLOps-heavy job: the job decides.
    cv = make_pdf(
        [
            "Priya Patel",
            "priya.patel@example.com",
            "Experience",
            "Analyst, Harbor Logistics, 2019-2025",
            "Wrote weekly reports.",
        ]
    )
    response = upload(client, token, cv, "cv.pdf", target_role="Engineer", job_description=JOB)
    assert response.status_code == 201, response.json
    analyse_and_route(response.json["id"])
    decision = db.session.scalar(
        select(RoutingDecision).where(RoutingDecision.resume_id == response.json["id"])
    )
    assert decision is not None and decision.coach_id == ops.id
    assert "matched cloud, docker, mlops from the job description (" in decision.reason
    assert "Kubernetes" in decision.reason and "Terraform" in decision.reason
    # The job's skills are among the tags routing matches.
    assert routing.resume_tags(
        db.session.get(Resume, response.json["id"]),
        resumes.current_version(db.session.get(Resume, response.json["id"])),
    ) >= {"mlops", "docker", "cloud"}


def test_the_learner_and_coach_pages_show_the_match(client, learner, token_for, make_user):
    coach = make_user("coach", name="Cora Coach", expertise=["ml", "python"], review_capacity=3)
    token = token_for(learner)
    data = (FIXTURES / "resumes" / "priya_patel.docx").read_bytes()
    response = upload(client, token, data, "cv.docx", job_description=JOB)
    resume_id = response.json["id"]
    analyse_and_route(resume_id)
    sign_in(client, learner.email)
    page = client.get(f"/learn/resumes/{resume_id}").get_data(as_text=True)
    assert "Against the job description" in page
    assert "Senior MLOps Engineer" in page
    assert "Terraform" in page
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    sign_in(client, coach.email)
    offered = client.get(f"/coach/reviews/{resume_id}")
    assert offered.status_code == 200
    body = offered.get_data(as_text=True)
    assert "Against the job description" in body and "Kubernetes" in body


def test_the_upload_page_takes_the_job_pasted_or_as_a_file_and_says_what_is_wrong(client, learner):
    sign_in(client, learner.email)
    cv = (FIXTURES / "resumes" / "priya_patel.pdf").read_bytes()

    def post(**fields):
        data = {
            "csrf_token": csrf_token(client, "/learn/resumes/new"),
            "target_role": "MLOps engineer",
            "file": (io.BytesIO(cv), "cv.pdf"),
            **fields,
        }
        return client.post("/learn/resumes/new", data=data, content_type="multipart/form-data")

    too_long = post(job_description="x" * 20_001)
    assert too_long.status_code == 422
    assert "Use at most 20,000 characters, or upload the file." in html.unescape(
        too_long.get_data(as_text=True)
    )
    not_a_document = post(job_file=(io.BytesIO(b"just some text, not a PDF"), "posting.pdf"))
    assert not_a_document.status_code in (415, 422)
    page = html.unescape(not_a_document.get_data(as_text=True))
    assert re.search(r'id="job_file-error"[^>]*>[^<]*\w', page), page[-3000:]
    assert db.session.scalar(select(Resume).where(Resume.learner_id == learner.id)) is None

    docx = (FIXTURES / "jobs" / "mlops_engineer.docx").read_bytes()
    sent = post(job_file=(io.BytesIO(docx), "posting.docx"))
    assert sent.status_code == 302, sent.get_data(as_text=True)[-2000:]
    resume = db.session.scalar(select(Resume).where(Resume.learner_id == learner.id))
    version = resumes.current_version(resume)
    assert version.job_description.startswith("Title: Senior MLOps Engineer")
