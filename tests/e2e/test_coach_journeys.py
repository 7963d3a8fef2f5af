"""A coach's journeys in Debian's Chromium, at a desk's width and a phone's: weekly hours and time
off (errors where they belong), an invited coach's first steps, the private calendar feed, and the
session page's link to the learner's résumé.

Set SCREENSHOTS to a directory to keep screenshots of the pages, to look at."""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.request
import uuid
import zoneinfo
from typing import Any

import pytest
from playwright.sync_api import expect

from services import accounts
from services.accounts import coaches
from services.booking import interview_types
from services.db import db
from services.resumes import routing
from tests.e2e import steps
from tests.e2e.steps import sign_in, sign_out
from tests.support_booking import add_rules, at, future_weekday, insert_booking
from tests.support_staff import make_resume

pytestmark = pytest.mark.e2e
PASSWORD = "coach journey passphrase"
BERLIN = "Europe/Berlin"
# The type these coaches run: the other browser tests book other types, so they never meet them.
TYPE = "behavioral"
SIZES = [
    pytest.param({"width": 1280, "height": 800}, id="1280"),
    pytest.param({"width": 375, "height": 812}, id="375"),
]


@pytest.fixture(params=SIZES)
def sized(request: Any, page: Any) -> Any:
    page.set_viewport_size(request.param)
    return page


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    steps.screenshot(page, f"{name}-{width(page)}", full_page=full_page)


def width(page: Any) -> int:
    return int(page.viewport_size["width"])


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width(page)


def make_coach(tag: str, name: str, *, hours: bool = True) -> Any:
    coach = accounts.create_user(
        email=f"{name.split()[0].lower()}-{tag}@example.com",
        password=PASSWORD,
        role="coach",
        name=f"{name} {tag}",
        timezone=BERLIN,
    )
    db.session.commit()
    interview_types.set_coach_types(coach.id, [TYPE])
    db.session.commit()
    if hours:
        add_rules(coach.id)
    return coach


def make_learner(tag: str, name: str = "Lee") -> Any:
    learner = accounts.create_user(
        email=f"{name.lower()}-{tag}@example.com",
        password=PASSWORD,
        role="learner",
        name=f"{name} {tag}",
    )
    db.session.commit()
    return learner


def boxes_apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] + a["width"] <= b["x"] + 0.5
        or b["x"] + b["width"] <= a["x"] + 0.5
        or a["y"] + a["height"] <= b["y"] + 0.5
        or b["y"] + b["height"] <= a["y"] + 0.5
    )


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
    )


# --- 1. weekly hours and time off ----------------------------------------------------------------


@pytest.fixture
def coach_with_a_session(server_app: Any) -> dict[str, Any]:
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        coach = make_coach(tag, "Casey")
        learner = make_learner(tag)
        start = at(future_weekday(7, BERLIN), 10, tz=BERLIN)
        booking = insert_booking(learner.id, coach.id, start, type_=TYPE)
        return {
            "email": coach.email,
            "learner": learner.name,
            "booking_id": booking.id,
            "week": start.date().isoformat(),
        }


def test_weekly_hours_and_time_off(sized: Any, coach_with_a_session: dict[str, Any]) -> None:
    page, world = sized, coach_with_a_session
    sign_in(page, world["email"], PASSWORD)
    page.goto(f"/coach/availability?week={world['week']}")
    expect(page.get_by_role("link", name=world["learner"])).to_be_visible()  # the booked cell

    # Seven day boxes side by side or stacked, none over another, each holding its own inputs.
    days = page.locator("fieldset.rule-day")
    expect(days).to_have_count(7)
    boxes = [days.nth(i).bounding_box() for i in range(7)]
    for i, box in enumerate(boxes):
        for other in boxes[i + 1 :]:
            assert boxes_apart(box, other), (box, other)
        inputs = days.nth(i).locator("input")
        for j in range(inputs.count()):
            assert inside(inputs.nth(j).bounding_box(), box)
    no_sideways_scroll(page)

    # The week: at a desk it fits; on a phone it scrolls sideways inside its frame, the times
    # staying in view as it does.
    wrap = page.locator(".week-calendar-wrap")
    overflows = wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    if width(page) >= 1280:
        assert not overflows
    else:
        assert overflows
        first_time = page.locator(".week-calendar tbody th").first
        before = first_time.bounding_box()
        wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        page.wait_for_function("() => document.querySelector('.week-calendar-wrap').scrollLeft > 0")
        steps.screenshot(wrap, "week-scrolled")
        after = first_time.bounding_box()
        assert abs(after["x"] - before["x"]) < 1 and abs(after["x"] - wrap.bounding_box()["x"]) < 2
        sunday = page.locator(".week-calendar thead th").last
        assert sunday.bounding_box()["x"] + sunday.bounding_box()["width"] <= width(page) + 1
    shot(page, "availability", full_page=True)

    # An end before its start: the error sits on Wednesday, which keeps what was typed.
    page.get_by_label("Wednesday from", exact=True).fill("12:00")
    page.get_by_label("Wednesday until", exact=True).fill("09:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_text("Nothing was saved: fix the hours on Wednesday.")).to_be_visible()
    wednesday = page.locator("#day-2")
    expect(wednesday.locator(".error")).to_have_text(
        "12:00–09:00: the end must be after the start."
    )
    expect(page.get_by_label("Wednesday from", exact=True)).to_have_value("12:00")
    expect(page.get_by_label("Wednesday from", exact=True)).to_be_focused()  # where to fix it
    expect(page.get_by_label("Wednesday until", exact=True)).to_have_value("09:00")
    expect(page.get_by_label("Monday from", exact=True)).to_have_value("09:00")
    expect(page.locator(".rule-day .error")).to_have_count(1)
    wednesday.scroll_into_view_if_needed()
    shot(page, "weekly-error")

    # Time off in the past is refused, and says why; the form keeps the date typed.
    today = dt.datetime.now(zoneinfo.ZoneInfo(BERLIN)).date()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    page.get_by_label("Date").fill(yesterday)
    page.get_by_label("From", exact=True).fill("09:00")
    page.get_by_label("Until", exact=True).fill("12:00")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#day-error")).to_have_text(
        "That time has already passed: time off and extra hours are for times still to come."
    )
    expect(page.get_by_label("Date")).to_have_value(yesterday)
    expect(page.get_by_label("Date")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Date")).to_be_focused()
    expect(page.get_by_text("Nothing was added: fix what is marked")).to_be_visible()
    page.get_by_label("Date").scroll_into_view_if_needed()
    shot(page, "time-off-error")

    # Time off ahead is listed with its date once.
    day = future_weekday(14, BERLIN)
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From", exact=True).fill("09:00")
    page.get_by_label("Until", exact=True).fill("12:00")
    page.get_by_label("Note (optional)").fill("conference")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Time off added.")).to_be_visible()
    entry = page.locator(".exception-list li").first
    label = f"{day:%a} {day.day} {day:%b}" + ("" if day.year == today.year else f" {day.year}")
    expect(entry).to_contain_text(f"Time off: {label}, 09:00–12:00 (conference)")
    assert day.isoformat() not in entry.inner_text()
    no_sideways_scroll(page)
    entry.scroll_into_view_if_needed()
    shot(page, "time-off-list")


# --- 2. an invited coach --------------------------------------------------------------------------


@pytest.fixture
def invitation(server_app: Any) -> dict[str, Any]:
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        inviter = accounts.create_user(
            email=f"inviter-{tag}@example.com", password=PASSWORD, role="staff", name="Sue Staff"
        )
        db.session.commit()
        coach, invite = coaches.invite_coach(
            inviter,
            coaches.Invitation(
                email=f"nia-{tag}@example.com", name=f"Nia {tag}", timezone="Asia/Tokyo"
            ),
        )
        db.session.commit()
        interview_types.set_coach_types(coach.id, [TYPE])  # staff chose what they run
        db.session.commit()
        make_coach(tag, "Other")  # with Grace, two bookable coaches: the learner gets a choice
        learner = make_learner(tag, "Lou")
        expires = invite.expires_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
        return {
            "link": f"/staff/invite/{coaches.invite_secret(invite)}",
            "email": coach.email,
            "name": coach.name,
            "expires": f"{expires:%a %-d %b %Y, %H:%M} JST (Asia/Tokyo)",
            "learner": learner.email,
        }


def coach_choices(page: Any) -> list[str]:
    page.goto(f"/learn/bookings/new?type={TYPE}")
    expect(page.get_by_label("Coach")).to_be_visible()
    return [o.strip() for o in page.locator("#coach-filter option").all_inner_texts()]


def test_an_invited_coach_lands_on_setting_their_hours(
    sized: Any, invitation: dict[str, Any]
) -> None:
    page, world = sized, invitation
    page.goto(world["link"])
    expect(page.get_by_role("heading", name=f"Welcome, {world['name']}")).to_be_visible()
    # Shown in the zone staff chose for them (the browser is in Chicago), and labelled.
    expect(page.get_by_test_id("invite-expires")).to_have_text(
        f"This link works once, until {world['expires']}."
    )
    no_sideways_scroll(page)
    shot(page, "accept-invite")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()

    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    expect(
        page.get_by_text("Your password is set. Sign in with it to set your hours.")
    ).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(world["email"])
    shot(page, "first-sign-in")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/coach/availability\?welcome=1$"))
    expect(page.get_by_text(f"Welcome, {world['name']}.", exact=True)).to_be_visible()
    expect(page.get_by_text("Welcome back")).to_have_count(0)
    expect(page.get_by_test_id("welcome")).to_contain_text("Your coach account is open.")
    expect(page.get_by_role("heading", name="Set your hours")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "welcome")
    sign_out(page)

    # Until they have hours, learners are not offered them.
    sign_in(page, world["learner"], PASSWORD)
    choices = coach_choices(page)
    assert len(choices) >= 3, choices  # "any coach" and two who have hours
    assert world["name"] not in choices
    sign_out(page)

    sign_in(page, world["email"], PASSWORD)
    expect(page.get_by_text("Welcome back")).to_be_visible()  # the second time, welcomed back
    page.goto("/coach/availability")
    page.get_by_label("Sunday from", exact=True).fill("10:00")
    page.get_by_label("Sunday until", exact=True).fill("14:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_text("Weekly hours saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Set your hours")).to_have_count(0)
    sign_out(page)

    sign_in(page, world["learner"], PASSWORD)
    assert world["name"] in coach_choices(page)


# --- 3. the calendar feed -------------------------------------------------------------------------


def fetch(url: str) -> tuple[int, str]:
    """What a calendar app gets: a plain HTTP GET, no cookies."""
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 (our own server)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_the_calendar_feed_is_one_click_and_shown_again(
    sized: Any, coach_with_a_session: dict[str, Any], base_url: str, server_app: Any
) -> None:
    page, world = sized, coach_with_a_session
    sign_in(page, world["email"], PASSWORD)
    page.goto("/coach/availability")
    page.get_by_role("button", name="Get a calendar address").click()
    expect(page.get_by_text("Your private calendar address is ready.")).to_be_visible()
    address = page.get_by_label("Your private calendar address")
    url = address.input_value()
    assert re.fullmatch(r"http://testserver/api/v1/calendar-feeds/[A-Za-z0-9_-]{40,}\.ics", url)
    subscribe = page.get_by_role("link", name="Subscribe in your calendar app")
    expect(subscribe).to_have_attribute("href", "webcal://" + url.removeprefix("http://"))
    expect(page.get_by_role("link", name="Add calendar from URL")).to_have_attribute(
        "href", re.compile(r"^https://calendar\.google\.com/")
    )
    no_sideways_scroll(page)
    page.get_by_role("heading", name="Calendar feed").scroll_into_view_if_needed()
    shot(page, "feed")

    # Another visit (after signing in again): the same address, not a new one.
    sign_out(page)
    sign_in(page, world["email"], PASSWORD)
    page.goto("/coach/availability")
    expect(page.get_by_label("Your private calendar address")).to_have_value(url)

    # The app's BASE_URL is http://testserver; this test's server listens elsewhere.
    live = url.replace("http://testserver", base_url)
    status, body = fetch(live)
    assert status == 200
    body = body.replace("\r\n ", "")
    link = f"http://testserver/coach/sessions/{world['booking_id']}"
    assert f"URL:{link}\r\n" in body
    assert "/learn/bookings/" not in body
    # The event's link opens the coach's own session page.
    page.goto(link.removeprefix("http://testserver"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world["learner"])

    # Revoke: the address stops working and is no longer shown.
    page.goto("/coach/availability")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke the address").click()
    expect(page.get_by_text("The calendar address no longer works.")).to_be_visible()
    expect(page.get_by_label("Your private calendar address")).to_have_count(0)
    assert fetch(live)[0] == 404


# --- 4. the session page and the learner's résumé -------------------------------------------------


@pytest.fixture
def sessions_and_resumes(server_app: Any) -> dict[str, Any]:
    with server_app.app_context():
        tag = uuid.uuid4().hex[:6]
        coach = make_coach(tag, "Rey")
        inviter = accounts.create_user(
            email=f"router-{tag}@example.com", password=PASSWORD, role="staff", name="Rob"
        )
        shared, private = make_learner(tag, "Sam"), make_learner(tag, "Pat")
        db.session.commit()
        resume = make_resume(shared, target_role=f"ML engineer {tag}")
        routing.assign_manually(inviter, resume.id, coach.id, "before the session")
        make_resume(private, target_role=f"Analyst {tag}")  # never sent to this coach
        db.session.commit()
        day = future_weekday(7, BERLIN)
        with_resume = insert_booking(shared.id, coach.id, at(day, 10, tz=BERLIN), type_=TYPE)
        without = insert_booking(private.id, coach.id, at(day, 14, tz=BERLIN), type_=TYPE)
        return {
            "email": coach.email,
            "shared": shared.name,
            "private": private.name,
            "role": resume.target_role,
            "resume_id": resume.id,
            "with_resume": with_resume.id,
            "without": without.id,
        }


def test_the_session_page_links_to_the_learners_resume(
    sized: Any, sessions_and_resumes: dict[str, Any]
) -> None:
    page, world = sized, sessions_and_resumes
    sign_in(page, world["email"], PASSWORD)
    page.goto(f"/coach/sessions/{world['without']}")
    expect(page.get_by_test_id("session-resume")).to_contain_text(
        f"No résumé of {world['private']}'s has been sent to you for review"
    )
    expect(page.get_by_test_id("session-resume").get_by_role("link")).to_have_count(0)
    no_sideways_scroll(page)

    page.goto(f"/coach/sessions/{world['with_resume']}")
    link = page.get_by_role("link", name=f"{world['shared']}'s résumé for {world['role']}")
    expect(link).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "session-resume")
    link.click()
    expect(page).to_have_url(re.compile(rf"/coach/reviews/{world['resume_id']}$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


# --- the audit of every state these journeys add -------------------------------------------------


def test_the_new_states_pass_the_accessibility_audit(
    page: Any, coach_with_a_session: dict[str, Any], invitation: dict[str, Any]
) -> None:
    from tests.e2e.test_accessibility import audit, serve_axe

    serve_axe(page)
    problems: list[str] = []
    page.goto(invitation["link"])
    problems += audit(page)

    world = coach_with_a_session
    sign_in(page, world["email"], PASSWORD)
    page.goto("/coach/availability")
    page.get_by_role("button", name="Get a calendar address").click()
    expect(page.get_by_label("Your private calendar address")).to_be_visible()
    day = future_weekday(14, BERLIN)
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From", exact=True).fill("09:00")
    page.get_by_label("Until", exact=True).fill("12:00")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Time off added.")).to_be_visible()
    problems += audit(page)  # the week with a session, time off listed, the feed shown

    page.get_by_label("Thursday from", exact=True).fill("18:00")
    page.get_by_label("Thursday until", exact=True).fill("08:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.locator("#day-3 .error")).to_be_visible()
    problems += audit(page)  # a refused weekly form

    page.goto(f"/coach/sessions/{world['booking_id']}")
    problems += audit(page)
    assert problems == [], "\n".join(problems)
