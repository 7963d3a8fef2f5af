"""In Chromium: a coach selects a phrase in a real PDF (the pdf.js text layer) and in a DOCX (the
sanitised preview), comments, and sends the review; the learner sees the comment highlighted in
place (a numbered button announced with the comment), replies, and uploads a new version; the
coach reviewing it sees the earlier comments re-anchored or flagged. At a desk's width and a
phone's; screenshots go to $SCREENSHOTS when it is set."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from services import resumes
from services.db import db
from services.models import Resume, User
from services.resumes import routing
from tests.e2e import steps
from tests.e2e.steps import offered_resume, sign_in, sign_out
from tests.support_resumes import GOOD_TEXT, make_docx, make_pdf

pytestmark = pytest.mark.e2e

PASSWORD = "annotation journeys passphrase"
PHRASE = "Reduced inference latency by 40%"
OTHER = "Open-source recommender in Python and SQL"

SELECT = """(phrase) => {
  const root = document.querySelector('.pdf-pages .textLayer')
    ? document.querySelector('.pdf-pages') : document.querySelector('.docx-view');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const at = node.nodeValue.indexOf(phrase);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + phrase.length);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    node.parentElement.dispatchEvent(new MouseEvent('mouseup', { bubbles: true }));
    return true;
  }
  return false;
}"""


def comment_on(page: Any, phrase: str, body: str) -> None:
    # The page's scripts run before its load event: a selection made before they listen (a
    # DOCX preview is there at once, a PDF's text layer only once pdf.js drew it) goes unseen.
    page.wait_for_load_state()
    assert page.evaluate(SELECT, phrase), f"{phrase!r} is not in the page"
    form = page.locator("[data-annotation-form]")
    expect(form.get_by_role("textbox", name="Selected text")).to_have_value(phrase)
    expect(page.get_by_role("button", name="Comment on the selection")).to_be_visible()
    page.get_by_role("button", name="Comment on the selection").click()
    expect(form.get_by_label("Comment", exact=True)).to_be_focused()
    page.keyboard.type(body)
    form.get_by_label("Rubric criterion (optional)").select_option("impact")
    form.get_by_role("button", name="Add the comment").click()
    expect(page.get_by_text("Comment saved as a draft")).to_be_visible()


def send_review(page: Any) -> None:
    for legend in (
        "Impact (1–5)",
        "Clarity (1–5)",
        "ML relevance (1–5)",
        "Formatting (1–5)",
        "ATS readiness (1–5)",
    ):
        page.get_by_role("group", name=legend).get_by_label("4", exact=True).check()
    page.get_by_label("Summary").fill("Strong; see the comments in the résumé.")
    page.get_by_role("group", name="Outcome").get_by_label("Changes suggested").check()
    page.get_by_role("button", name="Send the review").click()
    page.get_by_role("dialog").get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Review sent. The learner has been told.")).to_be_visible()


def wait_for_document(page: Any, pdf: bool) -> None:
    if pdf:
        expect(page.locator(".pdf-view[data-state='shown']").first).to_be_visible(timeout=20000)
        expect(page.locator(".textLayer span").first).to_be_attached()


@pytest.mark.parametrize("size", steps.SIZES)
def test_a_pdf_comment_follows_the_learner_to_the_next_version(
    browser: Any, base_url: str, server_app: Any, size: str, tmp_path: Any
) -> None:
    who = offered_resume(server_app, make_pdf(), "Lena CV.pdf", PASSWORD)
    page = steps.new_page(browser, base_url, size)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )

    sign_in(page, who["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{who['id']}")
    page.get_by_role("button", name="Accept to start reviewing").click()
    expect(page.get_by_text("Accepted. The review is yours")).to_be_visible()
    wait_for_document(page, pdf=True)
    comment_on(page, PHRASE, "Say which model, and what the latency was.")
    wait_for_document(page, pdf=True)
    comment_on(page, OTHER, "Link the repository.")
    wait_for_document(page, pdf=True)
    badges = page.locator(".mark-badge")
    expect(badges).to_have_count(2)
    expect(page.locator(".mark-rect").first).to_be_visible()
    steps.fits(page)
    steps.screenshot(page, f"annotate-coach-pdf-{size}", full_page=True)
    send_review(page)
    sign_out(page)

    # The learner: the comments highlighted in place, reachable and announced; a reply.
    sign_in(page, who["learner"], PASSWORD)
    page.goto(f"/learn/resumes/{who['id']}")
    wait_for_document(page, pdf=True)
    first = page.get_by_role(
        "button", name=f"Comment 1, on “{PHRASE}”: Say which model, and what the latency was."
    )
    expect(first).to_be_visible()
    first.focus()
    page.keyboard.press("Enter")
    item = page.locator("li.annotation").first
    expect(item).to_be_focused()
    expect(page.locator("[data-annotation-live]")).to_contain_text("Comment 1")
    steps.fits(page)
    steps.screenshot(page, f"annotate-learner-pdf-{size}", full_page=True)
    item.get_by_label("Reply to comment 1").fill("It was the ranking model's p95.")
    item.get_by_role("button", name="Reply").click()
    expect(page.get_by_text("Reply sent; your coach is told.")).to_be_visible()
    expect(page.get_by_text("It was the ranking model's p95.")).to_be_visible()

    # A new version: the first phrase edited, the second removed.
    lines = [line.replace(PHRASE, "Reduced model inference latency by 45%") for line in GOOD_TEXT]
    lines = [line for line in lines if not line.startswith("Open-source")]
    path = tmp_path / "Lena CV v2.pdf"
    path.write_bytes(make_pdf(lines))
    page.locator("#new-version").get_by_label("New version").set_input_files(path)
    page.locator("#new-version").get_by_role("button", name="Upload new version").click()
    expect(page.get_by_role("link", name="Version 2: Lena CV v2.pdf")).to_be_visible()
    with server_app.app_context():
        resume = db.session.get(Resume, who["id"])
        resumes.analyse(resumes.current_version(resume).id)
        db.session.commit()
        staff = db.session.get(User, who["staff_id"])
        routing.assign_manually(staff, resume.id, who["coach_id"], "annotation journeys")
        db.session.commit()
    page.goto(f"/learn/resumes/{who['id']}")
    expect(page.get_by_text("Found approximately: the text changed a little")).to_be_visible()
    expect(page.get_by_text("Not found: probably addressed, check")).to_be_visible()
    sign_out(page)

    # The coach on version 2: the earlier comments, re-anchored or flagged; carry one over.
    sign_in(page, who["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{who['id']}")
    page.get_by_role("button", name="Accept to start reviewing").click()
    expect(page.get_by_text("Accepted. The review is yours")).to_be_visible()
    followups = page.get_by_role("region", name="Earlier comments, checked against version 2")
    expect(followups.get_by_text("Found approximately: the text changed a little")).to_be_visible()
    expect(followups.get_by_text("Not found: probably addressed, check")).to_be_visible()
    expect(followups.get_by_text("It was the ranking model's p95.")).to_be_visible()
    steps.fits(page)
    steps.screenshot(page, f"annotate-coach-followups-{size}", full_page=True)
    followups.get_by_role("button", name="Carry over").first.click()
    expect(page.get_by_text("Carried over to this version as a draft")).to_be_visible()
    wait_for_document(page, pdf=True)
    expect(page.locator(".mark-badge")).to_have_count(1)
    followups.get_by_role("button", name="Close as addressed").click()
    expect(page.get_by_text("Earlier comment closed as addressed.")).to_be_visible()
    send_review(page)
    expect(page.get_by_text("1 of 2 addressed, 1 carried over to this version.")).to_be_visible()
    assert problems == [], problems


def test_a_docx_comment_is_highlighted_in_the_preview(
    browser: Any, base_url: str, server_app: Any
) -> None:
    who = offered_resume(server_app, make_docx(), "Lena CV.docx", PASSWORD)
    page = steps.new_page(browser, base_url, "desk")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, who["coach"], PASSWORD)
    page.goto(f"/coach/reviews/{who['id']}")
    page.get_by_role("button", name="Accept to start reviewing").click()
    expect(page.get_by_text("Accepted. The review is yours")).to_be_visible()
    comment_on(page, PHRASE, "Which model?")
    expect(page.locator(".docx-view .mark-badge")).to_have_count(1)
    send_review(page)
    sign_out(page)
    sign_in(page, who["learner"], PASSWORD)
    page.goto(f"/learn/resumes/{who['id']}")
    badge = page.get_by_role("button", name=f"Comment 1, on “{PHRASE}”: Which model?")
    expect(badge).to_be_visible()
    badge.click()
    expect(page.locator("li.annotation").first).to_be_focused()
    steps.screenshot(page, "annotate-learner-docx-desk", full_page=True)
    assert problems == [], problems
