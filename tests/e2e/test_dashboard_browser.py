"""The dashboard each role lands on, at desk and phone width, in Debian's Chromium: a learner's
next session (join, reschedule, cancel) and résumés' next steps, a coach's offers with their
deadline and the sessions to mark, staff's queue health linking to the filtered queue; opening a
notification marks it read; and screenshots of the demo's dashboards.

Set SCREENSHOTS_DIR (e.g. docs/screenshots) to keep the screenshots there; otherwise they go to
the test run's folder."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from services import accounts, resumes
from services.db import db, utcnow
from services.models import Notification
from services.models.resumes import CRITERIA
from services.resumes import routing
from tests.e2e import steps
from tests.e2e.steps import open_menu, sign_in, sign_in_staff_first_time
from tests.support_booking import at, future_weekday, insert_booking
from tests.support_staff import make_resume

pytestmark = pytest.mark.e2e
PASSWORD = "dashboard passphrase"
VIEWPORTS = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=list(VIEWPORTS))
def width(request: pytest.FixtureRequest, page: Any) -> str:
    page.set_viewport_size(VIEWPORTS[request.param])
    return str(request.param)


def fits(page: Any) -> None:
    """Nothing scrolls sideways at this width."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.fixture
def people(server_app: Any) -> dict[str, Any]:
    """A learner with a session in four days, a résumé with changes requested and one offered
    to their coach; the coach has a session yesterday still to mark; a staff member."""
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        staff = accounts.create_user(
            email=f"dash-staff-{tag}@example.com", password=PASSWORD, role="staff", name="Stu"
        )
        learner = accounts.create_user(
            email=f"dash-learner-{tag}@example.com",
            password=PASSWORD,
            role="learner",
            name=f"Dana {tag}",
            timezone="America/Chicago",
        )
        coach = accounts.create_user(
            email=f"dash-coach-{tag}@example.com",
            password=PASSWORD,
            role="coach",
            name=f"Cole {tag}",
            timezone="America/Chicago",
            expertise=["ml"],
        )
        db.session.commit()
        session = insert_booking(
            learner.id, coach.id, at(future_weekday(4), 15 + int(tag, 16) % 3), "coding"
        )
        past = insert_booking(learner.id, coach.id, utcnow() - dt.timedelta(days=1), "coding")
        changes = make_resume(learner, target_role=f"ML engineer {tag}")
        waiting = make_resume(learner, target_role=f"Data scientist {tag}")
        for resume in (changes, waiting):
            routing.assign_manually(staff, resume.id, coach.id, "dashboard test")
        db.session.commit()
        resumes.submit_review(
            coach,
            changes.id,
            resumes.ReviewInput(
                summary="Show what you shipped.",
                scores=dict.fromkeys(CRITERIA, 2),
                outcome="changes_required",
            ),
        )
        note = Notification(
            user_id=learner.id,
            kind="resume_reviewed",
            title=f"Your résumé was reviewed {tag}",
            body="Changes requested.",
            link=f"{server_app.config['BASE_URL']}/learn/resumes/{changes.id}",
            dedupe_key=f"e2e:dash:{tag}",
        )
        db.session.add(note)
        db.session.commit()
        return {
            "tag": tag,
            "staff": staff.email,
            "learner": learner.email,
            "coach": coach.email,
            "coach_name": coach.name,
            "session": session.id,
            "meeting_url": session.meeting_url,
            "past": past.id,
            "changes": changes.id,
            "waiting": waiting.id,
            "note": note.title,
        }


def test_a_learner_works_from_the_dashboard(page: Any, width: str, people: dict[str, Any]):
    sign_in(page, people["learner"], PASSWORD)
    expect(page).to_have_title("Dashboard · Career Services")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    if width == "desk":
        expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")

    card = page.locator("#next-session")
    expect(card.get_by_role("link", name=f"Coding with {people['coach_name']}")).to_be_visible()
    expect(card.get_by_role("link", name="Join the Coding session")).to_have_attribute(
        "href", people["meeting_url"]
    )
    resumes_card = page.locator("#your-resumes")
    expect(
        resumes_card.get_by_text("Reviewed — changes requested: upload a new version")
    ).to_be_visible()
    expect(
        resumes_card.get_by_text(re.compile(rf"^Offered to {people['coach_name']}, accept by "))
    ).to_be_visible()
    fits(page)

    card.get_by_role("link", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Move your Coding session")).to_be_visible()
    page.go_back()
    page.locator("#next-session").get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"/learn/bookings/{people['session']}#change-heading$"))
    expect(page.get_by_role("link", name="Cancel booking")).to_be_visible()  # opens the dialog
    page.go_back()

    page.locator("#your-resumes").get_by_role(
        "link", name=re.compile(r"^Upload a new version")
    ).click()
    expect(page).to_have_url(re.compile(rf"/learn/resumes/{people['changes']}#new-version$"))
    expect(page.get_by_role("button", name="Upload new version")).to_be_visible()
    expect(page.locator(".resume-summary .resume-status")).to_have_text(
        "Reviewed — changes requested: upload a new version"
    )
    fits(page)


def test_a_coach_sees_offers_with_their_deadline_and_marks_a_session(
    page: Any, width: str, people: dict[str, Any]
):
    sign_in(page, people["coach"], PASSWORD)
    offers = page.locator("#offers")
    offer = offers.get_by_role("link", name=re.compile(rf"Data scientist {people['tag']}$"))
    expect(offer).to_be_visible()
    expect(
        offers.get_by_text(re.compile(r"^Accept by \w{3} \d+ \w{3} \d{4}, \d\d:\d\d C[SD]T$"))
    ).to_be_visible()
    fits(page)
    offer.click()
    expect(page.locator(".resume-summary .resume-status")).to_have_text(
        re.compile(r"^Offered to you, accept by ")
    )
    page.go_back()

    page.locator("#after-sessions").get_by_role(
        "link", name="Mark completed or no-show"
    ).first.click()
    expect(page).to_have_url(re.compile(r"/coach/sessions/\d+#outcome-heading$"))
    expect(page.get_by_role("heading", name="Outcome")).to_be_visible()
    fits(page)


def test_staff_see_queue_health_and_go_to_the_filtered_queue(
    page: Any, width: str, people: dict[str, Any]
):
    sign_in_staff_first_time(page, people["staff"], PASSWORD)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Queue health")).to_be_visible()
    expect(page.get_by_role("heading", name="Needs you")).to_be_visible()
    fits(page)
    page.get_by_role("link", name=re.compile(r"^\d+ offers? pending$")).click()
    expect(page).to_have_url(re.compile(r"/staff/queue\?status=assigned$"))
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    row = page.locator(f"#resume-{people['waiting']}")
    expect(row.locator(".resume-status")).to_have_text(
        re.compile(rf"^Offered to {people['coach_name']}, accept by ")
    )
    # The console's first page has one name.
    open_menu(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statistics").click()
    expect(page).to_have_title("Statistics · Career Services")
    expect(page.get_by_role("heading", name="Statistics", level=1)).to_be_visible()


def test_opening_a_notification_marks_it_read(page: Any, width: str, people: dict[str, Any]):
    sign_in(page, people["learner"], PASSWORD)
    unread = page.locator("#unread")
    unread.get_by_role("link", name=people["note"]).click()
    expect(page).to_have_url(re.compile(rf"/learn/resumes/{people['changes']}$"))
    page.goto("/notifications")
    item = page.locator(".notification").filter(has_text=people["note"])
    expect(item).to_be_visible()
    expect(item).not_to_have_class(re.compile("notification-unread"))
    expect(item.get_by_role("button", name=re.compile("Mark as read"))).to_have_count(0)
    fits(page)


# --- screenshots of the demo's dashboards --------------------------------------------------------


def snap(page: Any, role: str) -> None:
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.goto("/dashboard")
        expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
        fits(page)
        steps.screenshot(page, f"dashboard-{role}-{name}", full_page=True)


@pytest.fixture
def demo_notified(server_app: Any) -> None:
    """The demo's two newest events turned into notifications, as its worker would on the first
    run (no worker runs here)."""
    from sqlalchemy import select

    from services import notifications
    from services.models import OutboxEvent

    with server_app.app_context():
        pending = db.session.scalars(
            select(OutboxEvent.id).where(
                OutboxEvent.processed_at.is_(None),
                OutboxEvent.kind.in_(("resume.assigned", "resume.reviewed")),
            )
        ).all()
        for event_id in pending:
            notifications.fan_out(event_id)
        db.session.commit()
        db.session.remove()


@pytest.mark.usefixtures("demo_notified")
@pytest.mark.parametrize(
    ("role", "email", "password"),
    [
        ("learner", "learner.lin@example.com", "learner-demo-pass"),
        ("coach", "coach.ada@example.com", "coach-demo-pass"),
    ],
)
def test_the_demo_dashboards_have_something_to_show(page: Any, role, email, password):
    sign_in(page, email, password)
    if role == "learner":
        expect(page.locator("#next-session .dash-headline")).to_be_visible()
        expect(page.locator("#your-resumes .resume-status").first).to_be_visible()
    else:
        expect(page.locator("#offers .dash-deadline").first).to_be_visible()
        expect(page.locator("#after-sessions")).to_be_visible()
    snap(page, role)


def test_the_demo_staff_dashboard_has_something_to_show(page: Any):
    sign_in_staff_first_time(page, "staff@example.com", "staff-demo-pass")
    page.goto("/dashboard")
    expect(page.locator("#needs-you li").first).to_be_visible()
    snap(page, "staff")
    # The console's first page, Statistics, with the demo's weeks of figures.
    page.set_viewport_size(VIEWPORTS["desk"])
    page.goto("/staff/")
    expect(page.locator("#chart-turnaround svg")).to_be_visible()
    drawn = page.locator("#chart-turnaround rect.chart-bar:not([height='0.0'])")
    assert drawn.count() >= 2  # the demo's reviews fall in more than one week
    steps.screenshot(page, "statistics-desk", full_page=True)
