"""Booking journeys a learner walks in Chromium, at a desk's width (1280x800) and a phone's
(375x812): a late slot said to be final before and after booking; bad starts and weeks past the
horizon answered on the picker; Back and confirm again; calendar links, Join and the cancel dialog
(and its page without JavaScript); the waitlist by day and time of day.

Each test makes its own interview type, run only by coaches of its own, so the demo coaches'
slots other tests rely on stay free; the type is switched off afterwards."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from services import accounts, notifications
from services import booking as booking_service
from services.booking import interview_types, waitlist
from services.booking.availability import grid_ceil
from services.db import db, utcnow
from services.models import (
    AvailabilityRule,
    Booking,
    Delivery,
    InterviewType,
    OutboxEvent,
    User,
)
from tests.e2e import steps
from tests.e2e.steps import sign_in
from tests.support_booking import extra_hours

pytestmark = pytest.mark.e2e
PASSWORD = "booking journeys passphrase"
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


class World:
    """One test's type, coaches and learners, made through the services in the server's app."""

    def __init__(self, app: Any, size: str) -> None:
        self.app = app
        self.size = size
        self.tag = uuid.uuid4().hex[:6]
        with app.app_context():
            itype = InterviewType(
                slug=f"journey-{self.tag}",
                name=f"Journey {self.tag}",
                duration_minutes=45,
                description="A type of this test's own.",
            )
            db.session.add(itype)
            db.session.commit()
            self.slug, self.name = itype.slug, itype.name

    def coach(
        self,
        name: str,
        *,
        hours: tuple[dt.time, dt.time] | None = (dt.time(0), dt.time(23, 59)),
        slots: tuple[dt.datetime, ...] = (),
    ) -> int:
        """A coach in UTC who runs only this type: every day in ``hours``, or only ``slots``."""
        with self.app.app_context():
            coach = accounts.create_user(
                email=f"{name.split()[0].lower()}-{self.tag}@example.com",
                password=PASSWORD,
                role="coach",
                name=f"{name} {self.tag}",
                timezone="UTC",
            )
            interview_types.set_coach_types(coach.id, [self.slug])
            for weekday in range(7) if hours else ():
                db.session.add(
                    AvailabilityRule(
                        coach_id=coach.id, weekday=weekday, start_time=hours[0], end_time=hours[1]
                    )
                )
            for start in slots:
                extra_hours(coach.id, start)
            db.session.commit()
            return int(coach.id)

    def learner(self, name: str = "Lou", tz: str = "UTC") -> tuple[int, str]:
        with self.app.app_context():
            email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
            user = accounts.create_user(
                email=email, password=PASSWORD, role="learner", name=f"{name} Learner", timezone=tz
            )
            db.session.commit()
            return int(user.id), email

    def book(self, learner_id: int, start: dt.datetime) -> int:
        with self.app.app_context():
            booking, _ = booking_service.book(
                learner_id, booking_service.BookingRequest(type=self.slug, start=start)
            )
            db.session.commit()
            return int(booking.id)

    def cancel(self, booking_id: int, learner_id: int) -> None:
        with self.app.app_context():
            booking_service.cancel(booking_id, learner_id)
            db.session.commit()

    def configure(self, **changes: Any) -> None:
        with self.app.app_context():
            interview_types.configure(self.slug, changes)
            db.session.commit()

    def bookings_of(self, learner_id: int) -> int:
        with self.app.app_context():
            return int(
                db.session.scalar(
                    select(func.count(Booking.id)).where(Booking.learner_id == learner_id)
                )
            )

    def mail_to(self, learner_id: int, kind: str = "booking_confirmed") -> str:
        """What the worker does with the booking's event, then the learner's email text."""
        with self.app.app_context():
            pending = db.session.scalars(
                select(OutboxEvent.id)
                .where(OutboxEvent.processed_at.is_(None), OutboxEvent.kind == "booking.confirmed")
                .order_by(OutboxEvent.id)
            ).all()
            for event_id in pending:
                notifications.fan_out(event_id)
            db.session.commit()
            return str(
                db.session.scalars(
                    select(Delivery.text_body).where(
                        Delivery.user_id == learner_id, Delivery.kind == kind
                    )
                ).one()
            )

    def match(self) -> int:
        with self.app.app_context():
            made = waitlist.match()
            db.session.commit()
            return made

    def look(self, page: Any, name: str) -> None:
        """The page fits the width (no sideways scroll); with SCREENSHOTS, saved."""
        width = SIZES[self.size]["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        steps.screenshot(page, f"book-{name}-{self.size}", full_page=True)


@pytest.fixture
def world(server_app: Any, size: str) -> Iterator[World]:
    made = World(server_app, size)
    yield made
    made.configure(active=False)  # off the choose-a-type page of the tests that follow


def slot_label(start: dt.datetime, minutes: int = 45) -> str:
    """A slot link's accessible name, for a learner in UTC."""
    end = start + dt.timedelta(minutes=minutes)
    return f"{start:%A %-d %B}, {start:%H:%M} to {end:%H:%M}"


def inside_cutoff() -> dt.datetime:
    """A grid start 12 to 24 hours away: past the minimum notice, inside the cutoff."""
    start = grid_ceil(utcnow() + dt.timedelta(hours=18), 30)
    if start.time() >= dt.time(23):
        start += dt.timedelta(hours=2)  # past the coach's one gap, at midnight
    return start


def outside_cutoff() -> dt.datetime:
    return dt.datetime.combine(utcnow().date() + dt.timedelta(days=3), dt.time(10), tzinfo=dt.UTC)


def open_week_of(page: Any, world: World, start: dt.datetime) -> None:
    page.goto(f"/learn/bookings/new?type={world.slug}&week={start.date().isoformat()}")
    expect(page.get_by_role("heading", name=f"Pick a time for {world.name}")).to_be_visible()


# --- 1. a slot inside the cutoff is final, and said so at every step -----------------------------


def test_a_late_slot_is_said_to_be_final_on_the_confirm_page_the_booking_and_the_email(
    page: Any, world: World
) -> None:
    world.coach("Ada")
    learner_id, email = world.learner()
    sign_in(page, email, PASSWORD)
    start = inside_cutoff()
    open_week_of(page, world, start)
    world.look(page, "picker")
    page.get_by_role("link", name=slot_label(start), exact=True).click()

    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    expect(page.get_by_test_id("confirm-coach")).to_have_text(f"Ada {world.tag}")
    expect(page.get_by_test_id("confirm-changes")).to_contain_text(
        "This time is less than 24 hours away: once booked it cannot be moved or cancelled online"
    )
    world.look(page, "confirm-late")
    page.get_by_role("button", name="Confirm booking").click()

    expect(page.get_by_text(f"Booked with Ada {world.tag}.")).to_be_visible()
    expect(page.get_by_test_id("change-rule")).to_have_text(
        re.compile(
            r"booked less than 24 hours before it starts, so it cannot be moved or cancelled"
        )
    )
    expect(page.get_by_text("Changes closed at")).to_have_count(0)
    expect(page.get_by_role("link", name="Cancel booking")).to_have_count(0)
    world.look(page, "detail-late")
    body = world.mail_to(learner_id)
    assert "less than 24 hours away, so it cannot be moved or cancelled online" in body
    assert "You can cancel or move it" not in body


# --- 2. bad starts and the horizon, on the picker ------------------------------------------------


def test_bad_starts_are_answered_on_the_picker_and_the_horizon_is_named(
    page: Any, world: World
) -> None:
    world.coach("Bea")
    world.configure(horizon_days=14)
    _, email = world.learner()
    sign_in(page, email, PASSWORD)

    def confirm(start: dt.datetime) -> None:
        query = urlencode({"type": world.slug, "start": start.isoformat()})
        page.goto(f"/learn/bookings/new/confirm?{query}")

    confirm(grid_ceil(utcnow() - dt.timedelta(hours=3), 30))
    expect(page.get_by_role("heading", name=f"Pick a time for {world.name}")).to_be_visible()
    expect(page.get_by_text("This time is in the past.")).to_be_visible()
    confirm(outside_cutoff() + dt.timedelta(minutes=10))
    expect(page.get_by_text("Sessions start on the 30-minute grid")).to_be_visible()
    confirm(outside_cutoff() + dt.timedelta(days=20))
    expect(page.get_by_text("Book at most 14 days ahead")).to_be_visible()
    expect(page.get_by_role("heading", name="Confirm your booking")).to_have_count(0)

    page.goto(f"/learn/bookings/new?type={world.slug}")
    last = (utcnow() + dt.timedelta(days=14)).date()
    if world.size == "desk":
        # Week by week to the horizon: the last week has no later one.
        for _ in range(3):
            later = page.get_by_role("link", name="Later →")
            if not later.count():
                break
            before = page.url
            later.click()
            page.wait_for_url(lambda url, before=before: url != before)
        expect(page.get_by_role("link", name="Later →")).to_have_count(0)
        expect(page.get_by_text(re.compile(r"^Bookable until \d+ \w+$"))).to_be_visible()
    else:
        # Month by month to the horizon's: no later month, its days past the horizon disabled.
        if last.month != utcnow().month:
            page.get_by_role("link", name=re.compile(rf"^{last:%B} →$")).click()
            expect(page.get_by_role("heading", name=f"{last:%B %Y}")).to_be_visible()
        expect(page.get_by_text(f"Until {last:%-d %b}", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=re.compile(rf"^{last:%A %-d %B}: "))).to_be_visible()
        after = last + dt.timedelta(days=1)
        expect(page.get_by_role("link", name=re.compile(rf"^{after:%A %-d %B}"))).to_have_count(0)
        if after.month == last.month:
            expect(page.get_by_text(f"after {last:%-d %B}: not bookable yet")).to_be_visible()
        world.look(page, "month-horizon")
    # Past it, the horizon is named.
    beyond = utcnow().date() + dt.timedelta(days=20)
    page.goto(f"/learn/bookings/new?type={world.slug}&week={beyond.isoformat()}")
    expect(page.get_by_role("heading", name="Bookings open up to 2 weeks ahead")).to_be_visible()
    expect(page.get_by_text("No free times this week")).to_have_count(0)
    expect(page.get_by_role("link", name="Later →")).to_have_count(0)
    world.look(page, "beyond-horizon")
    page.get_by_role("link", name="See the last week you can book").click()
    expect(page.locator("a.slot:visible").first).to_be_visible()


# --- 3. Back after booking, then confirm again ---------------------------------------------------


def test_back_after_booking_then_confirm_again_links_to_the_booking(
    page: Any, world: World
) -> None:
    world.coach("Cy")
    learner_id, email = world.learner()
    sign_in(page, email, PASSWORD)
    start = outside_cutoff()
    open_week_of(page, world, start)
    page.get_by_role("link", name=slot_label(start), exact=True).click()
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    expect(page.get_by_test_id("confirm-changes")).to_contain_text(
        "You can cancel or move it until"
    )
    confirm_url = page.url
    # The same confirm page, open in a second tab since before the booking.
    stale = page.context.new_page()
    stale.goto(confirm_url)
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    detail = page.url

    page.go_back()
    page.reload()
    expect(page.get_by_role("heading", name="You already booked this time")).to_be_visible()
    world.look(page, "already-booked")
    stale.get_by_role("button", name="Confirm booking").click()
    expect(stale.get_by_test_id("already-booked")).to_contain_text(
        "You already booked this time — see your booking"
    )
    expect(stale.get_by_text("overlaps")).to_have_count(0)
    stale.get_by_role("link", name="see your booking").click()
    assert stale.url == detail
    assert world.bookings_of(learner_id) == 1


# --- 4. calendar links, Join, and cancelling in a dialog (or a page, without JavaScript) ---------


def test_the_booking_adds_to_calendars_joins_and_cancels_in_a_dialog(
    page: Any, world: World
) -> None:
    world.coach("Dee")
    learner_id, email = world.learner()
    start = outside_cutoff()
    booking_id = world.book(learner_id, start)
    sign_in(page, email, PASSWORD)
    page.goto(f"/learn/bookings/{booking_id}")

    google = page.get_by_role("link", name=re.compile("^Google Calendar"))
    query = parse_qs(urlsplit(google.get_attribute("href")).query)
    assert google.get_attribute("href").startswith("https://calendar.google.com/calendar/render?")
    assert query["action"] == ["TEMPLATE"]
    assert query["dates"][0].startswith(f"{start:%Y%m%dT%H%M%SZ}/")
    outlook = page.get_by_role("link", name=re.compile("^Outlook"))
    assert outlook.get_attribute("href").startswith(
        "https://outlook.live.com/calendar/0/deeplink/compose?"
    )
    ics = page.get_by_role("link", name="Apple / other (.ics)")
    assert ics.get_attribute("href") == f"/learn/bookings/{booking_id}/calendar.ics"
    join = page.get_by_role("link", name=re.compile("^Join the session"))
    expect(join).to_be_visible()
    assert join.get_attribute("href").startswith("https://meet.jit.si/")
    world.look(page, "detail")

    # The cancel question opens in the page: a modal dialog, Escape closes it, focus comes back.
    opener = page.get_by_role("link", name="Cancel booking")
    opener.click()
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    expect(dialog).to_be_visible()
    world.look(page, "cancel-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    opener.click()
    dialog.get_by_role("button", name="Keep booking").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    opener.click()
    dialog.get_by_label("Reason (optional)").fill("Plans changed.")
    dialog.get_by_role("button", name="Cancel booking").click()

    expect(page.get_by_text("Cancelled. The calendar event will be removed.")).to_be_visible()
    expect(page.get_by_test_id("booking-status")).to_have_text("Cancelled")
    for name in ("Google Calendar", "Outlook", "Apple / other (.ics)", "Join the session"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    expect(page.get_by_role("link", name="Cancel booking")).to_have_count(0)


def test_without_javascript_cancelling_asks_on_a_page_of_its_own(
    browser: Any, base_url: str, world: World, size: str
) -> None:
    world.coach("Eli")
    learner_id, email = world.learner()
    booking_id = world.book(learner_id, outside_cutoff())
    context = browser.new_context(
        base_url=base_url, java_script_enabled=False, viewport=SIZES[size]
    )
    page = context.new_page()
    try:
        sign_in(page, email, PASSWORD)
        page.goto(f"/learn/bookings/{booking_id}")
        page.get_by_role("link", name="Cancel booking").click()
        expect(page.get_by_role("heading", name="Cancel this session?", level=1)).to_be_visible()
        world.look(page, "cancel-page")
        page.get_by_role("button", name="Cancel booking").click()
        expect(page.get_by_test_id("booking-status")).to_have_text("Cancelled")
    finally:
        context.close()


# --- 5. the waitlist: days a coach works, and a time of day --------------------------------------


def test_the_waitlist_offers_worked_days_and_honours_the_time_of_day(
    page: Any, world: World
) -> None:
    day = utcnow().date() + dt.timedelta(days=4)
    early = dt.datetime.combine(day, dt.time(4), tzinfo=dt.UTC)
    late = dt.datetime.combine(day, dt.time(14), tzinfo=dt.UTC)
    world.coach("Fay", hours=None, slots=(early, late))  # two sessions, on one day
    holder_id, _ = world.learner("Hal")
    held = [world.book(holder_id, start) for start in (early, late)]
    _, email = world.learner()
    sign_in(page, email, PASSWORD)
    page.goto(f"/learn/bookings/new?type={world.slug}")

    choose = page.get_by_label("Which day?")
    options = choose.locator("option").all_inner_texts()
    assert options == ["Any day in the next 30 days", f"{day:%A %-d %B}"]  # the one worked day
    choose.select_option(day.isoformat())
    page.get_by_label("Afternoons (12:00–17:00)").check()
    world.look(page, "waitlist-form")
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_text("You are on the waitlist.")).to_be_visible()
    entry = page.get_by_role("heading", name=f"{world.name} on {day:%A %-d %B}, afternoons")
    expect(entry).to_be_visible()

    world.cancel(held[0], holder_id)  # 04:00 frees: not an afternoon
    world.match()
    page.reload()
    expect(page.get_by_text("Waiting since")).to_be_visible()
    expect(page.get_by_role("button", name="Accept this slot")).to_have_count(0)
    world.cancel(held[1], holder_id)  # 14:00 frees: held for this learner
    assert world.match() >= 1
    page.reload()
    expect(page.get_by_text(re.compile(r"A slot is held for you until"))).to_be_visible()
    expect(page.locator(".offer")).to_contain_text(f"{late:%H:%M}")
    world.look(page, "waitlist-offer")
    page.get_by_role("button", name="Accept this slot").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    expect(page.get_by_test_id("booking-when")).to_contain_text(f"{late:%H:%M}")


# --- 6. the booker: a week at a desk, a month and a day on a phone -------------------------------


def in_zone(start: dt.datetime, tz: str, minutes: int = 45) -> str:
    """A slot link's accessible name, for a learner viewing ``tz`` (on the 24-hour clock)."""
    local, end = start.astimezone(ZoneInfo(tz)), (start + dt.timedelta(minutes=minutes))
    return f"{local:%A %-d %B}, {local:%H:%M} to {end.astimezone(ZoneInfo(tz)):%H:%M}"


def arrive(page: Any, heading: str) -> None:
    """The page a click led to, with its stylesheet: the booker's week and its day (a desk's and a
    phone's) are both in the page, and only the CSS shows one."""
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    page.wait_for_load_state("load")


def pick_day(page: Any, day: dt.date) -> None:
    """On a phone: the day in the month (a month on, if need be), and wait for its times."""
    link = page.get_by_role("link", name=re.compile(rf"^{day:%A %-d %B}: \d+ free times?$"))
    if not link.count():
        page.get_by_role("link", name=re.compile(rf"^{day:%B} →$")).click()
        expect(page.get_by_role("heading", name=f"{day:%B %Y}")).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", name=f"{day:%A %-d %B}", level=2)).to_be_visible()


def test_the_booker_is_a_week_at_a_desk_and_a_month_and_a_day_on_a_phone(
    page: Any, world: World
) -> None:
    """The demo's Behavioral sessions, as a learner in New York sees them (the screenshots for
    the docs, with SCREENSHOTS)."""
    _, email = world.learner("Nia", tz="America/New_York")
    sign_in(page, email, PASSWORD)
    page.goto("/learn/bookings/new?type=behavioral")
    expect(page.get_by_test_id("zone-now")).to_contain_text("Times in America/New York")
    week, month = page.locator(".booker-week"), page.locator(".booker-month")
    if world.size == "desk":
        expect(week).to_be_visible()
        expect(month).to_be_hidden()
        expect(page.locator(".booker-day")).to_be_hidden()
        expect(page.locator(".slot-day").first).to_be_visible()
    else:
        expect(week).to_be_hidden()
        expect(month).to_be_visible()
        expect(month.get_by_role("table")).to_be_visible()
        chosen = month.locator("a[aria-current='true']")
        expect(chosen).to_have_count(1)
        day = dt.date.fromisoformat(chosen.get_attribute("data-day"))
        times = page.locator(".booker-day")
        expect(times.get_by_role("heading", name=f"{day:%A %-d %B}")).to_be_visible()
        expect(times.locator("a.slot").first).to_be_visible()
        # A day's times, not the week's: the page is a screen or two, not 2,700 px of buttons.
        assert page.evaluate("document.documentElement.scrollHeight") < 2000
    world.look(page, "booker")


def test_a_phone_books_through_the_month_with_the_keyboard_and_the_day_is_kept(
    page: Any, world: World
) -> None:
    world.coach("Gus")
    learner_id, email = world.learner()
    sign_in(page, email, PASSWORD)
    start = outside_cutoff()
    page.goto(f"/learn/bookings/new?type={world.slug}")
    if world.size == "desk":  # at a desk, the week: the month is not shown
        expect(page.locator(".booker-month")).to_be_hidden()
        open_week_of(page, world, start)
    else:
        # The day before, by the keyboard: a day link focused, the arrow key to the next day
        # with free times, Enter shows its times in place, the focus on them.
        day = page.get_by_role("link", name=re.compile(rf"^{start:%A %-d %B}: "))
        before = page.get_by_role(
            "link", name=re.compile(rf"^{start - dt.timedelta(days=1):%A %-d %B}: ")
        )
        if not (day.count() and before.count()):  # not both this month: by the month's links
            pick_day(page, start.date())
        else:
            first = page.locator(".booker-month a[aria-current='true']").get_attribute("data-day")
            before.focus()
            page.keyboard.press("ArrowRight")
            expect(day).to_be_focused()
            shown = page.url
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name=f"{start:%A %-d %B}", level=2)).to_be_focused()
            assert page.url != shown and f"day={start.date().isoformat()}" in page.url
            expect(day).to_have_attribute("aria-current", "true")
            # Back shows the day shown first again, Forward the one picked.
            page.go_back()
            chosen = page.locator(".booker-month a[aria-current='true']")
            expect(chosen).to_have_attribute("data-day", first)
            page.go_forward()
            expect(chosen).to_have_attribute("data-day", start.date().isoformat())
        world.look(page, "month-day")
    page.get_by_role("link", name=slot_label(start), exact=True).click()

    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    expect(page.get_by_test_id("confirm-when")).to_contain_text(f"{start:%a %-d %b %Y, %H:%M} UTC")
    # Back to the picker: the day (a phone's) or the week (a desk's) as it was.
    page.get_by_role("link", name="← Pick another time").click()
    arrive(page, f"Pick a time for {world.name}")
    expect(page.get_by_role("link", name=slot_label(start), exact=True)).to_be_visible()
    page.get_by_role("link", name=slot_label(start), exact=True).click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_text(f"Booked with Gus {world.tag}.")).to_be_visible()
    expect(page.get_by_test_id("booking-when")).to_contain_text(f"{start:%H:%M}")
    assert world.bookings_of(learner_id) == 1


def test_without_javascript_a_phone_picks_a_day_from_the_month(
    browser: Any, base_url: str, world: World, size: str
) -> None:
    world.coach("Hex")
    learner_id, email = world.learner()
    start = outside_cutoff()
    context = browser.new_context(
        base_url=base_url, java_script_enabled=False, viewport=SIZES[size]
    )
    page = context.new_page()
    try:
        sign_in(page, email, PASSWORD)
        page.goto(f"/learn/bookings/new?type={world.slug}")
        if size == "phone":
            pick_day(page, start.date())  # each a page of its own
            assert f"day={start.date().isoformat()}" in page.url
        else:
            open_week_of(page, world, start)
        page.get_by_role("link", name=slot_label(start), exact=True).click()
        page.get_by_role("button", name="Confirm booking").click()
        expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
        assert world.bookings_of(learner_id) == 1
    finally:
        context.close()


# --- 7. the booker in another zone: the times, the confirmation, the account's zone kept ---------


def test_a_booking_made_while_viewing_another_zone_states_that_zones_time(
    page: Any, world: World
) -> None:
    world.coach("Ivo")
    learner_id, email = world.learner()  # in UTC
    sign_in(page, email, PASSWORD)
    start = outside_cutoff()
    open_week_of(page, world, start)
    expect(page.get_by_test_id("zone-now")).to_contain_text("Times in UTC")

    page.get_by_text("Show times in another time zone").click()
    combo = page.get_by_role("combobox", name="Show times in")
    combo.click()
    combo.fill("tokyo")
    option = page.get_by_role("option", name="Asia/Tokyo")
    expect(option.first).to_have_attribute("aria-selected", "true")
    combo.press("Enter")  # picks the zone; the form is sent by its button
    expect(combo).to_have_value(re.compile(r"Asia/Tokyo$"))
    world.look(page, "zone-switch")
    page.get_by_role("button", name="Show times", exact=True).click()
    arrive(page, f"Pick a time for {world.name}")
    expect(page.get_by_test_id("zone-now")).to_contain_text("Times in Asia/Tokyo")
    expect(page.get_by_test_id("zone-now")).to_contain_text("not your own time zone (UTC)")
    assert "tz=Asia%2FTokyo" in page.url or "tz=Asia/Tokyo" in page.url
    world.look(page, "other-zone")

    tokyo = start.astimezone(ZoneInfo("Asia/Tokyo"))
    if world.size == "desk":
        later = page.get_by_role("link", name="Later →")
        if later.count():  # the zone is kept from week to week
            later.click()
            expect(page.get_by_test_id("zone-now")).to_contain_text("Times in Asia/Tokyo")
            page.go_back()
    else:
        pick_day(page, tokyo.date())
        expect(page.get_by_test_id("zone-now")).to_contain_text("Times in Asia/Tokyo")
    slot = page.get_by_role("link", name=in_zone(start, "Asia/Tokyo"), exact=True)
    expect(slot).to_have_text(f"{tokyo:%H:%M}")
    slot.click()

    expect(page.get_by_test_id("confirm-when")).to_contain_text(f"{tokyo:%a %-d %b %Y, %H:%M} JST")
    expect(page.get_by_test_id("confirm-own-zone")).to_contain_text(
        f"{start:%a %-d %b %Y, %H:%M} UTC"
    )
    expect(page.get_by_label("Also make Asia/Tokyo my time zone")).not_to_be_checked()
    world.look(page, "confirm-other-zone")
    page.get_by_role("button", name="Confirm booking").click()

    expect(
        page.get_by_text(
            f"Booked with Ivo {world.tag} for {tokyo:%a %-d %b %Y, %H:%M} JST (Asia/Tokyo), "
            f"which is {start:%a %-d %b %Y, %H:%M} UTC in your own time zone, UTC."
        )
    ).to_be_visible()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    with world.app.app_context():
        assert db.session.scalar(select(User.timezone).where(User.id == learner_id)) == "UTC"
    assert world.bookings_of(learner_id) == 1
