"""In a real browser: a learner books with intake answers (a conditional question appears when
its choice is picked), and uploads a résumé with a job description and sees the gap analysis that
a real worker computed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import RUN_DIR, Worker, worker_env
from tests.e2e.steps import first_week_with_slots, later_week, screenshot, sign_in, sign_out

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def jobmatch_worker(e2e_database: str, server_app: Any) -> Iterator[Worker]:
    env = worker_env(
        e2e_database,
        server_app.config["REDIS_URL"],
        None,
        UPLOAD_DIR=server_app.config["UPLOAD_DIR"],
    )
    worker = Worker(env, RUN_DIR / "logs" / f"worker-e2e-jobmatch-{uuid.uuid4().hex[:6]}.log")
    worker.start(concurrency=1)
    yield worker
    worker.stop()


def test_a_learner_books_with_intake_answers_and_the_coach_sees_them(page: Any) -> None:
    page.set_viewport_size(DESK)
    sign_in(page, "learner.lin@example.com", "learner-demo-pass")
    page.get_by_role("link", name="Interviews").click()
    page.get_by_role("link", name="Book a mock interview").click()
    page.get_by_role("link", name="ML system design").click()
    later_week(page)
    first_week_with_slots(page)
    page.locator(".booker-week a.slot").first.click()
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()

    intake = page.get_by_test_id("intake")
    when = page.get_by_label("When is the interview?")
    expect(when).to_be_hidden()  # asked only once a real interview is said to be scheduled
    intake.get_by_label("Target company").fill("Northwind Analytics")
    intake.get_by_role("group", name="Role level").get_by_label("Senior").check()
    intake.get_by_role("group", name="Do you have a real interview scheduled?").get_by_label(
        "Yes"
    ).check()
    expect(when).to_be_visible()
    when.fill("2027-01-15")
    intake.get_by_label("What should the session focus on?").fill("Serving models on Kubernetes")
    intake.get_by_label("Link to the job description").fill("not a link")
    screenshot(page, "intake-confirm-desk", full_page=True)
    # Back to the picker and forward again: the answers are still there.
    page.get_by_role("link", name="← Pick another time").click()
    first_week_with_slots(page)
    page.locator(".booker-week a.slot").first.click()
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    expect(intake.get_by_label("Target company")).to_have_value("Northwind Analytics")
    expect(page.get_by_label("When is the interview?")).to_have_value("2027-01-15")
    page.get_by_role("button", name="Confirm booking").click()

    # Refused on the same page, the answers kept.
    expect(page.get_by_text("Give a full link that starts with https://.")).to_be_visible()
    expect(intake.get_by_label("Target company")).to_have_value("Northwind Analytics")
    expect(page.get_by_label("When is the interview?")).to_have_value("2027-01-15")
    page.set_viewport_size(PHONE)
    screenshot(page, "intake-confirm-phone-refused", full_page=True)
    page.set_viewport_size(DESK)
    page.get_by_label("Link to the job description").fill("https://jobs.example.com/mlops-123")
    page.get_by_role("button", name="Confirm booking").click()

    expect(page.get_by_text(re.compile(r"^Booked with "))).to_be_visible()
    answers = page.get_by_test_id("intake-answers")
    expect(answers).to_contain_text("Northwind Analytics")
    expect(answers).to_contain_text("2027-01-15")
    expect(answers).to_contain_text("Serving models on Kubernetes")
    page.set_viewport_size(PHONE)
    screenshot(page, "intake-booking-phone", full_page=True)
    page.set_viewport_size(DESK)
    booking_id = page.url.rstrip("/").rsplit("/", 1)[1]
    coach = page.get_by_text(re.compile(r"^Booked with ")).inner_text()
    sign_out(page)

    # The coach (Ada runs ML system design) sees the answers on the session page.
    assert "Ada Coach" in coach
    sign_in(page, "coach.ada@example.com", "coach-demo-pass")
    page.goto(f"/coach/sessions/{booking_id}")
    answers = page.get_by_test_id("intake-answers")
    expect(answers.get_by_role("heading")).to_have_text(re.compile(r"'s answers$"))
    expect(answers).to_contain_text("Northwind Analytics")
    expect(answers).to_contain_text("https://jobs.example.com/mlops-123")
    screenshot(page, "intake-coach-session-desk", full_page=True)
    sign_out(page)


def test_a_learner_uploads_a_resume_with_a_job_description_and_sees_the_match(
    page: Any, jobmatch_worker: Worker
) -> None:
    page.set_viewport_size(DESK)
    sign_in(page, "learner.lin@example.com", "learner-demo-pass")
    page.get_by_role("link", name="Résumés").click()
    page.get_by_role("link", name="Upload a résumé").click()
    page.get_by_label("Résumé file").set_input_files(str(FIXTURES / "resumes" / "priya_patel.pdf"))
    page.get_by_label("Target role").fill("MLOps engineer")
    page.get_by_label("Job description (optional)").fill(
        (FIXTURES / "jobs" / "mlops_engineer.txt").read_text()
    )
    screenshot(page, "jobmatch-upload-desk", full_page=True)
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/learn/resumes/\d+$"), timeout=30000)
    match = page.get_by_test_id("job-match")
    expect(match.get_by_test_id("job-missing")).to_contain_text("Terraform", timeout=30000)
    expect(match.get_by_test_id("job-matched")).to_contain_text("Kubernetes in the skills section")
    expect(match.get_by_test_id("job-title-alignment")).to_contain_text("Senior MLOps Engineer")
    expect(match).to_contain_text("keywords")
    # Right after the automated checks, on the same page.
    expect(page.locator("section.resume-checks + section.job-match")).to_be_visible()
    screenshot(page, "jobmatch-learner-desk", full_page=True)
    page.set_viewport_size(PHONE)
    screenshot(page, "jobmatch-learner-phone", full_page=True)
    page.set_viewport_size(DESK)
    resume_id = page.url.rstrip("/").rsplit("/", 1)[1]

    # The coach it is offered to (the worker routes it right after the checks) sees the same
    # comparison beside the file.
    offered = page.get_by_text(re.compile(r"^Offered to (Ada|Grace) Coach"))
    for _ in range(30):
        if offered.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(offered).to_be_visible()
    first_name = re.search(r"Offered to (\w+)", offered.inner_text()).group(1)
    sign_out(page)
    sign_in(page, f"coach.{first_name.lower()}@example.com", "coach-demo-pass")
    page.goto(f"/coach/reviews/{resume_id}")
    match = page.get_by_test_id("job-match")
    expect(match.get_by_test_id("job-missing")).to_contain_text("Terraform")
    expect(match.get_by_test_id("job-matched")).to_contain_text("Kubernetes in the skills section")
    expect(page.locator("section.resume-checks + section.job-match")).to_be_visible()
    screenshot(page, "jobmatch-coach-desk", full_page=True)
    sign_out(page)


def test_the_confirm_page_says_which_coach_the_answers_may_send_the_session_to(
    page: Any, server_app: Any
) -> None:
    """Both demo coaches run Coding; each has expertise the other lacks, so the page names round
    robin's choice and says the other may take it if the answers name the other's skills."""
    from sqlalchemy import select

    from services.db import db
    from services.models import User
    from tests.support_booking import at, extra_hours, future_weekday

    start = at(future_weekday(9), 14)
    with server_app.app_context():
        for email in ("coach.ada@example.com", "coach.grace@example.com"):
            coach = db.session.scalar(select(User).where(User.email == email))
            extra_hours(coach.id, start, minutes=180)
        db.session.commit()
    page.set_viewport_size(DESK)
    sign_in(page, "learner.omar@example.com", "learner-demo-pass")
    page.goto(f"/learn/bookings/new/confirm?type=coding&start={quote(start.isoformat())}")
    named = page.get_by_test_id("confirm-coach")
    expect(named).to_contain_text(re.compile(r"^(Ada|Grace) Coach"))
    move = page.get_by_test_id("confirm-coach-may-move")
    expect(move).to_have_count(1)
    expect(move).to_contain_text(
        re.compile(r"If your answers name .+ skills \(in (Ada|Grace) Coach")
    )
    expect(move).to_contain_text("may take the session instead")
    screenshot(page, "intake-confirm-may-move-desk", full_page=True)
    page.set_viewport_size(PHONE)
    screenshot(page, "intake-confirm-may-move-phone", full_page=True)
    page.set_viewport_size(DESK)
    sign_out(page)
