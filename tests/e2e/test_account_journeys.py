"""Account journeys in Debian's Chromium, at a desk's width (1280x800) and a phone's (375x812):
the profile page (name, a searchable time zone picker, the clock), sign-up and a coach's
invitation with the same picker, every role's navigation (a menu button on the phone, a plain
list without JavaScript), the warning before sign-in pauses, and the friendly 403.

Screenshots go to /tmp/account-*.png for a person to look at."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from services import accounts, notifications
from services.accounts import coaches
from services.db import db
from services.models import Notification, OutboxEvent, User
from tests.e2e import steps
from tests.e2e.test_accessibility import audit, serve_axe

pytestmark = pytest.mark.e2e

PASSWORD = "account journey passphrase"
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
SCREENS = {"desk": DESK, "phone": PHONE}
MENU_BELOW = 992  # px: the links fold behind the menu button below 62rem (static/css/app.css)
TWELVE_HOUR = re.compile(r"\d{1,2}:\d{2} [AP]M")
TWENTY_FOUR_HOUR = re.compile(r", \d{2}:\d{2} ")
NAV_LINKS = {
    "anon": ["FAQ", "Sign in", "Sign up"],
    "learner": ["FAQ", "Interviews", "Résumés", "Notifications", "Dashboard", "Account"],
    "coach": [
        "FAQ",
        "Sessions",
        "Availability",
        "Reviews",
        "Notifications",
        "Dashboard",
        "Account",
    ],
    "staff": ["FAQ", "Statistics", "Queue", "Emails", "Notifications", "Dashboard", "Account"],
}


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_page(browser: Any, base_url: str) -> Iterator[Any]:
    """A new browser page at a given screen size (and locale, and with or without JavaScript)."""
    contexts: list[Any] = []

    def make(size: dict[str, int], locale: str = "en-US", javascript: bool = True) -> Any:
        context = browser.new_context(
            base_url=base_url,
            viewport=size,
            locale=locale,
            timezone_id="America/Chicago",
            java_script_enabled=javascript,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()


def make_user(server_app: Any, role: str, **kwargs: Any) -> Any:
    with server_app.app_context():
        user = accounts.create_user(
            email=f"journey-{role}-{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            role=role,
            name=kwargs.pop("name", f"{role.title()} Journey"),
            **kwargs,
        )
        db.session.commit()
        return user.email


def stored(server_app: Any, email: str) -> User:
    with server_app.app_context():
        user = accounts.find_by_email(email)
        assert user is not None
        db.session.expunge(user)
        return user


def sign_in(page: Any, server_app: Any, role: str) -> str:
    email = make_user(server_app, role)
    if role == "staff":
        steps.sign_in_staff_first_time(page, email, PASSWORD)
    else:
        steps.sign_in(page, email, PASSWORD)
    return email


def go_to(page: Any, link: str) -> None:
    """Follow a link of the main navigation, opening the menu first where it is folded."""
    if page.viewport_size["width"] < MENU_BELOW:
        toggle = page.get_by_role("button", name=re.compile("^Menu"))
        expect(toggle).to_be_visible()  # once app.js has run
        if toggle.get_attribute("aria-expanded") == "false":
            toggle.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link, exact=True).click()


def pick_zone(page: Any, typed: str, choice: str, *, keyboard: bool) -> None:
    combo = page.get_by_role("combobox", name="Time zone")
    combo.click()
    combo.fill(typed)
    option = page.get_by_role("option", name=choice)
    expect(option.first).to_be_visible()
    if keyboard:
        expect(combo).to_have_attribute("aria-activedescendant", re.compile(".+"))
        expect(option.first).to_have_attribute("aria-selected", "true")
        combo.press("Enter")
    else:
        option.first.click()
    expect(combo).to_have_attribute("aria-expanded", "false")
    expect(combo).to_have_value(re.compile(re.escape(choice) + "$"))


def shot(page: Any, name: str, full_page: bool = False) -> None:
    steps.screenshot(page, f"account-{name}", full_page=full_page)


def no_sideways_scroll(page: Any) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


# --- the profile page ------------------------------------------------------------------------


def test_a_learner_changes_name_zone_and_clock_on_the_account_page(
    open_page: Any, server_app: Any, screen: str
) -> None:
    page = open_page(SCREENS[screen])
    serve_axe(page)
    email = sign_in(page, server_app, "learner")
    go_to(page, "Account")
    expect(page.get_by_role("heading", name="Your profile", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Profile")).to_have_attribute("aria-current", "page")
    combo = page.get_by_role("combobox", name="Time zone")
    expect(combo).to_have_value(re.compile(r"^\(UTC\+00:00\) UTC$"))
    expect(page.get_by_test_id("account-now")).to_have_text(TWENTY_FOUR_HOUR)

    # Search by city, with the keyboard; then by two words, with a tap or a click.
    pick_zone(page, "berlin", "Europe/Berlin", keyboard=True)
    expect(page.locator("select[name=timezone]")).to_have_value("Europe/Berlin")
    pick_zone(page, "new york", "America/New York", keyboard=False)
    expect(page.locator("select[name=timezone]")).to_have_value("America/New_York")
    # The country finds it too, and what is typed and not picked is dropped on leaving.
    combo.click()
    combo.fill("japan")
    expect(page.get_by_role("option").first).to_have_text(re.compile(r"Asia/Tokyo\s*Japan$"))
    expect(page.get_by_role("status").filter(has_text="found")).to_have_text(
        re.compile(r"^\d+ time zones? found\.$")
    )
    page.get_by_label("Name").click()
    expect(combo).to_have_value(re.compile(r"America/New York$"))
    # Escape closes the list and keeps the zone picked.
    combo.click()
    combo.fill("zzz")
    expect(page.get_by_text("No time zone matches. Try a city or a country")).to_be_visible()
    combo.press("Escape")
    expect(combo).to_have_attribute("aria-expanded", "false")
    expect(combo).to_have_value(re.compile(r"America/New York$"))

    page.get_by_label("Name").fill("Jo Journey")
    page.get_by_label("12-hour: 2:30 PM").check()
    combo.click()
    combo.fill("berl")
    shot(page, f"profile-search-{SCREENS[screen]['width']}")
    combo.press("Enter")
    page.get_by_role("button", name="Save changes").click()

    expect(
        page.get_by_text("Saved. Times are now shown in Europe/Berlin, on the 12-hour clock.")
    ).to_be_visible()
    expect(page.get_by_test_id("account-now")).to_have_text(TWELVE_HOUR)
    expect(page.get_by_test_id("account-now")).to_have_text(re.compile(r"CES?T$"))
    expect(page.get_by_label("Name")).to_have_value("Jo Journey")
    expect(page.get_by_label("12-hour: 2:30 PM")).to_be_checked()
    user = stored(server_app, email)
    assert (user.name, user.timezone, user.clock) == ("Jo Journey", "Europe/Berlin", "12h")
    no_sideways_scroll(page)
    shot(page, f"profile-{SCREENS[screen]['width']}", full_page=True)
    problems = audit(page)
    assert problems == [], "\n".join(problems)


def test_the_account_page_works_without_javascript(open_page: Any, server_app: Any) -> None:
    page = open_page(PHONE, javascript=False)
    email = sign_in(page, server_app, "coach")
    nav = page.get_by_role("navigation", name="Main")
    # No menu button without JavaScript: the links are a plain list.
    expect(page.get_by_role("button", name=re.compile("^Menu"))).to_have_count(0)
    for name in NAV_LINKS["coach"]:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    shot(page, "nav-nojs-375")
    nav.get_by_role("link", name="Account", exact=True).click()

    zone = page.get_by_label("Time zone")
    expect(zone).to_have_js_property("tagName", "SELECT")
    zone.select_option("Asia/Kolkata")
    page.get_by_label("12-hour: 2:30 PM").check()
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("Saved. Times are now shown in Asia/Kolkata")).to_be_visible()
    expect(page.get_by_test_id("account-now")).to_have_text(re.compile(r"[AP]M IST$"))
    assert stored(server_app, email).timezone == "Asia/Kolkata"
    no_sideways_scroll(page)


# --- the same picker on sign-up and on a coach's invitation ----------------------------------


@pytest.mark.parametrize(("locale", "clock"), [("en-US", "12h"), ("de-DE", "24h")])
def test_sign_up_starts_from_the_browsers_zone_and_clock(
    open_page: Any, server_app: Any, screen: str, locale: str, clock: str
) -> None:
    page = open_page(SCREENS[screen], locale=locale)
    email = f"journey-signup-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/sign-up")
    expect(page.locator("select[name=timezone]")).to_have_value("America/Chicago")
    expect(page.get_by_role("combobox", name="Time zone")).to_have_value(
        re.compile(r"^\(UTC−0[56]:00\) America/Chicago$")
    )
    page.get_by_label("Full name").fill("Sia Signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long passphrase")
    if screen == "phone":
        pick_zone(page, "toronto", "America/Toronto", keyboard=False)
    shot(page, f"signup-{locale}-{SCREENS[screen]['width']}")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Hello, Sia Signup.")).to_be_visible()
    user = stored(server_app, email)
    zone = "America/Toronto" if screen == "phone" else "America/Chicago"
    assert (user.timezone, user.clock) == (zone, clock)


def test_a_coach_picks_a_zone_when_accepting_the_invitation(
    open_page: Any, server_app: Any, screen: str
) -> None:
    staff_email = make_user(server_app, "staff")
    coach_email = f"journey-invited-{uuid.uuid4().hex[:8]}@example.com"
    with server_app.app_context():
        coaches.invite_coach(
            accounts.find_by_email(staff_email),
            coaches.Invitation(coach_email, "Ivy Invited", timezone="UTC"),
        )
        db.session.commit()
        event = (
            db.session.query(OutboxEvent)
            .filter_by(kind="staff.coach_invited")
            .order_by(OutboxEvent.id.desc())
            .first()
        )
        [message] = notifications._handlers["staff.coach_invited"](event.payload)
    path = "/staff/invite/" + message.context["link"].rsplit("/", 1)[1]

    page = open_page(SCREENS[screen])
    page.goto(path)
    expect(page.get_by_role("heading", name="Welcome, Ivy Invited")).to_be_visible()
    combo = page.get_by_role("combobox", name="Time zone")
    expect(combo).to_have_value(re.compile(r"America/Chicago$"))  # staff left it at UTC
    pick_zone(page, "kolkata", "Asia/Kolkata", keyboard=True)
    page.get_by_label("New password").fill("a long new coach passphrase")
    shot(page, f"invite-{SCREENS[screen]['width']}", full_page=True)
    page.get_by_role("button", name="Set password").click()

    expect(
        page.get_by_text("Your password is set. Sign in with it to set your hours.")
    ).to_be_visible()
    coach = stored(server_app, coach_email)
    assert (coach.active, coach.timezone, coach.clock) == (True, "Asia/Kolkata", "12h")


# --- every role's navigation ------------------------------------------------------------------


@pytest.mark.parametrize("role", list(NAV_LINKS))
def test_every_roles_navigation_at_desk_and_phone_width(
    open_page: Any, server_app: Any, role: str
) -> None:
    page = open_page(DESK)
    if role != "anon":
        sign_in(page, server_app, role)
    else:
        page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name=re.compile("^Menu"))
    items = [*NAV_LINKS[role], *(["Sign out"] if role != "anon" else [])]

    # The desk: every link in one row beside the brand, no menu button.
    expect(toggle).to_have_count(0)
    middles = nav.locator(".nav-list > li").evaluate_all(
        "items => items.map(i => i.getBoundingClientRect()).map(r => r.top + r.height / 2)"
    )
    assert len(middles) == len(items) and max(middles) - min(middles) < 3, middles
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] < 80
    shot(page, f"nav-{role}-1280")

    # The phone: one button; the links appear under it, one per row, and fold away again.
    page.set_viewport_size(PHONE)
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] < 80
    no_sideways_scroll(page)
    shot(page, f"nav-{role}-375")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    for name in NAV_LINKS[role]:
        link = nav.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None and box["height"] >= 40, (name, box)  # easy to tap
    if role != "anon":
        expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, f"nav-{role}-375-open", full_page=True)
    page.keyboard.press("Escape")  # focus is on the button: Escape closes and keeps it there
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="FAQ", exact=True).click()
    expect(page).to_have_url(re.compile(r"/faq$"))
    expect(toggle).to_have_attribute("aria-expanded", "false")  # a new page starts folded

    # Widening the window shows the row again, whatever the button's state was.
    toggle.click()
    page.set_viewport_size(DESK)
    expect(toggle).to_be_hidden()
    expect(nav.get_by_role("link", name="FAQ", exact=True)).to_be_visible()


def test_the_menu_button_shows_unread_notifications(open_page: Any, server_app: Any) -> None:
    page = open_page(PHONE)
    email = sign_in(page, server_app, "learner")
    with server_app.app_context():
        user = accounts.find_by_email(email)
        assert user is not None
        db.session.add(
            Notification(user_id=user.id, kind="welcome", title="Hello", dedupe_key="journey")
        )
        db.session.commit()
    page.reload()

    toggle = page.get_by_role("button", name="Menu 1 unread notifications")
    expect(toggle).to_be_visible()
    toggle.click()
    go_to(page, "Notifications 1 unread")
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()


# --- sign-in warnings and the 403 --------------------------------------------------------------


@pytest.fixture
def fresh_limits(server_app: Any) -> Iterator[None]:
    """Failed sign-ins from 127.0.0.1 count for every test: start and end with none counted."""
    from web.extensions import limiter

    with server_app.app_context():
        limiter.reset()
    yield
    with server_app.app_context():
        limiter.reset()


def test_wrong_passwords_warn_before_sign_in_pauses(
    open_page: Any, server_app: Any, screen: str, fresh_limits: None
) -> None:
    page = open_page(SCREENS[screen])
    email = make_user(server_app, "learner")
    page.goto("/sign-in")
    warning = page.get_by_test_id("attempts-warning")

    def fail() -> None:
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("The email or password is not right.")).to_be_visible()

    fail()
    fail()
    expect(warning).to_have_count(0)
    fail()
    expect(warning).to_have_text(
        re.compile(r"^\s*2 attempts left before sign-in is paused for up to 1 minute\.")
    )
    fail()
    expect(warning).to_contain_text("1 attempt left before sign-in is paused for up to 1 minute.")
    no_sideways_scroll(page)
    shot(page, f"signin-warning-{SCREENS[screen]['width']}")
    warning.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name=re.compile("password", re.I))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/forgot-password$"))


def test_a_page_for_another_role_explains_and_offers_ways_back(
    open_page: Any, server_app: Any, screen: str
) -> None:
    page = open_page(SCREENS[screen])
    serve_axe(page)
    sign_in(page, server_app, "learner")
    go_to(page, "Interviews")
    bookings = page.url
    page.goto("/staff/queue", referer=bookings)  # e.g. a link someone shared

    expect(page.get_by_role("heading", name="This page is not for your account")).to_be_visible()
    expect(page.get_by_text("a learner account.")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, f"403-{SCREENS[screen]['width']}", full_page=True)
    problems = audit(page)
    assert problems == [], "\n".join(problems)
    page.get_by_role("link", name="Back to the previous page").click()
    expect(page).to_have_url(re.compile(r"/learn/bookings$"))
    page.goto("/staff/queue")
    page.get_by_role("link", name="Your dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
