"""A coach proposes a new time for a session and the learner answers, in Chromium at a desk's width
(1280x800) and a phone's (375x812): the coach picks one of their free times and sends it with a
message; the learner, in New York on a 12-hour clock, sees both times their way and accepts (the
session moves) or declines with a note (it stays, and the coach reads why). The coach's cancel
question is a dialog in the page, as the learner's is. The new pages pass the accessibility audit.

Each test makes its own interview type, run only by a coach of its own, so other browser tests'
slots stay free; the type is switched off afterwards.

Set SCREENSHOTS to a directory to keep screenshots of the pages, to look at."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from services import accounts
from services import booking as booking_service
from services.booking import interview_types, proposals
from services.db import db
from services.models import AvailabilityRule, Booking, InterviewType, TimeProposal
from tests.e2e import steps
from tests.e2e.steps import sign_in, sign_out

pytestmark = pytest.mark.e2e
PASSWORD = "proposal journeys passphrase"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SIZES = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Any, base_url: str, size: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=base_url, timezone_id="America/Chicago", viewport=SIZES[size]
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


class Session:
    """One test's type, its coach (Berlin, 09:00-17:00 every day) and a learner (New York, on a
    12-hour clock) with a session booked at 10:00 Berlin time four days ahead."""

    def __init__(self, app: Any, size: str) -> None:
        self.app, self.size = app, size
        tag = uuid.uuid4().hex[:6]
        with app.app_context():
            itype = InterviewType(
                slug=f"propose-{tag}",
                name=f"Propose {tag}",
                duration_minutes=45,
                description="A type of this test's own.",
            )
            db.session.add(itype)
            db.session.commit()
            self.slug = itype.slug
            coach = accounts.create_user(
                email=f"cora-{tag}@example.com",
                password=PASSWORD,
                role="coach",
                name=f"Cora {tag}",
                timezone="Europe/Berlin",
            )
            interview_types.set_coach_types(coach.id, [self.slug])
            for weekday in range(7):
                db.session.add(
                    AvailabilityRule(
                        coach_id=coach.id,
                        weekday=weekday,
                        start_time=dt.time(9),
                        end_time=dt.time(17),
                    )
                )
            learner = accounts.create_user(
                email=f"lin-{tag}@example.com",
                password=PASSWORD,
                role="learner",
                name=f"Lin {tag}",
                timezone="America/New_York",
                clock="12h",
            )
            db.session.commit()
            self.day = dt.datetime.now(BERLIN).date() + dt.timedelta(days=4)
            self.start = self.at(10)
            booking, _ = booking_service.book(
                learner.id,
                booking_service.BookingRequest(type=self.slug, start=self.start),
            )
            db.session.commit()
            self.id, self.coach_id, self.learner_id = booking.id, coach.id, learner.id
            self.coach, self.learner = coach.name, learner.name
            self.coach_email, self.learner_email = coach.email, learner.email

    def at(self, hour: int) -> dt.datetime:
        return dt.datetime.combine(self.day, dt.time(hour), tzinfo=BERLIN)

    def propose(self, hour: int, message: str = "") -> None:
        with self.app.app_context():
            proposals.propose(
                self.id, self.coach_id, proposals.ProposalRequest(self.at(hour), message)
            )
            db.session.commit()

    def booking(self) -> tuple[dt.datetime, str, int]:
        with self.app.app_context():
            row = db.session.get(Booking, self.id)
            assert row is not None
            return row.start_at, row.status, row.reschedule_count

    def proposal_status(self) -> str:
        with self.app.app_context():
            return str(
                db.session.scalar(
                    select(TimeProposal.status)
                    .where(TimeProposal.booking_id == self.id)
                    .order_by(TimeProposal.id.desc())
                    .limit(1)
                )
            )

    def look(self, page: Any, name: str) -> None:
        """The page fits the width (no sideways scroll); with SCREENSHOTS, saved."""
        width = SIZES[self.size]["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        steps.screenshot(page, f"propose-{name}-{self.size}", full_page=True)


@pytest.fixture
def session(server_app: Any, size: str) -> Iterator[Session]:
    made = Session(server_app, size)
    yield made
    with server_app.app_context():
        interview_types.configure(made.slug, {"active": False})
        db.session.commit()


def as_learner_reads(moment: dt.datetime) -> str:
    """A time as the learner's pages show it: New York, 12-hour clock."""
    return f"{moment.astimezone(NEW_YORK):%a %-d %b %Y, %-I:%M %p %Z}"


def audit_here(page: Any, size: str) -> list[str]:
    """The accessibility audit of the page as it is (once: at the desk it checks the phone's width
    too)."""
    if size != "desk":
        return []
    from tests.e2e.test_accessibility import audit

    return audit(page)


def test_the_coach_proposes_a_new_time_and_the_learner_accepts(
    page: Any, session: Session, size: str
) -> None:
    from tests.e2e.test_accessibility import serve_axe

    serve_axe(page)
    problems: list[str] = []
    sign_in(page, session.coach_email, PASSWORD)
    page.goto(f"/coach/sessions/{session.id}")
    page.get_by_role("link", name="Propose a new time").click()

    expect(page.get_by_role("heading", name="Propose a new time", level=1)).to_be_visible()
    day = f"{session.day:%A %-d %B}"
    # The session's own time is marked, not offered; the coach's hours in their zone and clock.
    expect(page.get_by_text("10:00 (now)")).to_be_visible()
    session.look(page, "picker")
    problems += audit_here(page, size)
    page.get_by_role("link", name=f"{day}, 14:00 to 14:45").click()

    expect(
        page.get_by_role("heading", name=f"Propose this time to {session.learner}?")
    ).to_be_visible()
    expect(page.get_by_test_id("proposed-when")).to_contain_text("14:00")
    page.get_by_label("Message for the learner (optional)").fill(
        "A workshop moved onto my morning. Does the afternoon work?"
    )
    session.look(page, "confirm")
    problems += audit_here(page, size)
    page.get_by_role("button", name="Send the proposal").click()

    expect(page.get_by_text(f"New time proposed. {session.learner} is asked")).to_be_visible()
    waiting = page.get_by_test_id("proposal")
    expect(waiting).to_contain_text("You proposed")
    expect(waiting).to_contain_text("Does the afternoon work?")
    expect(page.get_by_role("button", name="Withdraw the proposal")).to_be_visible()
    session.look(page, "coach-waiting")
    problems += audit_here(page, size)
    assert session.booking()[0] == session.start  # nothing moves until the learner accepts
    sign_out(page)

    sign_in(page, session.learner_email, PASSWORD)
    page.goto(f"/learn/bookings/{session.id}")
    proposal = page.get_by_test_id("proposal")
    expect(
        proposal.get_by_role("heading", name=f"{session.coach} proposes a new time")
    ).to_be_visible()
    expect(proposal.locator("del")).to_have_text(as_learner_reads(session.start))
    expect(page.get_by_test_id("proposed-when")).to_have_text(as_learner_reads(session.at(14)))
    expect(proposal).to_contain_text("A workshop moved onto my morning.")
    session.look(page, "learner-proposal")
    problems += audit_here(page, size)
    page.get_by_role("button", name="Accept the new time").click()

    expect(
        page.get_by_text("Moved to the new time. Your calendar invitation is updated.")
    ).to_be_visible()
    expect(page.get_by_test_id("booking-when")).to_have_text(as_learner_reads(session.at(14)))
    expect(page.get_by_test_id("proposal")).to_have_count(0)
    expect(page.get_by_text("rescheduled to the time the coach proposed")).to_be_visible()
    start, status, moves = session.booking()
    assert (start, status, moves) == (session.at(14), "confirmed", 0)
    assert session.proposal_status() == "accepted"
    session.look(page, "learner-moved")
    assert problems == [], "\n".join(problems)


def test_the_learner_declines_and_the_coach_reads_why_then_cancels_in_a_dialog(
    page: Any, session: Session, size: str
) -> None:
    from tests.e2e.test_accessibility import serve_axe

    serve_axe(page)
    problems: list[str] = []
    session.propose(15, "Could we move it to three?")
    sign_in(page, session.learner_email, PASSWORD)
    page.goto(f"/learn/bookings/{session.id}")
    expect(page.get_by_test_id("proposed-when")).to_have_text(as_learner_reads(session.at(15)))
    page.get_by_label("Note for your coach (optional)").fill("Mornings suit me better.")
    page.get_by_role("button", name="Decline, keep the current time").click()

    expect(page.get_by_text("Declined. Your session keeps its time")).to_be_visible()
    expect(page.get_by_role("heading", name="You declined the proposed time")).to_be_visible()
    expect(page.get_by_test_id("booking-when")).to_have_text(as_learner_reads(session.start))
    expect(page.get_by_role("button", name="Accept the new time")).to_have_count(0)
    assert session.booking()[0] == session.start
    assert session.proposal_status() == "declined"
    session.look(page, "learner-declined")
    problems += audit_here(page, size)
    sign_out(page)

    sign_in(page, session.coach_email, PASSWORD)
    page.goto(f"/coach/sessions/{session.id}")
    declined = page.get_by_test_id("proposal")
    expect(declined).to_contain_text(f"{session.learner} declined the time you proposed")
    expect(declined).to_contain_text("Mornings suit me better.")
    session.look(page, "coach-declined")
    problems += audit_here(page, size)

    # The cancel question opens in the page: a modal dialog, Escape closes it, focus comes back.
    opener = page.get_by_role("link", name="Cancel session")
    opener.click()
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"{session.learner} is told")
    session.look(page, "coach-cancel-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    opener.click()
    dialog.get_by_role("button", name="Keep session").click()
    expect(dialog).to_be_hidden()
    assert session.booking()[1] == "confirmed"
    opener.click()
    dialog.get_by_label("Reason (shown to the learner)").fill("I am ill, sorry.")
    dialog.get_by_role("button", name="Cancel session").click()

    expect(page.get_by_text("Cancelled. The learner is told.")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel session")).to_have_count(0)
    assert session.booking()[1] == "cancelled"
    assert re.search(r"/coach/sessions/\d+$", page.url)
    assert problems == [], "\n".join(problems)
