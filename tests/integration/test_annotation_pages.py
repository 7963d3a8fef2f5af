"""The comments on the pages (in-process): the coach adds a comment from the review page (the
form the script fills from a selection), sees it as a draft, closes and carries over earlier
ones; the learner sees the sent ones, replies, marks one done, and downloads the marked-up PDF,
which is opened and checked (the original's pages intact, the comments' text on the last)."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from services import resumes, storage
from services.db import db
from services.models import Annotation, Resume
from services.resumes import annotations as marks
from services.resumes import routing
from tests.support_auth import csrf_token, sign_in
from tests.support_resumes import GOOD_TEXT, make_docx, make_pdf, submit, submit_version

PHRASE = "Reduced inference latency by 40%"


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lena Learner")


@pytest.fixture
def coach(make_user):
    return make_user("coach", name="Cora Coach", expertise=["ml", "python"], review_capacity=3)


def in_review(learner, coach, data: bytes) -> Resume:
    resume = submit(learner, data, "cv.pdf" if data.startswith(b"%PDF") else "cv.docx")
    db.session.commit()
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume.id)
    db.session.commit()
    resumes.accept(coach, resume.id)
    db.session.commit()
    return resume


def review(coach, resume_id: int) -> None:
    resumes.submit_review(
        coach,
        resume_id,
        resumes.ReviewInput(
            summary="Good.", scores={"impact": 3, "clarity": 4}, outcome="changes_suggested"
        ),
    )
    db.session.commit()


def test_the_coach_adds_a_comment_from_the_review_page(client, learner, coach):
    resume = in_review(learner, coach, make_pdf())
    sign_in(client, coach.email)
    page = f"/coach/reviews/{resume.id}"
    html = client.get(page).get_data(as_text=True)
    assert "data-annotation-form" in html and "Add a comment" in html
    assert 'src="/static/js/annotate.js"' in html and "<style" not in html

    response = client.post(
        f"{page}/annotations",
        data={
            "csrf_token": csrf_token(client, page),
            "kind": "text",
            "quote": "Reduced inference\nlatency by 40%",
            "page": "1",
            "rects": "[[0.1, 0.3, 0.5, 0.02]]",
            "body": "For which model?",
            "suggestion": "Cut p95 latency of the ranking model by 40%.",
            "criterion": "impact",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [row] = db.session.query(Annotation).all()
    assert row.status == "draft" and row.exact == PHRASE and row.rects == [[0.1, 0.3, 0.5, 0.02]]
    html = client.get(page).get_data(as_text=True)
    assert f'id="annotation-{row.id}"' in html and 'data-status="draft"' in html
    assert "Draft: sent with your review" in html

    bad = client.post(
        f"{page}/annotations",
        data={
            "csrf_token": csrf_token(client, page),
            "kind": "text",
            "quote": "Not in it at all",
            "body": "x",
        },
    )
    assert bad.status_code == 422
    assert "This text is not in the version" in bad.get_data(as_text=True)
    pin = client.post(
        f"{page}/annotations",
        data={
            "csrf_token": csrf_token(client, page),
            "kind": "pin",
            "page": "1",
            "body": "Margins.",
        },
    )
    assert pin.status_code == 422 and "fraction of the page" in pin.get_data(as_text=True)
    assert db.session.query(Annotation).count() == 1

    deleted = client.post(
        f"{page}/annotations/{row.id}/delete", data={"csrf_token": csrf_token(client, page)}
    )
    assert deleted.status_code == 302 and db.session.query(Annotation).count() == 0


def test_the_learner_reads_replies_marks_done_and_downloads_the_marked_up_pdf(
    client, learner, coach, app
):
    pdf = make_pdf()
    resume = in_review(learner, coach, pdf)
    version = resumes.current_version(resume)
    quoted = marks.create(
        coach,
        resume.id,
        1,
        marks.AnnotationInput(
            body="Say for which model.",
            exact=PHRASE,
            page=1,
            rects=[[0.11, 0.3, 0.5, 0.02]],
            criterion="impact",
            suggestion="Cut p95 latency by 40%.",
        ),
    )
    pinned = marks.create(
        coach,
        resume.id,
        1,
        marks.AnnotationInput(
            kind="pin", body="Too much space at the bottom.", page=1, x=0.5, y=0.9
        ),
    )
    db.session.commit()
    review(coach, resume.id)

    sign_in(client, learner.email)
    page = f"/learn/resumes/{resume.id}"
    html = client.get(page).get_data(as_text=True)
    assert "Your résumé, marked up" in html
    assert f'id="annotation-{quoted.id}"' in html and f'id="annotation-{pinned.id}"' in html
    assert 'data-exact="Reduced inference latency by 40%"' in html
    assert "Suggested rewrite:" in html and "Mark done" in html

    base = f"/learn/resumes/{resume.id}/versions/1/annotations/{quoted.id}"
    replied = client.post(
        f"{base}/reply", data={"csrf_token": csrf_token(client, page), "body": "The ranking model."}
    )
    assert replied.status_code == 302
    done = client.post(f"{base}/resolve", data={"csrf_token": csrf_token(client, page)})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Annotation, quoted.id).resolution == "done"
    html = client.get(page).get_data(as_text=True)
    assert "The ranking model." in html and "Done (marked by the learner)" in html

    def stored_hash() -> str:
        opened = storage.current().open(version.sha256)
        with opened.stream:
            return hashlib.sha256(opened.stream.read()).hexdigest()

    before = stored_hash()
    response = client.get(f"/learn/resumes/{resume.id}/versions/1/annotated.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    reader = PdfReader(io.BytesIO(response.data))
    original = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == len(original.pages) + 1
    assert reader.pages[0].extract_text() == original.pages[0].extract_text()
    kinds = sorted(a.get_object()["/Subtype"] for a in reader.pages[0]["/Annots"])
    assert kinds == ["/FreeText", "/FreeText", "/Highlight"]
    comments = reader.pages[-1].extract_text()
    assert "1. Done (marked by the learner)" in comments and "Impact" in comments
    assert PHRASE in comments and "Say for which model." in comments
    assert "Suggested rewrite: Cut p95 latency by 40%." in comments
    assert "Lena Learner: The ranking model." in comments
    assert "2. Open" in comments and "Pinned to page 1" in comments
    assert stored_hash() == before == version.sha256
    # Someone else's résumé, or a version with no such number: 404.
    assert client.get(f"/learn/resumes/{resume.id}/versions/9/annotated.pdf").status_code == 404


def test_a_docx_export_lists_the_comments_with_their_text(client, learner, coach):
    resume = in_review(learner, coach, make_docx())
    marks.create(coach, resume.id, 1, marks.AnnotationInput(body="Numbers first.", exact=PHRASE))
    db.session.commit()
    review(coach, resume.id)
    sign_in(client, learner.email)
    response = client.get(f"/learn/resumes/{resume.id}/versions/1/annotated.pdf")
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "This résumé is a DOCX" in text and PHRASE in text and "Numbers first." in text


def test_the_coach_on_a_new_version_sees_earlier_comments_flagged_and_settles_them(
    client, learner, coach
):
    resume = in_review(learner, coach, make_pdf())
    kept = marks.create(
        coach,
        resume.id,
        1,
        marks.AnnotationInput(body="Which one?", exact="Open-source recommender"),
    )
    gone = marks.create(coach, resume.id, 1, marks.AnnotationInput(body="Numbers?", exact=PHRASE))
    db.session.commit()
    review(coach, resume.id)
    lines = [line for line in GOOD_TEXT if PHRASE not in line]
    submit_version(learner, resume.id, make_pdf(lines))
    db.session.commit()
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume.id)
    resumes.accept(coach, resume.id)
    db.session.commit()

    sign_in(client, coach.email)
    page = f"/coach/reviews/{resume.id}"
    html = client.get(page).get_data(as_text=True)
    assert "Earlier comments, checked against version 2" in html
    assert "Found in the new version" in html and "Not found: probably addressed, check" in html
    assert (
        client.post(
            f"{page}/annotations/{gone.id}/close", data={"csrf_token": csrf_token(client, page)}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"{page}/annotations/{kept.id}/carry", data={"csrf_token": csrf_token(client, page)}
        ).status_code
        == 302
    )
    html = client.get(page).get_data(as_text=True)
    assert "Addressed in a newer version" in html and "Carried over to a newer version" in html
    assert re.search(r'data-status="draft"[^>]*data-exact="Open-source recommender"', html)
    review(coach, resume.id)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    sign_in(client, learner.email)
    html = client.get(f"/learn/resumes/{resume.id}").get_data(as_text=True)
    assert "Earlier comments:</strong> 1 of 2 addressed, 1 carried over to this version." in html
