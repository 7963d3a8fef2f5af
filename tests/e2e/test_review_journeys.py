"""In a real browser, at a desk's width (1280x800) and a phone's (375x812): a coach reviews a
résumé without accidents. The rubric opens only after accepting; what is typed is kept as a draft
on the server (it survives a reload and a sign-out); leaving with unsaved changes warns; the
outcome has no default; sending shows the review as the learner will see it first (a dialog, or a
step page without JavaScript); a sent review can be corrected and the learner sees it corrected.

Screenshots of the pages go to $SCREENSHOTS when it is set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from services import accounts, resumes
from services.db import db
from tests.e2e import steps
from tests.e2e.steps import sign_in, sign_out
from tests.support_resumes import make_pdf

pytestmark = pytest.mark.e2e

PASSWORD = "review journeys passphrase"
SCORES = [
    ("Impact (1–5)", "4"),
    ("Clarity (1–5)", "5"),
    ("ML relevance (1–5)", "4"),
    ("Formatting (1–5)", "3"),
    ("ATS readiness (1–5)", "4"),
]


@pytest.fixture
def offer(server_app: Any) -> dict[str, Any]:
    """A learner's real PDF résumé, read and checked, offered to a coach of our own."""
    return steps.offered_resume(server_app, make_pdf(), "Lena Learner CV.pdf", PASSWORD)


def new_page(browser: Any, base_url: str, size: str, *, javascript: bool = True) -> Any:
    return steps.new_page(
        browser, base_url, size, timezone_id="America/Chicago", java_script_enabled=javascript
    )


def score_all(page: Any) -> None:
    for legend, score in SCORES:
        page.get_by_role("group", name=legend).get_by_label(score, exact=True).check()


def screenshot(page: Any, size: str, name: str, *, full_page: bool = True) -> None:
    steps.screenshot(page, f"review-{name}-{size}", full_page=full_page)


@pytest.mark.parametrize("size", steps.SIZES)
def test_a_coach_accepts_drafts_and_sends_a_review_without_accidents(
    browser: Any, base_url: str, offer: dict[str, Any], size: str
) -> None:
    page = new_page(browser, base_url, size)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, offer["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{offer['id']}")
    review = page.get_by_role("region", name="Your review")

    # Offered, not accepted: the rubric is there to read, but nothing can be chosen or sent.
    expect(page.get_by_text("Duties only: no results, nothing measured.")).to_be_visible()
    expect(review.get_by_role("group", name="Impact (1–5)").get_by_label("4")).to_be_disabled()
    expect(review.get_by_role("button", name="Send the review")).to_be_disabled()
    steps.fits(page)
    page.get_by_role("button", name="Accept to start reviewing").click()
    expect(page.get_by_text("Accepted. The review is yours")).to_be_visible()
    expect(review.get_by_role("group", name="Impact (1–5)").get_by_label("4")).to_be_enabled()

    # The outcome has no default.
    for label in ("Approved", "Changes suggested", "Changes required"):
        expect(page.get_by_role("group", name="Outcome").get_by_label(label)).not_to_be_checked()

    # Typing saves a draft on the server; it survives a reload and a sign-out.
    score_all(page)
    page.get_by_label("Summary").fill("A strong, relevant résumé. Quantify the pipeline work.")
    page.get_by_label("Comments").fill("Move Skills above Education.\nLink the GitHub repo.")
    status = page.locator("[data-draft-status]").first
    expect(status).to_have_text(re.compile(r"^Draft saved at \d\d:\d\d\.$"))
    page.reload()
    expect(page.get_by_label("Summary")).to_have_value(
        "A strong, relevant résumé. Quantify the pipeline work."
    )
    expect(page.get_by_role("group", name="Clarity (1–5)").get_by_label("5")).to_be_checked()
    sign_out(page)
    sign_in(page, offer["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{offer['id']}")
    expect(page.get_by_label("Comments")).to_have_value(
        "Move Skills above Education.\nLink the GitHub repo."
    )
    expect(page.get_by_role("group", name="Formatting (1–5)").get_by_label("3")).to_be_checked()

    expect(page.locator(".pdf-view[data-state='shown']")).to_be_visible()  # the PDF, drawn
    screenshot(page, size, "desk")

    # Leaving while a change is not saved yet warns; once it is saved, leaving is quiet.
    warned: list[str] = []

    def answer(dialog: Any) -> None:
        warned.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    held: list[Any] = []
    # The save waits until we let it through.
    page.route(re.compile(r"/draft$"), lambda route: held.append(route))
    with page.expect_request(re.compile(r"/draft$")):
        page.get_by_label("Summary").fill("A strong, relevant résumé. Quantify the Airflow work.")
    expect(status).to_have_text("Unsaved changes…")
    with page.expect_event("dialog"):
        page.evaluate("() => { window.location.href = '/dashboard'; }")
    assert warned == ["beforeunload"], warned
    expect(page.get_by_label("Summary")).to_have_value(
        "A strong, relevant résumé. Quantify the Airflow work."
    )
    assert held, "the draft was being saved"
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/draft$"))
    expect(status).to_have_text(re.compile(r"^Draft saved at"))
    page.reload()  # saved: leaving is quiet now, and the held save was kept
    expect(page.get_by_label("Summary")).to_have_value(
        "A strong, relevant résumé. Quantify the Airflow work."
    )
    assert warned == ["beforeunload"], warned

    # Sending without an outcome: the server says what is missing; nothing is sent.
    page.get_by_role("button", name="Send the review").click()
    expect(page.get_by_text("Choose an outcome: the learner reads it first.")).to_be_visible()
    expect(page.get_by_role("group", name="Outcome").get_by_label("Approved")).not_to_be_checked()
    expect(page.get_by_label("Summary")).to_have_value(
        "A strong, relevant résumé. Quantify the Airflow work."
    )

    # With an outcome, sending asks first and shows what the learner will see.
    page.get_by_role("group", name="Outcome").get_by_label("Changes suggested").check()
    page.get_by_role("button", name="Send the review").click()
    dialog = page.get_by_role("dialog", name="Send this review to Lena Learner?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Changes suggested")).to_be_visible()
    expect(dialog.get_by_text("Quantify the Airflow work.")).to_be_visible()
    expect(dialog.locator("dl.scores div").nth(1)).to_have_text(re.compile(r"Clarity\s*5/5"))
    expect(dialog.get_by_text("Link the GitHub repo.")).to_be_visible()
    steps.fits(page)
    screenshot(page, size, "dialog", full_page=False)
    dialog.get_by_role("button", name="Keep editing").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Send the review").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Review sent. The learner has been told.")).to_be_visible()
    assert warned == ["beforeunload"], "sending must not warn about leaving"
    expect(page.get_by_role("heading", name="Review sent")).to_be_visible()
    steps.fits(page)
    assert problems == [], problems


@pytest.mark.parametrize("size", steps.SIZES)
def test_a_coach_corrects_a_sent_review_and_the_learner_sees_it(
    browser: Any, base_url: str, server_app: Any, offer: dict[str, Any], size: str
) -> None:
    with server_app.app_context():
        coach = accounts.find_by_email(offer["coach"])
        resumes.accept(coach, offer["id"])
        resumes.submit_review(
            coach,
            offer["id"],
            resumes.ReviewInput(
                summary="Good work; a few gaps.",
                scores={
                    "impact": 3,
                    "clarity": 4,
                    "ml_relevance": 4,
                    "formatting": 4,
                    "ats_readiness": 4,
                },
                comments="Add numbers to the pipeline bullet.",
                outcome="changes_required",
            ),
        )
        db.session.commit()
    page = new_page(browser, base_url, size)
    sign_in(page, offer["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{offer['id']}")
    page.get_by_text("Correct this review").click()
    expect(page.get_by_text("You can correct it until")).to_be_visible()
    outcome = page.get_by_role("group", name="Outcome")
    expect(outcome.get_by_label("Changes required")).to_be_checked()
    outcome.get_by_label("Changes suggested").check()
    page.get_by_role("group", name="Impact (1–5)").get_by_label("4", exact=True).check()
    expect(page.locator("[data-draft-status]").first).to_have_text(re.compile("^Draft saved at"))
    page.get_by_role("button", name="Send the correction").click()
    dialog = page.get_by_role("dialog", name="Send this correction to Lena Learner?")
    expect(dialog.get_by_text("Changes suggested")).to_be_visible()
    dialog.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Correction sent. The learner has been told")).to_be_visible()
    screenshot(page, size, "corrected")
    steps.fits(page)

    sign_out(page)
    sign_in(page, offer["learner"], PASSWORD)
    page.goto(f"/learn/resumes/{offer['id']}")
    card = page.get_by_role("article", name=re.compile("Review of version 1"))
    expect(card).to_contain_text("Changes suggested")
    expect(card).to_contain_text("corrected")
    expect(card.locator("dl.scores div").first).to_have_text(re.compile(r"Impact\s*4/5"))
    steps.fits(page)


@pytest.mark.parametrize("size", steps.SIZES)
def test_without_javascript_a_step_page_confirms_the_review(
    browser: Any, base_url: str, server_app: Any, offer: dict[str, Any], size: str
) -> None:
    page = new_page(browser, base_url, size, javascript=False)
    sign_in(page, offer["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{offer['id']}")
    page.get_by_role("button", name="Accept to start reviewing").click()
    score_all(page)
    page.get_by_label("Summary").fill("Clear, focused, ready to send.")
    page.get_by_role("group", name="Outcome").get_by_label("Approved").check()
    page.get_by_role("button", name="Send the review").click()
    expect(page.get_by_role("heading", name="Send this review to Lena Learner?")).to_be_visible()
    expect(page.get_by_text("Clear, focused, ready to send.")).to_be_visible()
    expect(page.get_by_role("article")).to_contain_text("Approved")
    steps.fits(page)
    # Going back to edit loses nothing: the step saved the draft.
    page.get_by_role("link", name="Back to editing").first.click()
    expect(page.get_by_label("Summary")).to_have_value("Clear, focused, ready to send.")
    page.get_by_role("button", name="Send the review").click()
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Review sent. The learner has been told.")).to_be_visible()
    screenshot(page, size, "nojs-sent")


def test_the_review_desk_is_accessible_in_every_state(
    browser: Any, base_url: str, offer: dict[str, Any]
) -> None:
    """axe (tests/e2e/test_accessibility.py's audit, at 1280 and 375 px) on the states the page
    audit does not reach: the offer with its locked rubric, the form with errors, the send dialog
    open, and the confirm step page."""
    from tests.e2e.test_accessibility import audit, serve_axe

    page = new_page(browser, base_url, "desk")
    serve_axe(page)
    sign_in(page, offer["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{offer['id']}")
    problems = audit(page)  # offered: the rubric locked
    page.get_by_role("button", name="Accept to start reviewing").click()
    page.get_by_role("button", name="Send the review").click()  # nothing filled in
    expect(page.get_by_text("Choose an outcome: the learner reads it first.")).to_be_visible()
    problems += audit(page)
    score_all(page)
    page.get_by_label("Summary").fill("Ready.")
    page.get_by_role("group", name="Outcome").get_by_label("Approved").check()
    page.get_by_role("button", name="Send the review").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    problems += audit(page)
    page.get_by_role("button", name="Keep editing").click()
    with page.expect_navigation():  # the plain submit, as without the script: the step page
        page.evaluate("() => document.querySelector('form[data-review-form]').submit()")
    expect(page.get_by_role("heading", name="Send this review to Lena Learner?")).to_be_visible()
    problems += audit(page)
    assert problems == [], "\n".join(problems)
