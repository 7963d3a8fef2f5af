"""Steps every browser journey shares. Each waits for what it causes (the page it leads to, the
message it shows), never for time, so a busy machine only makes them slower, not wrong."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import expect

# The widths every page is looked at: a desk and a phone.
SIZES = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def sign_in_staff_first_time(page: Any, email: str, password: str) -> None:
    """A staff member's first sign-in: two-factor is set up on the way in."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/two-factor/setup")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("code", exact=False).first.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_role("link", name="I have saved them").click()
    expect(page).not_to_have_url(re.compile(r"/account/two-factor/"))


def open_menu(page: Any) -> None:
    """On a phone the site's links are under the Menu button: open it (at a desk, nothing to do)."""
    page.wait_for_load_state("domcontentloaded")  # the script that shows the button has run
    menu = page.get_by_role("button", name=re.compile(r"^Menu"))
    if menu.is_visible() and menu.get_attribute("aria-expanded") == "false":
        menu.click()


def sign_out(page: Any) -> None:
    """Sign out and wait until the server has ended the session (its answer is on screen). On a
    phone the button is in the menu: open it first."""
    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def later_week(page: Any) -> None:
    """Step the slot page one week on, and wait until the next week's page is the one shown."""
    before = page.url
    page.get_by_role("link", name="Later →").click()
    page.wait_for_url(lambda url: url != before)
    page.wait_for_load_state()


def first_week_with_slots(page: Any) -> None:
    """The slot page shows one week (at a desk; a phone's month and day are hidden); step forward
    until it offers something."""
    for _ in range(4):
        if page.locator(".booker-week a.slot").count():
            return
        later_week(page)
    raise AssertionError("no free slots in four weeks")


def screenshot(target: Any, name: str, *, full_page: bool = False) -> None:
    """Keep a picture of a page (or one element) to look at, as ``$SCREENSHOTS/<name>.png``, when
    the SCREENSHOTS environment variable names a folder (``SCREENSHOTS=docs/screenshots`` refreshes
    the documentation's); without it, nothing is taken."""
    folder = os.environ.get("SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    options = {"full_page": True} if full_page else {}
    target.screenshot(path=str(Path(folder) / f"{name}.png"), **options)


def new_page(browser: Any, base_url: str, size: str, **context: Any) -> Any:
    """A page of a fresh browser context (no cookies) at one of ``SIZES``; ``context`` is passed to
    ``browser.new_context`` (``timezone_id``, ``java_script_enabled``, ...)."""
    page = browser.new_context(base_url=base_url, viewport=SIZES[size], **context).new_page()
    page.set_default_timeout(20000)
    return page


def fits(page: Any) -> None:
    """Nothing scrolls sideways at this page's width."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def offered_resume(server_app: Any, data: bytes, name: str, password: str) -> dict[str, Any]:
    """A learner's résumé of ``data``, read and checked, offered by staff to a coach of its own
    (all three people new, signing in with ``password``): their emails and ids, and the résumé's."""
    import uuid

    from services import accounts, resumes
    from services.db import db
    from services.resumes import routing
    from tests.support_resumes import submit

    with server_app.app_context():
        tag = uuid.uuid4().hex[:8]
        staff = accounts.create_user(
            email=f"staff-{tag}@example.com", password=password, role="staff", name="Sam Staff"
        )
        learner = accounts.create_user(
            email=f"learner-{tag}@example.com",
            password=password,
            role="learner",
            name="Lena Learner",
        )
        coach = accounts.create_user(
            email=f"coach-{tag}@example.com",
            password=password,
            role="coach",
            name="Cora Coach",
            expertise=["ml", "python"],
        )
        db.session.commit()
        resume = submit(learner, data, name)
        db.session.commit()
        resumes.analyse(resumes.current_version(resume).id)
        db.session.commit()
        routing.assign_manually(staff, resume.id, coach.id, "offered to a coach of its own")
        db.session.commit()
        return {
            "learner": learner.email,
            "coach": coach.email,
            "staff_id": staff.id,
            "coach_id": coach.id,
            "id": resume.id,
        }
