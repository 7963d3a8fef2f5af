"""An automated accessibility audit (axe-core, vendored for the tests) of the pages each role
sees, in Debian's Chromium; each page must also fit a 375 px wide screen without sideways scroll.

axe is served to the page from a same-origin URL that only the test's browser context answers
(``page.route``): ``add_script_tag(path=...)`` inlines the file, which the app's
Content-Security-Policy (``script-src 'self'``) blocks, and this way needs no ``bypass_csp``, so
the audit sees the pages exactly as users do, CSP included."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from services import accounts, resumes
from services.db import db
from services.models.resumes import CRITERIA
from services.resumes import routing
from tests.e2e import steps
from tests.support_staff import make_resume

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_URL = "/__axe.js"
BLOCKING = ("moderate", "serious", "critical")
NARROW = 375
PASSWORD = "accessibility passphrase"


@pytest.fixture
def people(server_app: Any) -> dict[str, Any]:
    """A staff member of our own (two-factor enrolment is per user), a learner and a coach with
    one résumé under review and one reviewed, so the review pages have something to show."""
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        staff = accounts.create_user(
            email=f"a11y-staff-{tag}@example.com", password=PASSWORD, role="staff", name="Sue"
        )
        learner = accounts.create_user(
            email=f"a11y-learner-{tag}@example.com",
            password=PASSWORD,
            role="learner",
            name=f"Lou {tag}",
        )
        coach = accounts.create_user(
            email=f"a11y-coach-{tag}@example.com",
            password=PASSWORD,
            role="coach",
            name=f"Cy {tag}",
            expertise=["ml", "python"],
        )
        db.session.commit()
        open_one = make_resume(learner, target_role=f"ML engineer {tag}")
        done = make_resume(learner, target_role=f"Data scientist {tag}")
        for resume in (open_one, done):
            routing.assign_manually(staff, resume.id, coach.id, "accessibility audit")
        db.session.commit()
        resumes.accept(coach, open_one.id)
        resumes.submit_review(
            coach,
            done.id,
            resumes.ReviewInput(
                summary="Clear and relevant.",
                scores=dict.fromkeys(CRITERIA, 4),
                comments="Quantify the results.",
                outcome="changes_suggested",
            ),
        )
        db.session.commit()
        return {
            "staff": staff.email,
            "learner": learner.email,
            "coach": coach.email,
            "open": open_one.id,
            "done": done.id,
        }


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    steps.sign_in(page, email, password)


def sign_in_staff(page: Any, email: str) -> None:
    steps.sign_in_staff_first_time(page, email, PASSWORD)


def serve_axe(page: Any) -> None:
    page.route(
        f"**{AXE_URL}",
        lambda route: route.fulfill(path=str(AXE), content_type="text/javascript; charset=utf-8"),
    )


AXE_RUN = """async () => {
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(" ")),
    }));
}"""


def audit(page: Any) -> list[str]:
    """Problems on the page now, at the usual width and at a phone's: axe's serious and critical
    violations, and sideways scroll on the narrow screen. One line each: page, rule, impact and
    where (the narrow run finds what only the reflowed layout has, e.g. a table that scrolls)."""
    url = urlsplit(page.url)
    where = url.path + (f"?{url.query}" if url.query else "")
    page.add_script_tag(url=AXE_URL)
    size = page.viewport_size
    problems: list[str] = []
    for width in (size["width"], NARROW):
        page.set_viewport_size({"width": width, "height": size["height"]})
        for v in page.evaluate(AXE_RUN):
            line = (
                f"{where}: {v['id']} ({v['impact']}: {v['help']}) at {', '.join(v['targets'][:5])}"
            )
            if v["impact"] in BLOCKING and line not in problems:
                problems.append(line)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > NARROW:
        problems.append(f"{where}: scrolls sideways at {NARROW} px (scrollWidth {scroll_width})")
    page.set_viewport_size(size)
    return problems


def audit_all(page: Any, paths: list[str]) -> list[str]:
    problems: list[str] = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        problems += audit(page)
    return problems


def test_public_pages_are_accessible(page: Any) -> None:
    serve_axe(page)
    problems = audit_all(page, ["/", "/faq", "/sign-in", "/sign-up", "/forgot-password"])
    # A form sent back with a field's error: the message, its colour and its link to the field.
    page.goto("/sign-up")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    problems += audit(page)
    assert problems == [], "\n".join(problems)


def test_the_audit_reports_what_it_should(page: Any) -> None:
    """The check itself: axe loads under the CSP and a page with faint text fails it."""
    serve_axe(page)
    page.goto("/faq")
    page.evaluate(
        """() => {
            const p = document.createElement("p");
            p.textContent = "Barely there";
            p.id = "faint";
            p.style.color = "#ddd";
            p.style.background = "#fff";
            document.querySelector("main").append(p);
        }"""
    )
    problems = audit(page)
    assert any("color-contrast (serious" in p and "#faint" in p for p in problems), problems


def test_learner_pages_are_accessible(page: Any, people: dict[str, Any]) -> None:
    serve_axe(page)
    sign_in(page, people["learner"])
    problems = audit_all(
        page,
        [
            "/dashboard",
            "/learn/bookings",
            "/learn/bookings/new",
            "/learn/resumes",
            "/learn/resumes/new",
            f"/learn/resumes/{people['open']}",
            f"/learn/resumes/{people['done']}",
            "/notifications",
            "/notifications/preferences",
            "/account/security",
        ],
    )
    # The booking flow: choose a type, then a week of slots (next week or later, outside the
    # cancellation cutoff, with some free).
    page.goto("/learn/bookings/new")
    page.get_by_role("link", name="Coding").click()
    expect(page.get_by_role("heading", name="Pick a time for Coding")).to_be_visible()
    steps.later_week(page)
    steps.first_week_with_slots(page)
    problems += audit(page)
    # Then the confirmation, the booking made, and the list with it in. It is cancelled after:
    # the slot is a demo coach's, which the booking tests expect to find free.
    page.locator(".booker-week a.slot").first.click()
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    problems += audit(page)
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    detail = urlsplit(page.url).path
    problems += audit_all(page, [detail, f"{detail}/contact", "/learn/bookings"])
    problems += audit_all(page, [f"{detail}/cancel"])  # the cancel question without JavaScript
    page.goto(detail)
    page.get_by_role("link", name="Cancel booking").click()
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    expect(dialog).to_be_visible()
    problems += audit(page)  # with the cancel dialog open
    dialog.get_by_role("button", name="Cancel booking").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Cancelled")
    problems += audit_all(page, [detail, "/learn/bookings"])
    # The booker in another zone (its switcher open), with a zone refused (the message on the
    # field), and a time's confirm page in that zone (not booked).
    page.goto("/learn/bookings/new?type=coding&tz=Asia/Tokyo")
    page.get_by_text("Show times in another time zone").click()
    problems += audit(page)
    page.goto("/learn/bookings/new?type=coding&tz=US/Eastern")
    expect(page.get_by_text("US/Eastern is another name for America/New York")).to_be_visible()
    problems += audit(page)
    page.goto("/learn/bookings/new?type=coding&tz=Asia/Tokyo")
    steps.later_week(page)
    steps.first_week_with_slots(page)
    page.locator(".booker-week a.slot").first.click()
    expect(page.get_by_text("Also make Asia/Tokyo my time zone")).to_be_visible()
    problems += audit(page)
    assert problems == [], "\n".join(problems)


def test_coach_pages_are_accessible(page: Any, people: dict[str, Any]) -> None:
    serve_axe(page)
    sign_in(page, people["coach"])
    problems = audit_all(
        page,
        [
            "/coach/reviews",
            f"/coach/reviews/{people['open']}",  # accepted: the review form
            f"/coach/reviews/{people['done']}",  # reviewed: the review sent
            "/coach/sessions",
            "/coach/availability",
        ],
    )
    assert problems == [], "\n".join(problems)


def test_staff_pages_are_accessible(page: Any, people: dict[str, Any]) -> None:
    serve_axe(page)
    sign_in_staff(page, people["staff"])
    problems = audit_all(
        page,
        [
            "/staff/",
            "/staff/queue",
            "/staff/coaches",
            "/staff/sessions",
            "/staff/audit",
            "/staff/interview-types",
            "/staff/suspensions",
            "/staff/waitlist",
            "/staff/faq",
            "/staff/deliveries",
            "/staff/rebalance",
            "/staff/requests",
            "/staff/coaches/invite",
            f"/staff/resumes/{people['open']}",
        ],
    )
    assert problems == [], "\n".join(problems)
