"""The booker's pages: times in another zone (``?tz=``), kept across the weeks and the days, stated
on the confirm page and after booking, the learner's own zone kept unless they save the other; a
refused zone (unknown, an old name, not a place's) said so with nothing changed; and, for a
phone, a month to pick a day from and that day's times, all without JavaScript."""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from services.booking import interview_types
from services.db import db
from services.models import Booking, User
from tests.support_auth import csrf_token, sign_in
from tests.support_booking import at, future_weekday, insert_booking, make_coach, seed_types

BERLIN, NEW_YORK, TOKYO = "Europe/Berlin", "America/New_York", "Asia/Tokyo"


@pytest.fixture
def world(db_session, make_user):
    """A coach in Berlin (Monday to Friday, 9 to 5 there) and a learner in New York."""
    seed_types()
    coach = make_coach(make_user, BERLIN, name="Casey Coach")
    learner = make_user("learner", timezone=NEW_YORK, name="Lee Learner")
    return {"coach": coach, "learner": learner}


def text(response):
    return html.unescape(response.get_data(as_text=True))


def hrefs(page: str, path: str) -> list[str]:
    return re.findall(r'href="(' + re.escape(path) + r'[^"]*)"', page)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def part(page: str, name: str) -> str:
    """One part of the booker: "week" (a desk's), "month" or "day" (a phone's)."""
    starts = {
        "week": '<div class="booker-week">',
        "month": '<section class="booker-month"',
        "day": '<section class="booker-day"',
    }
    begin = page.index(starts[name])
    ends = [page.find(marker, begin + 1) for marker in (*starts.values(), "</main>")]
    return page[begin : min(e for e in ends if e > 0)]


def off(day: dt.date, state: str, reason: str, chosen: bool = False) -> str:
    """A day of the month grid that is not a link, with the reason a screen reader hears."""
    classes = f"day day-{state}" + (" day-chosen" if chosen else "")
    return f'<span class="{classes}">{day.day}<span class="visually-hidden">: {reason}</span>'


def start_of(url: str) -> dt.datetime:
    return dt.datetime.fromisoformat(query(url)["start"][0])


def hm(moment: dt.datetime, tz: str, fmt: str = "%H:%M") -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(tz)).strftime(fmt)


def timezone_of(user) -> str:
    return db.session.scalar(select(User.timezone).where(User.id == user.id))


def bookings_of(user) -> int:
    return db.session.scalar(select(func.count(Booking.id)).where(Booking.learner_id == user.id))


def booker(**args: str) -> str:
    return "/learn/bookings/new?" + urlencode({"type": "coding", **args})


# --- 1. another zone: shown, kept, stated; the account's left alone -----------------------------


def test_the_booker_shows_the_times_in_another_zone_and_every_link_keeps_it(client, world):
    sign_in(client, world["learner"].email)
    day = future_weekday(3, BERLIN)
    first = at(day, 9, tz=BERLIN)  # the coach's first slot of the day
    page = text(client.get(booker(week=day.isoformat(), tz=TOKYO)))

    assert "Times in Asia/Tokyo" in page and "not your own time zone (America/New York)" in page
    week = part(page, "week")
    label = f"{hm(first, TOKYO, '%A %-d %B')}, {hm(first, TOKYO)} to "
    assert f'aria-label="{label}' in week and f">{hm(first, TOKYO)}<" in week
    assert f">{hm(first, NEW_YORK)}<" not in week  # not the learner's own zone's time

    # The weeks, the days, the months and the slots all keep the zone; the way back drops it.
    (own,) = re.findall(r'<a href="([^"]+)">Show times in America/New York</a>', page)
    assert "tz" not in query(own) and query(own)["week"] == [day.isoformat()]
    others = [url for url in hrefs(page, "/learn/bookings/new?") if url != own]
    assert len(others) > 20  # the weeks, the month's days (a phone's), its next month
    assert all(query(url)["tz"] == [TOKYO] for url in others)
    slots = hrefs(page, "/learn/bookings/new/confirm?")
    assert slots and all(query(url)["tz"] == [TOKYO] for url in slots)
    assert any(start_of(url) == first for url in slots)
    # The switcher's select holds the zone shown; its form keeps the week and the type.
    assert re.search(
        r'<option[^>]*selected[^>]*value="Asia/Tokyo"|value="Asia/Tokyo"[^>]*selected', page
    )
    assert '<input type="hidden" name="type" value="coding">' in page
    assert f'<input type="hidden" name="week" value="{day.isoformat()}">' in page
    assert timezone_of(world["learner"]) == NEW_YORK

    # Its own zone: no switcher state in the links, the learner's own times.
    mine = text(client.get(booker(week=day.isoformat())))
    assert "Times in America/New York" in mine and "your time zone" in mine
    assert f">{hm(first, NEW_YORK)}<" in part(mine, "week")
    assert all("tz" not in query(url) for url in hrefs(mine, "/learn/bookings/new"))


def test_the_times_in_another_zone_follow_the_learners_12_hour_clock(client, world, make_user):
    learner = make_user("learner", timezone=NEW_YORK, clock="12h")
    sign_in(client, learner.email)
    day = future_weekday(3, BERLIN)
    first = at(day, 9, tz=BERLIN)
    page = text(client.get(booker(week=day.isoformat(), tz=TOKYO)))
    twelve = hm(first, TOKYO, "%-I:%M %p")
    assert f">{twelve}<" in part(page, "week") and f">{twelve}<" in part(page, "day")
    # That slot's own link (the week's first may be another day's: notice rules out early ones).
    link = next(u for u in hrefs(page, "/learn/bookings/new/confirm?") if start_of(u) == first)
    confirm = text(client.get(link))
    assert twelve in confirm and hm(first, TOKYO) not in confirm.replace(twelve, "")


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        (
            "Mars/Olympus_Mons",
            'Pick a time zone from the list: type a city or country, e.g. "Berlin".',
        ),
        ("US/Eastern", "US/Eastern is another name for America/New York: pick that instead."),
        ("Asia/Calcutta", "Asia/Calcutta is another name for Asia/Kolkata: pick that instead."),
        ("Etc/GMT-9", "Etc/GMT-9 is not the time zone of a place: pick the city or country"),
    ],
    ids=["unknown", "old-name", "old-name-of-another", "not-a-place"],
)
def test_a_refused_zone_is_said_so_and_the_learners_own_is_shown(client, world, zone, message):
    sign_in(client, world["learner"].email)
    day = future_weekday(3, BERLIN)
    first = at(day, 9, tz=BERLIN)
    response = client.get(booker(week=day.isoformat(), tz=zone))
    page = text(response)
    assert response.status_code == 400
    assert message in page
    assert 'aria-invalid="true"' in page and '<details class="zone-switch" open>' in page
    assert "Times in America/New York" in page
    assert f">{hm(first, NEW_YORK)}<" in part(page, "week")
    assert all("tz" not in query(url) for url in hrefs(page, "/learn/bookings/new"))
    assert timezone_of(world["learner"]) == NEW_YORK

    # The confirm page refuses it too, back on the picker with the message; nothing booked.
    url = "/learn/bookings/new/confirm?" + urlencode(
        {"type": "coding", "start": first.isoformat(), "tz": zone}
    )
    refused = client.get(url)
    assert refused.status_code == 302
    assert "tz" not in query(refused.headers["Location"])
    assert message in text(client.get(refused.headers["Location"]))
    posted = client.post(url, data={"csrf_token": csrf_token(client, booker()), "save_zone": "y"})
    assert posted.status_code == 302
    assert bookings_of(world["learner"]) == 0 and timezone_of(world["learner"]) == NEW_YORK


def test_the_learners_own_old_zone_name_is_no_refusal(client, db_session, make_user):
    seed_types()
    make_coach(make_user, BERLIN)
    learner = make_user("learner", timezone=NEW_YORK)
    db.session.execute(
        User.__table__.update().where(User.id == learner.id).values(timezone="US/Eastern")
    )
    db.session.commit()
    sign_in(client, learner.email)
    response = client.get(booker(tz="US/Eastern"))
    assert response.status_code == 200
    assert "Times in US/Eastern" in text(response)


def test_booking_in_another_zone_states_it_and_keeps_the_account_zone(client, world):
    sign_in(client, world["learner"].email)
    day = future_weekday(3, BERLIN)
    first, second = at(day, 9, tz=BERLIN), at(day, 11, tz=BERLIN)
    page = text(client.get(booker(week=day.isoformat(), tz=TOKYO)))
    url = next(u for u in hrefs(page, "/learn/bookings/new/confirm?") if start_of(u) == first)

    confirm = text(client.get(url))
    when = re.search(r'data-testid="confirm-when">(.*?)</dd>', confirm, re.S).group(1)
    assert hm(first, TOKYO, "%a %-d %b %Y, %H:%M JST") in when and "(Asia/Tokyo)" in when
    own = re.search(r'data-testid="confirm-own-zone">(.*?)</dd>', confirm, re.S).group(1)
    assert hm(first, NEW_YORK, "%H:%M") in own and "(America/New York)" in own
    assert "Also make Asia/Tokyo my time zone" in confirm
    back = re.search(r'<a href="([^"]+)">← Pick another time</a>', confirm).group(1)
    assert query(back)["tz"] == [TOKYO] and query(back)["week"] == [day.isoformat()]

    booked = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert booked.status_code == 302
    flash = text(client.get(booked.headers["Location"]))
    assert (
        f"Booked with Casey Coach for {hm(first, TOKYO, '%a %-d %b %Y, %H:%M JST')} (Asia/Tokyo), "
        f"which is {hm(first, NEW_YORK, '%a %-d %b %Y, %H:%M %Z')} in your own time zone, "
        "America/New York."
    ) in flash
    assert timezone_of(world["learner"]) == NEW_YORK

    # The second, with "make it my zone" ticked: the account's zone is Tokyo's from then on.
    url = next(u for u in hrefs(page, "/learn/bookings/new/confirm?") if start_of(u) == second)
    saved = client.post(url, data={"csrf_token": csrf_token(client, url), "save_zone": "y"})
    assert saved.status_code == 302
    assert bookings_of(world["learner"]) == 2 and timezone_of(world["learner"]) == TOKYO
    assert "your time zone is now Asia/Tokyo" in text(client.get(saved.headers["Location"]))


def test_a_refused_booking_leaves_the_zone_as_it_was(client, world, make_user):
    """ "Make it my zone" is part of the booking: a booking refused (the slot just taken) saves
    nothing."""
    sign_in(client, world["learner"].email)
    day = future_weekday(3, BERLIN)
    first = at(day, 9, tz=BERLIN)
    url = "/learn/bookings/new/confirm?" + urlencode(
        {"type": "coding", "start": first.isoformat(), "tz": TOKYO}
    )
    token = csrf_token(client, url)
    insert_booking(make_user("learner").id, world["coach"].id, first)
    db.session.commit()
    refused = client.post(url, data={"csrf_token": token, "save_zone": "y"})
    assert refused.status_code == 302
    assert query(refused.headers["Location"])["tz"] == [TOKYO]  # back on the picker, in Tokyo
    assert "This slot was just taken." in text(client.get(refused.headers["Location"]))
    assert bookings_of(world["learner"]) == 0 and timezone_of(world["learner"]) == NEW_YORK


def test_moving_a_booking_shows_and_states_the_other_zone(client, world):
    sign_in(client, world["learner"].email)
    day = future_weekday(3, BERLIN)
    start = at(day, 10, tz=BERLIN)
    url = "/learn/bookings/new/confirm?" + urlencode({"type": "coding", "start": start.isoformat()})
    booked = client.post(url, data={"csrf_token": csrf_token(client, url)})
    booking_id = int(booked.headers["Location"].rsplit("/", 1)[1])

    page = text(client.get(f"/learn/bookings/{booking_id}/reschedule?tz={TOKYO}"))
    assert "Times in Asia/Tokyo" in page
    assert f">{hm(start, TOKYO)} (now)<" in part(page, "week")
    assert f">{hm(start, TOKYO)} (now)<" in part(page, "day")  # the phone's day: the booking's
    target = at(day, 14, tz=BERLIN)
    move = next(
        u
        for u in hrefs(page, f"/learn/bookings/{booking_id}/reschedule/confirm?")
        if start_of(u) == target
    )
    assert query(move)["tz"] == [TOKYO]
    confirm = text(client.get(move))
    assert hm(target, TOKYO, "%H:%M JST") in confirm and "In your zone" in confirm
    moved = client.post(move, data={"csrf_token": csrf_token(client, move)})
    flash = text(client.get(moved.headers["Location"]))
    assert f"The new time: {hm(target, TOKYO, '%a %-d %b %Y, %H:%M JST')} (Asia/Tokyo)" in flash
    assert timezone_of(world["learner"]) == NEW_YORK


# --- 2. a phone's booker: a month of days, one day's times (server-side, no JavaScript) ---------


def test_a_day_asked_for_shows_its_times_and_the_month_marks_the_free_days(client, world):
    sign_in(client, world["learner"].email)
    day = future_weekday(3, BERLIN)
    first = at(day, 9, tz=BERLIN)
    page = text(client.get(booker(day=day.isoformat(), tz=BERLIN)))
    times = part(page, "day")
    assert f'<h2 id="times-heading" tabindex="-1">{day:%A %-d %B}</h2>' in times
    assert f'aria-label="{day:%A %-d %B}, 09:00 to 09:45"' in times and ">16:00<" in times
    assert all(
        query(url)["day"] == [day.isoformat()]
        for url in hrefs(times, "/learn/bookings/new/confirm?")
    )
    assert any(start_of(url) == first for url in hrefs(times, "/learn/bookings/new/confirm?"))

    month = part(page, "month")
    assert f'<h2 id="month-heading" tabindex="-1">{day:%B %Y}</h2>' in month
    chosen = re.search(
        r'<a class="day day-free day-chosen[^"]*" href="([^"]+)"[^>]*aria-current="true"', month
    )
    assert chosen and query(chosen.group(1))["day"] == [day.isoformat()]
    assert query(chosen.group(1))["tz"] == [BERLIN]  # the zone asked for, kept
    links = dict(re.findall(r'data-day="([\d-]+)" aria-label="([^"]+)"', month))
    assert links[day.isoformat()] == f"{day:%A %-d %B}: 15 free times"  # 9:00 to 16:00, half-hourly
    # The coach does not work weekends: those days are not links, and say why; asked for, the
    # day says so too.
    saturday = day + dt.timedelta(days=5 - day.weekday())
    weekend = text(client.get(booker(day=saturday.isoformat(), tz=BERLIN)))
    assert saturday.isoformat() not in re.findall(r'data-day="([\d-]+)"', part(weekend, "month"))
    assert off(saturday, "none", "no free times", chosen=True) in part(weekend, "month")
    assert "No free times on this day: pick another, or join the waitlist" in part(weekend, "day")


def test_the_month_disables_past_days_and_days_past_the_horizon_and_says_why(client, world):
    now = dt.datetime.now(dt.UTC)
    ny = zoneinfo.ZoneInfo(NEW_YORK)
    # A horizon whose last day is not a month's last: the month has days beyond it.
    horizon = next(h for h in (10, 11) if (now + dt.timedelta(days=h + 1)).astimezone(ny).day != 1)
    interview_types.configure("coding", {"horizon_days": horizon})
    db.session.commit()
    sign_in(client, world["learner"].email)
    today = now.astimezone(ny).date()
    last = (now + dt.timedelta(days=horizon)).astimezone(ny).date()
    month = part(text(client.get(booker(month=f"{last:%Y-%m}"))), "month")
    after = last + dt.timedelta(days=1)
    assert off(after, "beyond", "cannot be booked yet") in month
    assert f"after {last:%-d %B}: not bookable yet, Coding opens {horizon} days ahead" in month
    links = re.findall(r'data-day="([\d-]+)"', month)
    assert links and all(today <= dt.date.fromisoformat(d) <= last for d in links)
    if today.month == last.month and today.day > 1:  # the month has days gone by
        assert off(today - dt.timedelta(days=1), "past", "passed") in month
    # No month past the horizon's, none before this one.
    assert f'<span class="meta">Until {last:%-d %b}</span>' in month
    earlier = text(client.get(booker(month=f"{today.replace(day=1) - dt.timedelta(days=1):%Y-%m}")))
    assert f'<h2 id="month-heading" tabindex="-1">{today:%B %Y}</h2>' in part(earlier, "month")

    # A day past the horizon, asked for: its reason, and no times.
    beyond = part(text(client.get(booker(day=after.isoformat()))), "day")
    assert (
        f"This day cannot be booked yet: Coding sessions open up to {horizon} days ahead" in beyond
    )
    assert "/learn/bookings/new/confirm" not in beyond


def test_without_a_day_the_month_opens_on_the_first_free_day_and_steps_by_month(client, world):
    sign_in(client, world["learner"].email)
    day = future_weekday(3, NEW_YORK)
    page = text(client.get(booker(week=day.isoformat())))
    chosen = re.search(r'data-day="([\d-]+)"[^>]*aria-current="true"', part(page, "month"))
    assert chosen and dt.date.fromisoformat(chosen.group(1)) >= day
    first_free = dt.date.fromisoformat(chosen.group(1))
    assert first_free.weekday() < 5
    assert f"{first_free:%A %-d %B}" in part(page, "day")

    # The next month (inside the 30-day horizon): its grid, a way back, the zone and coach kept.
    month = part(page, "month")
    nxt = re.search(
        r'<a href="([^"]+)" data-booker-link>(\w+) <span aria-hidden="true">→</span>', month
    )
    assert nxt, month
    assert query(nxt.group(1))["month"] and nxt.group(1).endswith("#month")
    following = text(client.get(nxt.group(1).split("#")[0]))
    assert f'<h2 id="month-heading" tabindex="-1">{nxt.group(2)} ' in part(following, "month")
    assert '<span aria-hidden="true">←</span>' in part(following, "month")


def test_a_bad_day_or_month_is_ignored(client, world):
    sign_in(client, world["learner"].email)
    for args in ({"day": "2026-02-30"}, {"day": "tomorrow"}, {"month": "2026-13"}, {"month": "x"}):
        response = client.get(booker(**args))
        assert response.status_code == 200, args
        assert '<section class="booker-month"' in text(response)
