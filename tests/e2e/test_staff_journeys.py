"""Staff actions people can trust, walked in Debian's Chromium at desk (1280x800) and phone
(375x812) width: a reassignment tells the coach who lost the résumé and their old notification
explains; a rebalance asks first, naming what moves, and leaves a pinned résumé alone (and undoes
without JavaScript too); a learner who can no longer change a session writes to staff, and reads
the answer with the session.

No worker runs here: where one would fan an event out to notifications, the test runs the same
function (``notifications.fan_out``) on the events the journey recorded."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from services import accounts, notifications
from services.db import db, utcnow
from services.models import Notification, OutboxEvent
from services.resumes import queue, routing
from tests.e2e import steps
from tests.e2e.steps import sign_in, sign_in_staff_first_time, sign_out
from tests.e2e.test_accessibility import audit, serve_axe
from tests.support_booking import insert_booking
from tests.support_staff import make_resume

pytestmark = pytest.mark.e2e
PASSWORD = "staff journeys passphrase"
SIZES = {"desk": (1280, 800), "phone": (375, 812)}
JOURNEY_EVENTS = (
    "resume.assigned",
    "resume.moved",
    "booking.request_sent",
    "booking.request_answered",
)


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_context(browser: Any, base_url: str, size: str) -> Iterator[Any]:
    """Browser contexts (one per person: each has its own cookies) at the journey's size."""
    made: list[Any] = []

    def make(**extra: Any) -> Any:
        width, height = SIZES[size]
        ctx = browser.new_context(
            base_url=base_url,
            viewport={"width": width, "height": height},
            timezone_id="America/Chicago",
            **extra,
        )
        ctx.set_default_timeout(15000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def links_here(server_app: Any, base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notifications link to this test server (the app's BASE_URL), so a click follows them."""
    monkeypatch.setitem(server_app.config, "BASE_URL", base_url)


def run_events(app: Any) -> None:
    """What the worker does after each commit: fan the journey's events out."""
    with app.app_context():
        for event_id in db.session.scalars(
            select(OutboxEvent.id)
            .where(OutboxEvent.processed_at.is_(None), OutboxEvent.kind.in_(JOURNEY_EVENTS))
            .order_by(OutboxEvent.id)
        ).all():
            notifications.fan_out(event_id)
            db.session.commit()
        db.session.remove()


def no_sideways_scroll(page: Any) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def axe_clean(page: Any, size: str) -> None:
    """The page as it stands (a dialog open, a form's error shown) passes the accessibility audit
    of tests/e2e/test_accessibility.py, at desk and phone width (run once, from the desk run)."""
    if size == "desk":
        problems = audit(page)
        assert problems == [], "\n".join(problems)


def shot(page: Any, name: str, size: str, *, full_page: bool = True) -> None:
    steps.screenshot(page, f"staff-{name}-{size}", full_page=full_page)


def user(tag: str, role: str, name: str, **extra: Any) -> Any:
    return accounts.create_user(
        email=f"{role}-{name.split()[0].lower()}-{tag}@example.com",
        password=PASSWORD,
        role=role,
        name=f"{name} {tag}",
        **extra,
    )


# --- 1. a reassignment ------------------------------------------------------------------------


@pytest.fixture
def reassignment(server_app: Any, links_here: None) -> dict[str, Any]:
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        chief = user(tag, "staff", "Rae Staff")
        learner = user(tag, "learner", "Noor Learner")
        first = user(tag, "coach", "Kim Coach", expertise=["ml"])
        second = user(tag, "coach", "Lou Coach", expertise=["python"])
        db.session.commit()
        resume = make_resume(learner, target_role=f"ML engineer {tag}")
        routing.assign_manually(chief, resume.id, first.id, "routed")
        db.session.commit()
        found = {
            "tag": tag,
            "staff": chief.email,
            "first": first.email,
            "first_name": first.name,
            "second": second.id,
            "second_name": second.name,
            "resume_id": resume.id,
            "role": resume.target_role,
        }
        db.session.remove()
    run_events(server_app)  # the first coach's "Résumé to review"
    return found


def test_a_reassignment_tells_the_coach_and_their_old_notification_explains(
    new_context: Any, server_app: Any, reassignment: dict[str, Any], size: str
) -> None:
    r = reassignment
    page = new_context().new_page()
    serve_axe(page)
    sign_in_staff_first_time(page, r["staff"], PASSWORD)
    page.goto(f"/staff/queue?q={r['tag']}")
    row = page.locator(f"#resume-{r['resume_id']}")
    row.get_by_label(f"Coach for résumé {r['resume_id']}").select_option(str(r["second"]))
    row.get_by_label(f"Reason for résumé {r['resume_id']}").fill("Kim is on leave")
    row.get_by_role("button", name="Reassign").click()
    expect(page.get_by_text(f"is now offered to {r['second_name']}.")).to_be_visible()
    row = page.locator(f"#resume-{r['resume_id']}")
    expect(row.get_by_text("Pinned", exact=True)).to_be_visible()
    expect(row.get_by_text("Pinned: Kim is on leave")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "queue-pinned", size)
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=f"Pinned to {r['second_name']}")).to_be_visible()
    expect(page.get_by_text("“Kim is on leave”")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "resume-pinned", size)
    sign_out(page)
    run_events(server_app)

    # The coach who lost it: told, and the old "Résumé to review" leads to a page that explains.
    sign_in(page, r["first"], PASSWORD)
    page.goto("/notifications")
    expect(
        page.get_by_role("heading", name=re.compile(f"Résumé moved to another coach: {r['role']}"))
    ).to_be_visible()
    page.get_by_role("link", name=re.compile(f"^Résumé to review: {r['role']}")).click()
    expect(
        page.get_by_role("heading", name="This résumé moved to another coach", level=1)
    ).to_be_visible()
    expect(page.get_by_text("It is no longer yours to review")).to_be_visible()
    assert urlsplit(page.url).path == f"/coach/reviews/{r['resume_id']}"
    no_sideways_scroll(page)
    axe_clean(page, size)
    shot(page, "moved-page", size)
    page.get_by_role("link", name="Your review queue").click()
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()


# --- 2. a rebalance -------------------------------------------------------------------------------


@pytest.fixture
def crowded(server_app: Any) -> dict[str, Any]:
    """One coach holds five offers against a capacity of four, one pinned there by staff; a
    colleague who fits them better has room."""
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        chief = user(tag, "staff", "Ray Staff")
        learner = user(tag, "learner", "Ines Learner")
        full = user(tag, "coach", "Mo Coach", expertise=[], review_capacity=4)
        user(tag, "coach", "Pat Coach", expertise=["python", "pytorch"], review_capacity=4)
        db.session.commit()
        roles = []
        for i in range(5):
            resume = make_resume(
                learner, target_role=f"Role {i} {tag}", skills=["python", "pytorch"]
            )
            roles.append(resume.target_role)
            if i == 0:
                queue.assign(chief, resume.id, full.id, "The learner asked for Mo")
                pinned_id = resume.id
            else:
                routing.assign_manually(chief, resume.id, full.id, "routed")
        db.session.commit()
        found = {
            "staff": chief.email,
            "full": full.name,
            "learner": learner.name,
            "pinned_role": roles[0],
            "pinned_id": pinned_id,
            "roles": roles[1:],
        }
        db.session.remove()
        return found


def test_a_rebalance_asks_first_names_each_move_and_leaves_the_pinned_one(
    new_context: Any, crowded: dict[str, Any], size: str
) -> None:
    c = crowded
    context = new_context()
    page = context.new_page()
    serve_axe(page)
    sign_in_staff_first_time(page, c["staff"], PASSWORD)
    page.goto("/staff/rebalance")
    page.get_by_role("button", name="Propose a rebalance").click()
    flash = page.locator(".flash").first
    expect(flash).to_contain_text("proposed:")
    plan_id, moving = re.search(
        r"Plan (\d+) proposed: (\d+) résumés? would move", flash.inner_text()
    ).groups()
    n = int(moving)
    assert n >= 1
    words = f"{n} résumé{'s' if n != 1 else ''}"

    plan = page.locator(f"#plan-{plan_id}")
    plan.get_by_role("link", name=f"Apply plan {plan_id}…").click()
    dialog = page.get_by_role("dialog", name=f"Apply plan {plan_id}?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(f"{words} will move to another coach")).to_be_visible()
    items = dialog.locator(".confirm-moves li")
    expect(items).to_have_count(n)
    mine = [t for t in items.all_inner_texts() if c["learner"] in t]
    assert mine and all(f"from {c['full']} to " in t for t in mine), mine  # learner, role, from, to
    assert all(any(role in t for role in c["roles"]) for t in mine)
    expect(dialog.get_by_text(c["pinned_role"])).to_have_count(0)  # pinned: never in a plan
    no_sideways_scroll(page)
    axe_clean(page, size)
    expect(dialog).to_be_visible()
    shot(page, "rebalance-dialog", size, full_page=False)  # what the screen shows

    # Changing one's mind changes nothing; confirming moves exactly what was named.
    dialog.get_by_role("link", name="Keep things as they are").click()
    expect(dialog).to_be_hidden()
    plan.get_by_role("link", name=f"Apply plan {plan_id}…").click()
    dialog.get_by_role("button", name=f"Move {words}").click()
    expect(page.get_by_text(f"Plan {plan_id} applied: {words} moved.")).to_be_visible()
    expect(page.locator(f"#plan-{plan_id}").get_by_text("applied", exact=True)).to_be_visible()
    shot(page, "rebalance-applied", size)

    # The pinned one is still with its coach, pinned, and staff may unpin it.
    page.goto(f"/staff/resumes/{c['pinned_id']}")
    expect(page.get_by_role("heading", name=f"Pinned to {c['full']}")).to_be_visible()
    expect(page.get_by_text("“The learner asked for Mo”")).to_be_visible()
    page.get_by_role("button", name="Unpin").click()
    expect(page.get_by_text("is unpinned: a rebalance may move it.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Pinned to"))).to_have_count(0)

    # Without JavaScript the same link opens the confirmation as a page of its own.
    nojs = new_context(java_script_enabled=False, storage_state=context.storage_state()).new_page()
    nojs.goto(f"/staff/rebalance#plan-{plan_id}")
    nojs.get_by_role("link", name=f"Undo plan {plan_id}…").click()
    expect(nojs.get_by_role("heading", name=f"Undo plan {plan_id}?", level=1)).to_be_visible()
    expect(nojs.get_by_text(f"{words} will move back to the coach")).to_be_visible()
    expect(nojs.locator(".confirm-moves li")).to_have_count(n)
    no_sideways_scroll(nojs)
    shot(nojs, "rebalance-confirm-nojs", size)
    nojs.get_by_role("button", name=f"Move back {words}").click()
    expect(nojs.get_by_text(f"Plan {plan_id} undone: {words} moved back.")).to_be_visible()


# --- 3. a learner writes to staff -------------------------------------------------------------


@pytest.fixture
def late_change(server_app: Any, links_here: None) -> dict[str, Any]:
    """A confirmed session in five hours: past its 24-hour cutoff for changes."""
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        chief = user(tag, "staff", "Val Staff")
        learner = user(tag, "learner", "Ayo Learner")
        coach = user(tag, "coach", "Jo Coach", expertise=["python"])
        db.session.commit()
        start = (utcnow() + dt.timedelta(hours=5)).replace(second=0, microsecond=0)
        booking = insert_booking(learner.id, coach.id, start)
        found = {
            "staff": chief.email,
            "staff_name": chief.name,
            "learner": learner.email,
            "learner_name": learner.name,
            "coach_id": coach.id,
            "booking_id": booking.id,
        }
        db.session.remove()
        return found


def test_a_learner_writes_to_staff_and_reads_the_answer_with_the_session(
    new_context: Any, server_app: Any, late_change: dict[str, Any], size: str
) -> None:
    s = late_change
    learner = new_context().new_page()
    serve_axe(learner)
    sign_in(learner, s["learner"], PASSWORD)
    learner.goto(f"/learn/bookings/{s['booking_id']}")
    # Booked five hours ahead just now: locked since it was made, and the page says why.
    expect(learner.get_by_test_id("change-rule")).to_contain_text("cannot be moved or cancelled")
    learner.get_by_role("link", name="contact Career Services staff").click()
    expect(learner.get_by_role("heading", name="Contact Career Services staff")).to_be_visible()
    learner.get_by_role("button", name="Send to staff").click()  # empty: said at the field
    expect(learner.get_by_text("Write what you need from staff.")).to_be_visible()
    learner.get_by_label("Your message").fill("My flight was moved; can we do Friday instead?")
    no_sideways_scroll(learner)
    axe_clean(learner, size)
    shot(learner, "contact-form", size)
    learner.get_by_role("button", name="Send to staff").click()
    expect(learner.get_by_text("Sent to Career Services staff.")).to_be_visible()
    assert urlsplit(learner.url).path == f"/learn/bookings/{s['booking_id']}"
    expect(learner.get_by_text("Waiting for staff to answer.")).to_be_visible()
    expect(learner.get_by_role("link", name="contact Career Services staff")).to_have_count(0)
    run_events(server_app)
    with server_app.app_context():  # the session's coach is told
        [told] = db.session.scalars(
            select(Notification).where(
                Notification.user_id == s["coach_id"], Notification.kind == "booking_request"
            )
        ).all()
        assert "My flight was moved" in told.body
        db.session.remove()

    desk = new_context().new_page()
    serve_axe(desk)
    sign_in_staff_first_time(desk, s["staff"], PASSWORD)
    desk.goto("/notifications")
    desk.get_by_role("link", name=f"{s['learner_name']} asks about a Coding session").click()
    fragment = urlsplit(desk.url).fragment  # the notification leads to this very request
    assert urlsplit(desk.url).path == "/staff/requests" and fragment.startswith("request-")
    request = desk.locator(f"#{fragment}")
    expect(request.get_by_text("My flight was moved")).to_be_visible()
    expect(request.get_by_role("heading", name=re.compile(s["learner_name"]))).to_be_visible()
    no_sideways_scroll(desk)
    axe_clean(desk, size)
    shot(desk, "requests", size)
    request.get_by_label(f"Your answer to {s['learner_name']}").fill(
        "Friday at 10:00 is free: I moved your session there."
    )
    request.get_by_role("button", name="Send answer").click()
    expect(desk.get_by_text(f"Your answer is sent: {s['learner_name']} is told")).to_be_visible()
    answered = desk.locator(f".request-answered#{fragment}")
    expect(answered.get_by_text("Friday at 10:00 is free")).to_be_visible()
    shot(desk, "requests-answered", size)
    run_events(server_app)

    learner.goto("/notifications")
    learner.get_by_role("link", name="Staff answered you about your Coding session").click()
    assert urlsplit(learner.url).path == f"/learn/bookings/{s['booking_id']}"
    reply = learner.get_by_test_id("staff-reply")
    expect(reply).to_have_text("Friday at 10:00 is free: I moved your session there.")
    expect(learner.get_by_text(f"{s['staff_name']} answered")).to_be_visible()
    expect(learner.get_by_role("link", name="contact Career Services staff")).to_be_visible()
    no_sideways_scroll(learner)
    axe_clean(learner, size)
    shot(learner, "booking-reply", size)
