"""The staff résumé page (per-test rollback, SQLite and PostgreSQL): everything about one résumé,
with every routing decision, and assign or withdraw from it, each audited."""

from __future__ import annotations

import html as htmllib

import pytest

from services import audit, resumes
from services.db import db
from services.models import Resume
from services.resumes import routing
from tests.support_auth import csrf_token, sign_in
from tests.support_resumes import make_pdf, upload


@pytest.fixture
def people(make_user):
    return {
        "learner": make_user("learner", name="Lena Learner"),
        "cora": make_user("coach", name="Cora Coach", expertise=["python"], review_capacity=3),
        "otto": make_user("coach", name="Otto Other", expertise=["sql"], review_capacity=3),
        "staff": make_user("staff", name="Sam Staff"),
    }


def routed(client, token_for, learner) -> int:
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()
    return resume_id


def test_the_page_shows_the_file_checks_timeline_and_why_it_was_routed(client, people, token_for):
    resume_id = routed(client, token_for, people["learner"])
    sign_in(client, people["staff"].email)

    page = client.get(f"/staff/resumes/{resume_id}")

    assert page.status_code == 200
    text = htmllib.unescape(page.get_data(as_text=True))
    assert f"#{resume_id} ML engineer" in text
    assert f'data-pdf-url="/staff/resumes/{resume_id}/file?version=1"' in text
    assert "Automated checks" in text and "Timeline" in text
    decision = routing.decisions_for(resume_id)[-1]
    assert "Routing decisions" in text and decision.reason in text
    assert "Cora Coach" in text
    download = client.get(f"/staff/resumes/{resume_id}/file?version=1")
    assert download.status_code == 200 and download.data == make_pdf()
    assert download.headers["Content-Disposition"].startswith("attachment")
    # The queue links to it.
    assert f'href="/staff/resumes/{resume_id}"' in client.get("/staff/queue").get_data(as_text=True)
    assert client.get("/staff/resumes/999999").status_code == 404


def test_reassign_from_the_page_comes_back_to_it(client, people, token_for):
    resume_id = routed(client, token_for, people["learner"])
    sign_in(client, people["staff"].email)
    page = f"/staff/resumes/{resume_id}"

    response = client.post(
        f"/staff/queue/{resume_id}/assign",
        data={
            "csrf_token": csrf_token(client, page),
            "coach_id": str(people["otto"].id),
            "reason": "Otto knows the team",
            "next": page,
        },
    )

    assert response.status_code == 302 and response.headers["Location"] == page
    assert db.session.get(Resume, resume_id).reviewer_id == people["otto"].id
    text = htmllib.unescape(client.get(page).get_data(as_text=True))
    assert "is now offered to Otto Other" in text
    assert "Otto knows the team" in text  # the manual decision's reason


def test_withdraw_needs_a_reason_and_is_audited(client, people, token_for):
    resume_id = routed(client, token_for, people["learner"])
    sign_in(client, people["staff"].email)
    page = f"/staff/resumes/{resume_id}"

    empty = client.post(f"{page}/cancel", data={"csrf_token": csrf_token(client, page)})
    assert empty.status_code == 422 and "Say why" in empty.get_data(as_text=True)
    assert db.session.get(Resume, resume_id).status == "assigned"

    done = client.post(
        f"{page}/cancel",
        data={"csrf_token": csrf_token(client, page), "reason": "Duplicate upload"},
        follow_redirects=True,
    )

    assert done.status_code == 200
    assert f"Résumé {resume_id} withdrawn." in htmllib.unescape(done.get_data(as_text=True))
    assert db.session.get(Resume, resume_id).status == "cancelled"
    [entry] = audit.entries(audit.AuditFilter(action="resume.cancel", subject_id=resume_id)).items
    assert entry.actor_id == people["staff"].id and entry.reason == "Duplicate upload"
