"""The coach's own calendars and the slot explainer in Chromium, at a desk's width and a phone's.

Set SCREENSHOTS to a directory to keep screenshots of the pages, to look at."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from services.db import db
from services.models import CalendarFeed, FeedBusy
from tests.e2e.steps import sign_in
from tests.e2e.test_coach_journeys import (
    PASSWORD,
    SIZES,
    TYPE,
    make_coach,
    no_sideways_scroll,
    shot,
)
from tests.support_booking import at, future_weekday

pytestmark = pytest.mark.e2e
BERLIN = "Europe/Berlin"


@pytest.fixture(params=[SIZES[0], pytest.param({"width": 390, "height": 844}, id="390")])
def sized(request: Any, page: Any) -> Any:
    page.set_viewport_size(request.param)
    return page


@pytest.fixture
def coach_with_a_calendar(server_app: Any) -> dict[str, Any]:
    with server_app.app_context():
        coach = make_coach(uuid.uuid4().hex[:6], "Kit")
        day = future_weekday(7, BERLIN)
        start = at(day, 10, tz=BERLIN)
        feed = CalendarFeed(
            coach_id=coach.id,
            name="Day job",
            url="https://cal.example.com/private-secret/basic.ics",
            last_attempt_at=dt.datetime.now(dt.UTC),
            error="The calendar's server answered 404.",
        )
        db.session.add(feed)
        db.session.flush()
        db.session.add(
            FeedBusy(
                feed_id=feed.id,
                coach_id=coach.id,
                start_at=start.astimezone(dt.UTC),
                end_at=(start + dt.timedelta(hours=1)).astimezone(dt.UTC),
            )
        )
        db.session.commit()
        return {"email": coach.email, "day": day.isoformat()}


def test_the_coach_sees_their_calendars_and_asks_why(
    sized: Any, coach_with_a_calendar: dict[str, Any]
) -> None:
    page, world = sized, coach_with_a_calendar
    sign_in(page, world["email"], PASSWORD)
    page.goto("/coach/availability")
    calendars = page.locator("section", has=page.locator("#own-calendars-heading"))
    expect(calendars.get_by_test_id("own-calendar")).to_contain_text("Day job")
    expect(calendars).to_contain_text("Last read failed")
    expect(calendars).not_to_contain_text("private-secret")
    explainer = page.locator("section.slot-explainer")
    explainer.get_by_label("Interview type").select_option(TYPE)
    explainer.get_by_label("Day").fill(world["day"])
    explainer.get_by_label("Start", exact=False).fill("10:00")
    explainer.get_by_role("button", name="Explain").click()
    answer = page.get_by_test_id("explain-answer")
    expect(answer).to_contain_text("busy then on their calendar “Day job”")
    no_sideways_scroll(page)
    calendars.scroll_into_view_if_needed()
    shot(page, "own-calendars")
    explainer.scroll_into_view_if_needed()
    shot(page, "slot-explainer")
