"""The learner's and the coach's résumé pages (per-test rollback): upload through the form (plain
and as the progress-bar script sends it), the detail page, and accept/decline/review forms."""

from __future__ import annotations

import io
import re

import pytest

from services import resumes
from services.db import db
from services.models import Resume, ResumeVersion
from services.resumes import routing
from tests.support_auth import csrf_token, sign_in
from tests.support_resumes import make_pdf, make_png
from tests.unit.test_resume_preview import make_formatted_docx


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lena Learner")


@pytest.fixture
def coach(make_user):
    return make_user("coach", name="Cora Coach", expertise=["ml", "python"])


def post_upload(client, data: bytes, name: str = "cv.pdf", *, xhr: bool = False, **fields):
    token = csrf_token(client, "/learn/resumes/new")
    form = {
        "csrf_token": token,
        "target_role": "ML engineer",
        "notes": "",
        **fields,
        "file": (io.BytesIO(data), name),
    }
    headers = {"X-Requested-With": "XMLHttpRequest"} if xhr else {}
    return client.post(
        "/learn/resumes/new", data=form, headers=headers, content_type="multipart/form-data"
    )


def routed(resume_id: int) -> None:
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()


def test_the_upload_page_is_a_labelled_form_with_a_progress_bar(client, learner):
    sign_in(client, learner.email)
    html = client.get("/learn/resumes/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert 'data-upload="true"' in html and "js/upload.js" in html
    assert '<label for="file">Résumé file</label>' in html
    assert 'accept=".pdf,.docx' in html
    assert "<progress" in html and 'role="status"' in html


def test_a_plain_form_upload_redirects_to_the_detail_page(client, learner):
    sign_in(client, learner.email)
    response = post_upload(client, make_pdf())
    assert response.status_code == 302
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ML engineer" in detail and "cv.pdf" in detail
    assert 'data-checks-pending="true"' in detail  # the worker has not run yet


def test_the_script_upload_answers_json(client, learner):
    sign_in(client, learner.email)
    good = post_upload(client, make_pdf(), xhr=True)
    assert good.status_code == 201
    assert re.fullmatch(r"/learn/resumes/\d+", good.json["location"])

    bad = post_upload(client, make_png(), "cv.pdf", xhr=True)
    assert bad.status_code == 415
    assert "PNG" in bad.json["errors"]["file"][0]

    missing_role = post_upload(client, make_pdf(), xhr=True, target_role="")
    assert missing_role.status_code == 422
    assert "target_role" in missing_role.json["errors"]


def test_a_form_upload_without_csrf_is_refused(client, learner):
    sign_in(client, learner.email)
    response = client.post(
        "/learn/resumes/new",
        data={"target_role": "ML engineer", "file": (io.BytesIO(make_pdf()), "cv.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert db.session.query(Resume).count() == 0


def test_the_learner_sees_checks_timeline_and_can_download(client, learner, coach):
    sign_in(client, learner.email)
    location = post_upload(client, make_pdf()).headers["Location"]
    resume_id = int(location.rsplit("/", 1)[1])
    routed(resume_id)

    html = client.get(location).get_data(as_text=True)
    assert "Automated checks" in html and "checks-pending" not in html
    assert "Mentions Python." in html
    assert "Timeline" in html and "Assigned" in html and "Cora Coach" in html
    listing = client.get("/learn/resumes").get_data(as_text=True)
    assert f'href="/learn/resumes/{resume_id}"' in listing
    download = client.get(f"/learn/resumes/{resume_id}/file")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_of_others_are_404_and_the_wrong_role_403(client, learner, coach, make_user):
    sign_in(client, learner.email)
    location = post_upload(client, make_pdf()).headers["Location"]
    resume_id = int(location.rsplit("/", 1)[1])
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/learn/resumes")})

    other = make_user("learner")
    sign_in(client, other.email)
    assert client.get(location).status_code == 404
    assert client.get(f"/learn/resumes/{resume_id}/file").status_code == 404
    assert client.get("/coach/reviews").status_code == 403


def test_the_coach_accepts_and_reviews_through_the_forms(client, learner, coach):
    sign_in(client, learner.email)
    resume_id = int(post_upload(client, make_pdf()).headers["Location"].rsplit("/", 1)[1])
    routed(resume_id)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/learn/resumes")})
    sign_in(client, coach.email)

    queue = client.get("/coach/reviews").get_data(as_text=True)
    assert "Lena Learner" in queue and "Accept by" in queue
    page = f"/coach/reviews/{resume_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Machine learning engineer who ships models" in html  # the text, in the page
    token = csrf_token(client, page)
    assert client.post(f"{page}/accept", data={"csrf_token": token}).status_code == 302
    assert db.session.get(Resume, resume_id).status == "in_review"

    incomplete = client.post(
        f"{page}/review", data={"csrf_token": token, "summary": "Good", "impact": "4"}
    )
    assert incomplete.status_code == 422
    assert "Score 1–5." in incomplete.get_data(as_text=True)

    review = {
        "csrf_token": token,
        "impact": "4",
        "clarity": "5",
        "ml_relevance": "4",
        "formatting": "3",
        "ats_readiness": "4",
        "summary": "Clear and relevant.",
        "comments": "Move skills up.\nAdd a GitHub link.",
        "outcome": "changes_suggested",
    }
    confirm = client.post(f"{page}/review", data=review)  # first, as the learner will see it
    assert confirm.status_code == 200
    assert "Send this review to Lena Learner?" in confirm.get_data(as_text=True)
    assert db.session.get(Resume, resume_id).status == "in_review"
    done = client.post(f"{page}/review", data={**review, "confirmed": "yes"})
    assert done.status_code == 302
    resume = db.session.get(Resume, resume_id)
    assert resume.status == "reviewed"
    html = client.get(page).get_data(as_text=True)
    assert "Review sent" in html and "Clear and relevant." in html


def test_the_coach_declines_with_a_reason(client, learner, coach):
    sign_in(client, learner.email)
    resume_id = int(post_upload(client, make_pdf()).headers["Location"].rsplit("/", 1)[1])
    routed(resume_id)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/learn/resumes")})
    sign_in(client, coach.email)
    page = f"/coach/reviews/{resume_id}"
    token = csrf_token(client, page)

    assert client.post(f"{page}/decline", data={"csrf_token": token}).status_code == 422
    response = client.post(f"{page}/decline", data={"csrf_token": token, "reason": "Too busy"})

    assert response.status_code == 302
    assert db.session.get(Resume, resume_id).status == "submitted"
    # No longer theirs: the page (where their notification still leads) says why, and no more.
    gone = client.get(page)
    assert gone.status_code == 200
    html = gone.get_data(as_text=True)
    assert "You declined this résumé" in html and "Download the original" not in html
    assert client.get(f"{page}/file").status_code == 404


def test_the_coach_sees_a_docx_formatted_and_a_pdf_drawn(client, learner, coach):
    sign_in(client, learner.email)
    docx_id = int(
        post_upload(client, make_formatted_docx(), "cv.docx").headers["Location"].rsplit("/", 1)[1]
    )
    pdf_id = int(post_upload(client, make_pdf()).headers["Location"].rsplit("/", 1)[1])
    routed(docx_id)
    routed(pdf_id)
    docx_version = resumes.current_version(db.session.get(Resume, docx_id))
    assert docx_version.kind == "docx" and docx_version.preview_html is not None
    assert "<strong>PyTorch and scikit-learn</strong>" in docx_version.preview_html
    pdf_version = resumes.current_version(db.session.get(Resume, pdf_id))
    assert pdf_version.preview_html is None
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/learn/resumes")})
    sign_in(client, coach.email)

    html = client.get(f"/coach/reviews/{docx_id}").get_data(as_text=True)
    view = re.search(
        r'<div class="docx-view" role="document" aria-label="The résumé as formatted"'
        r' tabindex="0">(.*?)</div>',
        html,
        re.S,
    )
    assert view is not None
    shown = view.group(1)
    assert "<h1>Ada Lovelace</h1>" in shown and "<strong>PyTorch and scikit-learn</strong>" in shown
    assert "<li>Served models in Docker</li>" in shown and "<td><p>2022-2025</p></td>" in shown
    assert 'href="https://ada.example/work" rel="noopener noreferrer nofollow"' in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "javascript:" not in html
    # The extracted text is still there, folded below the formatted view.
    assert '<details class="resume-text-details">' in html and "pdf-view" not in html

    pdf_page = client.get(f"/coach/reviews/{pdf_id}").get_data(as_text=True)
    assert "docx-view" not in pdf_page and 'class="pdf-view"' in pdf_page


def test_stored_preview_html_is_sanitised_again_when_shown(client, learner, coach):
    """Defence in depth: HTML that got into the column some other way is cleaned at render."""
    sign_in(client, learner.email)
    resume_id = int(
        post_upload(client, make_formatted_docx(), "cv.docx").headers["Location"].rsplit("/", 1)[1]
    )
    routed(resume_id)
    version = resumes.current_version(db.session.get(Resume, resume_id))
    db.session.get(ResumeVersion, version.id).preview_html = (
        '<p onclick="steal()" style="x">Kept</p><script>steal()</script>'
        '<img src="data:image/png;base64,AAAA"><a href="javascript:steal()">link</a>'
    )
    db.session.commit()
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/learn/resumes")})
    sign_in(client, coach.email)

    html = client.get(f"/coach/reviews/{resume_id}").get_data(as_text=True)
    assert '<p>Kept</p><a rel="noopener noreferrer nofollow">link</a></div>' in html
    assert "steal" not in html and "data:image" not in html
