"""A staff member signs in with two-factor, reassigns a résumé from the queue, and sees the
dashboard's charts render, in Debian's Chromium."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from services import accounts
from services.db import db
from services.resumes import routing
from tests.e2e.steps import screenshot, sign_in_staff_first_time
from tests.support_staff import make_resume

pytestmark = pytest.mark.e2e
PASSWORD = "staff browser passphrase"


@pytest.fixture
def setup(server_app):
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        staff = accounts.create_user(
            email=f"staff-{tag}@example.com", password=PASSWORD, role="staff", name="Eve Staff"
        )
        learner = accounts.create_user(
            email=f"learner-{tag}@example.com", password=PASSWORD, role="learner", name="Lee"
        )
        first = accounts.create_user(
            email=f"c1-{tag}@example.com",
            password=PASSWORD,
            role="coach",
            name=f"Zed {tag}",
            expertise=["ml"],
        )
        second = accounts.create_user(
            email=f"c2-{tag}@example.com",
            password=PASSWORD,
            role="coach",
            name=f"Yan {tag}",
            expertise=["python"],
        )
        db.session.commit()
        resume = make_resume(learner, target_role=f"ML engineer {tag}")
        routing.assign_manually(staff, resume.id, first.id, "setup")
        db.session.commit()
        return {
            "email": staff.email,
            "resume_id": resume.id,
            "to": second.id,
            "to_name": second.name,
        }


def test_staff_reassign_a_resume_and_see_the_charts(page, setup):
    sign_in_staff_first_time(page, setup["email"], PASSWORD)
    page.goto("/staff/queue")
    row = page.locator(f"#resume-{setup['resume_id']}")
    row.get_by_label(f"Coach for résumé {setup['resume_id']}").select_option(str(setup["to"]))
    row.get_by_label(f"Reason for résumé {setup['resume_id']}").fill("better skill match")
    row.get_by_role("button", name="Reassign").click()
    page.get_by_text(
        f"Résumé {setup['resume_id']} is now offered to {setup['to_name']}."
    ).wait_for()
    assert setup["to_name"] in page.locator(f"#resume-{setup['resume_id']}").inner_text()

    # The résumé's own page: every routing decision with its reason. This one's file is not on
    # disk (made by the fixture), so the in-page viewer says so instead of failing silently.
    page.locator(f"#resume-{setup['resume_id']} a").first.click()
    page.get_by_role("heading", name="Routing decisions").wait_for()
    assert "better skill match" in page.locator(".decisions").inner_text()
    page.get_by_text("This PDF cannot be shown in the page.").wait_for()

    page.goto("/staff/")
    chart = page.locator("#chart-coach-load svg")
    chart.wait_for()
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 50
    assert page.locator("#chart-coach-load rect.chart-bar").count() > 0
    page.goto("/staff/audit?action=resume.reassign")
    assert "better skill match" in page.locator("table").inner_text()


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_put_a_coach_on_their_own_hours_on_the_desk_hours_page(page, server_app, width):
    from services import workhours

    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        staff = accounts.create_user(
            email=f"hours-{tag}@example.com", password=PASSWORD, role="staff", name="Hal Staff"
        )
        coach = accounts.create_user(
            email=f"own-{tag}@example.com", password=PASSWORD, role="coach", name=f"Oona {tag}"
        )
        db.session.commit()
        staff_email, coach_id, coach_name = staff.email, coach.id, coach.name
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_staff_first_time(page, staff_email, PASSWORD)
    page.goto("/staff/desk-hours")
    page.get_by_label("Monday from").fill("09:00")
    page.get_by_label("Monday until").fill("17:00")
    page.get_by_label(coach_name).check()
    page.get_by_label("Reason").fill("Oona works evenings")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flashes")).to_contain_text("open due times moved")
    expect(page.get_by_label(coach_name)).to_be_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"desk-hours-{width}", full_page=True)
    with server_app.app_context():
        assert coach_id in workhours.own_hours_coach_ids()
