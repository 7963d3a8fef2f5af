"""A learner books, reschedules and cancels a mock interview in a real browser; a coach sees it."""

import re

from playwright.sync_api import expect

from tests.e2e.steps import first_week_with_slots, later_week, sign_in, sign_out


def test_a_learner_books_reschedules_and_cancels_in_the_browser(page):
    sign_in(page, "learner.lin@example.com", "learner-demo-pass")

    page.get_by_role("link", name="Interviews").click()
    expect(page.get_by_role("heading", name="Mock interviews", level=1)).to_be_visible()
    page.get_by_role("link", name="Book a mock interview").click()
    page.get_by_role("link", name="Coding").click()
    expect(page.get_by_role("heading", name="Pick a time for Coding")).to_be_visible()
    # Next week: well outside the 24-hour cutoff, so the booking can still be changed.
    later_week(page)
    first_week_with_slots(page)
    # Slots are grouped by day, each day a heading, each slot a labelled link.
    day_heading = page.locator(".slot-day h2").first
    expect(day_heading).to_have_text(re.compile(r"^\w+day \d+ \w+$"))
    slot = page.locator(".booker-week a.slot").first
    chosen = slot.get_attribute("aria-label")
    slot.click()

    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    page.get_by_label("Notes for your coach (optional)").fill("Dynamic programming, please.")
    page.get_by_role("button", name="Confirm booking").click()

    expect(
        page.get_by_text(re.compile(r"^Booked with .+\. We sent you a confirmation"))
    ).to_be_visible()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    booked_when = page.get_by_test_id("booking-when").inner_text()
    assert chosen.split(",")[1].strip()[:5] in booked_when  # the time picked is the time booked
    expect(page.get_by_text("Dynamic programming, please.")).to_be_visible()
    expect(page.get_by_role("link", name="Apple / other (.ics)")).to_be_visible()
    detail_url = page.url

    page.get_by_role("link", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Move your Coding session")).to_be_visible()
    expect(page.locator(".booker-week").get_by_text("(now)")).to_be_visible()
    page.locator(".booker-week a.slot").last.click()
    expect(page.get_by_role("heading", name="Move your session")).to_be_visible()
    page.get_by_role("button", name="Confirm the new time").click()

    expect(page.get_by_text("Moved. Your calendar invitation is updated.")).to_be_visible()
    assert page.url == detail_url
    moved_when = page.get_by_test_id("booking-when").inner_text()
    assert moved_when != booked_when
    expect(page.get_by_text("You can move it 1 more time.")).to_be_visible()

    page.get_by_role("link", name="Cancel booking").click()  # asks in a dialog first
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    dialog.get_by_label("Reason (optional)").fill("Plans changed.")
    dialog.get_by_role("button", name="Cancel booking").click()
    expect(page.get_by_text("Cancelled. The calendar event will be removed.")).to_be_visible()
    expect(page.get_by_test_id("booking-status")).to_have_text("Cancelled")
    expect(page.get_by_role("link", name="Cancel booking")).to_have_count(0)

    page.get_by_role("link", name="← Your interviews").click()
    expect(page.get_by_role("cell", name=re.compile("cancelled"))).to_be_visible()

    # Narrow screens: the slot page reflows instead of scrolling sideways.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/learn/bookings/new?type=coding")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_coach_sees_the_week_and_a_booked_session(page):
    sign_in(page, "learner.omar@example.com", "learner-demo-pass")
    page.goto("/learn/bookings/new?type=ml-system-design")  # only Ada runs system design
    first_week_with_slots(page)
    page.locator(".booker-week a.slot").first.click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    sign_out(page)

    sign_in(page, "coach.ada@example.com", "coach-demo-pass")
    page.get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("cell", name="Omar Learner")).to_be_visible()
    page.get_by_role("link", name="Availability", exact=True).first.click()
    expect(page.get_by_role("heading", name="Your availability")).to_be_visible()
    calendar = page.get_by_role("table")
    expect(calendar.first).to_be_visible()
    # The week with the session shows it as a booked cell that links to the session.
    for _ in range(5):
        if page.locator("td.cal-booked").count():
            break
        page.get_by_role("link", name="Next week →").click()
    # The weekly hours form labels every field, for screen readers and keyboards.
    expect(page.get_by_label("Monday from", exact=True)).to_have_value("09:00")
    expect(page.get_by_label("Friday until", exact=True)).to_have_value("17:00")
    booked = page.locator("td.cal-booked a").first
    expect(booked).to_have_text("Omar Learner")
    booked.click()
    expect(
        page.get_by_role("heading", name=re.compile("ML system design with Omar Learner"))
    ).to_be_visible()
