"""Coaches' own calendars, served by a real local HTTP server: recurring series with overrides and
exceptions, cancelled and free events, all-day and multi-day, floating and X-WR-TIMEZONE times,
both daylight-saving changes; conditional requests; and each refusal of the SSRF guard."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from services.booking import busy
from services.booking.availability import SlotQuery, find_slots
from services.db import db
from services.errors import ValidationFailed
from services.models import Booking, FeedBusy, Notification
from tests.support_booking import events, make_coach, process_all, seed_types

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


class Feeds(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def url(self, path: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    server: Feeds

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        status, headers, body = self.server.pages.get(self.path, (404, {}, b"no"))
        etag = headers.get("ETag")
        if status == 200 and etag and self.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feeds():
    server = Feeds()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_localhost(app):
    app.config["CALENDAR_FEED_ALLOWED_HOSTS"] = ["localhost"]
    yield
    app.config["CALENDAR_FEED_ALLOWED_HOSTS"] = []


def ics(*events: str, header: str = "") -> bytes:
    body = "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//feeds//EN", *header.split("|")]
        + [line for e in events for line in ["BEGIN:VEVENT", *e.strip().split("\n"), "END:VEVENT"]]
        + ["END:VCALENDAR", ""]
    )
    return "\r\n".join(line for line in body.split("\r\n") if line.strip() != "" or False).encode()


BERLIN_TZ = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def read(data: bytes, start: dt.datetime, days: int, tz=BERLIN, all_day=False):
    return busy.busy_intervals(
        data, tz, start, start + dt.timedelta(days=days), all_day_blocks=all_day
    )


def test_a_weekly_series_keeps_its_wall_clock_across_both_changes_with_overrides():
    # Every Monday 18:00-19:00 Berlin from 2027-03-15, except 2027-03-29, and the 2027-04-05
    # one moved to 20:00; and an extra RDATE on Wednesday 2027-03-31 18:00.
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        + BERLIN_TZ.replace("\n", "\r\n")
        + "\r\nBEGIN:VEVENT\r\nUID:weekly@test\r\nSUMMARY:Secret title\r\n"
        "DTSTART;TZID=Europe/Berlin:20270315T180000\r\nDTEND;TZID=Europe/Berlin:20270315T190000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20270329T180000\r\n"
        "RDATE;TZID=Europe/Berlin:20270331T180000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:weekly@test\r\nRECURRENCE-ID;TZID=Europe/Berlin:20270405T180000\r\n"
        "DTSTART;TZID=Europe/Berlin:20270405T200000\r\nDTEND;TZID=Europe/Berlin:20270405T210000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    spans = read(data, dt.datetime(2027, 3, 1, tzinfo=UTC), 60)
    local = [(s.astimezone(BERLIN), e.astimezone(BERLIN)) for s, e in spans]
    assert [(s.strftime("%m-%d %H:%M"), e.strftime("%H:%M")) for s, e in local] == [
        ("03-15 18:00", "19:00"),
        ("03-22 18:00", "19:00"),  # before Europe's change (UTC+1)
        ("03-31 18:00", "19:00"),  # RDATE, after it (UTC+2)
        ("04-05 20:00", "21:00"),  # RECURRENCE-ID override
        ("04-12 18:00", "19:00"),
    ]
    assert spans[1][0].hour == 17 and spans[2][0].hour == 16  # the same wall clock, UTC moves


def test_cancelled_free_all_day_multi_day_floating_and_x_wr_timezone():
    data = ics(
        "UID:a\nDTSTART:20261102T150000Z\nDTEND:20261102T160000Z\nSTATUS:CANCELLED",
        "UID:b\nDTSTART:20261102T170000Z\nDTEND:20261102T180000Z\nTRANSP:TRANSPARENT",
        "UID:c\nDTSTART;VALUE=DATE:20261103\nDTEND;VALUE=DATE:20261104",
        "UID:d\nDTSTART:20261105T220000Z\nDTEND:20261107T060000Z",
        # Floating, in the X-WR-TIMEZONE zone: 09:00 New York is 14:00 UTC after 1 November.
        "UID:e\nDTSTART:20261102T090000\nDURATION:PT30M",
        header="X-WR-TIMEZONE:America/New_York",
    )
    start = dt.datetime(2026, 11, 1, tzinfo=UTC)
    spans = read(data, start, 10, tz=BERLIN)
    assert spans == [
        (dt.datetime(2026, 11, 2, 14, tzinfo=UTC), dt.datetime(2026, 11, 2, 14, 30, tzinfo=UTC)),
        (dt.datetime(2026, 11, 5, 22, tzinfo=UTC), dt.datetime(2026, 11, 7, 6, tzinfo=UTC)),
    ]
    # All-day events block when the coach says so: the coach's day, in their zone.
    spans = read(data, start, 10, tz=BERLIN, all_day=True)
    assert (
        dt.datetime(2026, 11, 2, 23, tzinfo=UTC),
        dt.datetime(2026, 11, 3, 23, tzinfo=UTC),
    ) in spans
    # Without X-WR-TIMEZONE a floating time is in the coach's zone.
    plain = ics("UID:e\nDTSTART:20261102T090000\nDURATION:PT30M")
    assert read(plain, start, 10, tz=BERLIN)[0][0] == dt.datetime(2026, 11, 2, 8, tzinfo=UTC)


def test_a_floating_series_across_the_us_autumn_change():
    data = ics("UID:f\nDTSTART:20261029T090000\nDTEND:20261029T100000\nRRULE:FREQ=DAILY;COUNT=5")
    spans = read(data, dt.datetime(2026, 10, 28, tzinfo=UTC), 8, tz=NEW_YORK)
    assert [s.astimezone(NEW_YORK).hour for s, _ in spans] == [9] * 5
    assert [s.hour for s, _ in spans] == [13, 13, 13, 14, 14]


def test_garbage_is_a_clear_error():
    with pytest.raises(busy.FeedError, match="could not be read as iCalendar"):
        read(b"<html>not a calendar</html>", dt.datetime(2027, 1, 1, tzinfo=UTC), 5)


# --- fetching and the feed's record --------------------------------------------------------------


@pytest.fixture
def types(db_session):
    seed_types()


def test_a_feed_is_read_stored_and_blocks_slots(
    types, make_user, feeds, allow_localhost, db_session
):
    coach = make_coach(make_user, "UTC")
    now = dt.datetime(2027, 1, 4, tzinfo=UTC)
    feeds.pages["/cal.ics"] = (
        200,
        {"ETag": '"v1"', "Content-Type": "text/calendar"},
        ics("UID:x\nSUMMARY:Dentist\nDTSTART:20270111T100000Z\nDTEND:20270111T110000Z"),
    )
    feed = busy.add_feed(coach.id, "Day job", feeds.url("/cal.ics"), now=now)
    assert busy.due_feed_ids(now) == [feed.id]
    busy.refresh(feed.id, now)
    assert feed.error is None and feed.last_success_at == now and feed.etag == '"v1"'
    stored = db.session.query(FeedBusy).filter_by(feed_id=feed.id).all()
    assert [(b.start_at.hour, b.end_at.hour) for b in stored] == [(10, 11)]
    starts = {
        s.start
        for s in find_slots(
            SlotQuery("coding", dt.date(2027, 1, 11), dt.date(2027, 1, 11), "UTC", coach.id),
            now=now,
        )
    }
    # 09:00-09:45 and its 15-minute buffer end as the busy hour starts; 09:30 would overlap it.
    assert dt.datetime(2027, 1, 11, 9, tzinfo=UTC) in starts
    assert dt.datetime(2027, 1, 11, 9, 30, tzinfo=UTC) not in starts
    assert dt.datetime(2027, 1, 11, 10, 30, tzinfo=UTC) not in starts
    assert dt.datetime(2027, 1, 11, 11, tzinfo=UTC) in starts
    assert busy.due_feed_ids(now) == []
    # The next read is conditional: 304 keeps the busy times.
    later = now + dt.timedelta(hours=1)
    busy.refresh(feed.id, later)
    assert feeds.requests[-1][1].get("If-None-Match") == '"v1"'
    assert feed.last_success_at == later
    assert db.session.query(FeedBusy).filter_by(feed_id=feed.id).count() == 1
    # A failure keeps the last busy times and says why; the address is shown without its secret.
    feeds.pages.pop("/cal.ics")
    busy.refresh(feed.id, later + dt.timedelta(hours=1))
    assert feed.error == "The calendar's server answered 404."
    assert db.session.query(FeedBusy).filter_by(feed_id=feed.id).count() == 1
    assert busy.display_url(feed.url) == f"http://localhost:{feeds.server_address[1]}/…"


def test_a_clash_with_a_booked_session_is_found(types, make_user, feeds, allow_localhost):
    from services.models import InterviewType

    coach, learner = make_coach(make_user, "UTC"), make_user("learner")
    itype = db.session.query(InterviewType).filter_by(slug="coding").one()
    start = dt.datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + dt.timedelta(days=3)
    booking = Booking(
        uid="clash@test",
        learner_id=learner.id,
        coach_id=coach.id,
        interview_type_id=itype.id,
        start_at=start,
        end_at=start + dt.timedelta(minutes=45),
        block_start_at=start,
        block_end_at=start + dt.timedelta(hours=1),
        meeting_url="https://meet.example.com/x",
    )
    db.session.add(booking)
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    feeds.pages["/c.ics"] = (200, {}, ics(f"UID:y\nDTSTART:{stamp}\nDURATION:PT2H"))
    feed = busy.add_feed(coach.id, "Family", feeds.url("/c.ics"))
    busy.refresh(feed.id)
    assert feed.error is None, feed.error
    assert db.session.query(FeedBusy).filter_by(feed_id=feed.id).count() == 1
    [clash] = busy.clashes([coach.id])
    assert clash.booking.id == booking.id and clash.feed_name == "Family"
    assert db.session.get(Booking, booking.id).status == "confirmed"  # nothing is cancelled

    # The coach and staff are told, once: the next fetches (a new body, or not modified) find
    # the same clash and say nothing more.
    staff = make_user("staff", name="Sam Staff")
    db.session.commit()
    [event] = events("booking.calendar_clash")
    assert event.payload == {"booking_id": booking.id, "feed_id": feed.id}
    process_all()
    told = {
        n.user_id: n
        for n in db.session.scalars(
            select(Notification).where(Notification.kind == "booking_calendar_clash")
        )
    }
    assert set(told) == {coach.id, staff.id} and learner.id not in told
    assert "Family" in told[coach.id].title and "Nothing was cancelled" in told[coach.id].body
    feeds.pages["/c.ics"] = (
        200,
        {},
        ics(f"UID:y\nDTSTART:{stamp}\nDURATION:PT3H", f"UID:w\nDTSTART:{stamp}\nDURATION:PT1H"),
    )
    busy.refresh(feed.id, dt.datetime.now(UTC) + dt.timedelta(minutes=20))
    busy.refresh(feed.id, dt.datetime.now(UTC) + dt.timedelta(minutes=40))
    db.session.commit()
    assert len(events("booking.calendar_clash")) == 1
    # A second session it overlaps is a new clash, told once.
    later = Booking(
        uid="clash-2@test",
        learner_id=learner.id,
        coach_id=coach.id,
        interview_type_id=itype.id,
        start_at=start + dt.timedelta(hours=2),
        end_at=start + dt.timedelta(hours=2, minutes=45),
        block_start_at=start + dt.timedelta(hours=2),
        block_end_at=start + dt.timedelta(hours=3),
        meeting_url="https://meet.example.com/y",
    )
    db.session.add(later)
    feeds.pages["/c.ics"] = (200, {}, ics(f"UID:y\nDTSTART:{stamp}\nDURATION:PT4H"))
    busy.refresh(feed.id, dt.datetime.now(UTC) + dt.timedelta(hours=1))
    db.session.commit()
    assert [e.payload["booking_id"] for e in events("booking.calendar_clash")] == [
        booking.id,
        later.id,
    ]


# --- the SSRF guard ------------------------------------------------------------------------------


def _refresh_error(coach, url):
    feed = busy.add_feed(coach.id, f"Feed {len(busy.list_feeds(coach.id))}", url)
    busy.refresh(feed.id)
    busy.remove_feed(coach.id, feed.id)
    return feed.error


def test_the_guard_refuses_loopback_by_default(types, make_user, feeds):
    coach = make_coach(make_user, "UTC")
    feeds.pages["/cal.ics"] = (200, {}, ics("UID:z\nDTSTART:20270111T100000Z\nDURATION:PT1H"))
    for host in ("127.0.0.1", "localhost"):
        error = _refresh_error(coach, feeds.url("/cal.ics", host))
        assert "private or local network address" in error, error
    assert feeds.requests == []


def test_the_guard_refuses_redirects_to_loopback_schemes_size_and_dead_hosts(
    types, make_user, feeds, allow_localhost, app
):
    coach = make_coach(make_user, "UTC")
    port = feeds.server_address[1]
    feeds.pages["/to-loopback"] = (302, {"Location": f"http://127.0.0.1:{port}/cal.ics"}, b"")
    feeds.pages["/to-metadata"] = (302, {"Location": "http://169.254.169.254/latest/"}, b"")
    feeds.pages["/to-file"] = (302, {"Location": "file:///etc/passwd"}, b"")
    feeds.pages["/loop"] = (302, {"Location": "/loop"}, b"")
    feeds.pages["/cal.ics"] = (200, {}, ics("UID:z\nDTSTART:20270111T100000Z\nDURATION:PT1H"))
    assert "private or local" in _refresh_error(coach, feeds.url("/to-loopback"))
    assert "private or local" in _refresh_error(coach, feeds.url("/to-metadata"))
    assert "http:// or https://" in _refresh_error(coach, feeds.url("/to-file"))
    assert "redirected more than 5 times" in _refresh_error(coach, feeds.url("/loop"))
    assert [p for p, _ in feeds.requests].count("/cal.ics") == 0
    # 50 MB, announced or not: refused at the bound, not read to the end.
    fifty = b"X" * (50 * 1024 * 1024)
    feeds.pages["/big.ics"] = (200, {}, fifty)
    assert "larger than 5 MB" in _refresh_error(coach, feeds.url("/big.ics"))
    app.config["CALENDAR_FEED_MAX_BYTES"] = 1024
    feeds.pages["/unannounced.ics"] = (
        200,
        {"Connection": "close", "Content-Length": ""},
        fifty[:4096],
    )
    try:
        error = _refresh_error(coach, feeds.url("/unannounced.ics"))
    finally:
        app.config["CALENDAR_FEED_MAX_BYTES"] = 5 * 1024 * 1024
    assert "larger than" in error, error
    # An unreachable feed: nothing listens on the port.
    dead = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    dead_port = dead.server_address[1]
    dead.server_close()
    assert "could not be reached" in _refresh_error(coach, f"http://localhost:{dead_port}/x.ics")
    assert "was not found" in _refresh_error(coach, "https://no-such-host.invalid/x.ics")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/cal.ics",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http:///nohost",
        "http://example.com:notaport/x",
    ],
)
def test_addresses_that_are_not_http_are_refused_when_added(types, make_user, url):
    coach = make_coach(make_user, "UTC")
    with pytest.raises(ValidationFailed) as refused:
        busy.add_feed(coach.id, "Bad", url)
    assert "url" in refused.value.errors
    assert busy.list_feeds(coach.id) == []


def test_webcal_is_https_and_credentials_are_not_shown():
    assert busy.normalise_url("webcal://cal.example.com/a.ics") == "https://cal.example.com/a.ics"
    shown = busy.display_url("https://me:hunter2@cal.example.com/private-abc/basic.ics?k=1")
    assert shown == "https://cal.example.com/…"


# --- the pages -----------------------------------------------------------------------------------


def test_the_coach_adds_sees_and_removes_a_calendar_and_staff_see_clashes(
    app, client, types, make_user, feeds, allow_localhost
):
    import re

    from services.models import InterviewType
    from tests.support_auth import post_form, sign_in

    coach, learner = make_coach(make_user, "UTC"), make_user("learner")
    sign_in(client, coach.email)
    url = feeds.url("/private-abc123/basic.ics")
    refused = post_form(
        client,
        "/coach/availability/calendars",
        {"name": "Day job", "url": "file:///etc/passwd"},
        form_page="/coach/availability",
    )
    assert refused.status_code == 422
    assert "http:// or https://" in refused.get_data(as_text=True)
    assert busy.list_feeds(coach.id) == []
    added = post_form(
        client,
        "/coach/availability/calendars",
        {"name": "Day job", "url": url},
        form_page="/coach/availability",
    )
    assert added.status_code == 302
    [feed] = busy.list_feeds(coach.id)
    html = client.get("/coach/availability").get_data(as_text=True)
    assert "Day job" in html and "Not read yet" in html
    assert "private-abc123" not in html  # the secret path is never shown back

    itype = db.session.query(InterviewType).filter_by(slug="coding").one()
    start = dt.datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + dt.timedelta(days=3)
    db.session.add(
        Booking(
            uid="page-clash@test",
            learner_id=learner.id,
            coach_id=coach.id,
            interview_type_id=itype.id,
            start_at=start,
            end_at=start + dt.timedelta(minutes=45),
            block_start_at=start,
            block_end_at=start + dt.timedelta(hours=1),
            meeting_url="https://meet.example.com/x",
        )
    )
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    feeds.pages["/private-abc123/basic.ics"] = (
        200,
        {},
        ics(f"UID:q\nDTSTART:{stamp}\nDURATION:PT1H"),
    )
    busy.refresh(feed.id)
    db.session.commit()
    html = client.get("/coach/availability").get_data(as_text=True)
    assert 'data-testid="clashes"' in html and "Read " in html
    staff_client = app.test_client()
    sign_in(staff_client, make_user("staff").email)
    html = staff_client.get("/staff/sessions").get_data(as_text=True)
    assert 'data-testid="clashes"' in html and "Day job" in html

    feeds.pages.pop("/private-abc123/basic.ics")
    busy.refresh(feed.id)
    db.session.commit()
    html = client.get("/coach/availability").get_data(as_text=True)
    assert "Last read failed: The calendar&#39;s server answered 404." in html
    form = re.search(rf'action="/coach/availability/calendars/{feed.id}/delete"', html)
    assert form
    removed = post_form(
        client,
        f"/coach/availability/calendars/{feed.id}/delete",
        {},
        form_page="/coach/availability",
    )
    assert removed.status_code == 302
    assert busy.list_feeds(coach.id) == []
    assert db.session.query(FeedBusy).count() == 0


def test_the_api_adds_lists_and_removes_own_calendars(client, types, make_user, token_for):
    coach = make_coach(make_user, "UTC")
    headers = {"Authorization": f"Bearer {token_for(coach)}"}
    body = {"name": "Day job", "url": "webcal://me:pw@cal.example.com/private-x/basic.ics"}
    added = client.post("/api/v1/coaches/me/calendars", json=body, headers=headers)
    assert added.status_code == 201, added.json
    assert added.json["address"] == "https://cal.example.com/…"
    assert added.json["error"] is None and added.json["stale"] is False
    listed = client.get("/api/v1/coaches/me/calendars", headers=headers).json["calendars"]
    assert [c["name"] for c in listed] == ["Day job"]
    assert "pw" not in str(listed) and "private-x" not in str(listed)
    refused = client.post(
        "/api/v1/coaches/me/calendars",
        json={"name": "Day job", "url": "http://169.254.169.254/latest"},
        headers=headers,
    )
    assert refused.status_code == 422 and "name" in refused.json["errors"]
    refused = client.post(
        "/api/v1/coaches/me/calendars",
        json={"name": "Other", "url": "file:///etc/passwd"},
        headers=headers,
    )
    assert refused.status_code == 422 and "url" in refused.json["errors"]
    feed_id = added.json["id"]
    assert (
        client.delete(f"/api/v1/coaches/me/calendars/{feed_id}", headers=headers).status_code == 204
    )
    assert (
        client.delete(f"/api/v1/coaches/me/calendars/{feed_id}", headers=headers).status_code == 404
    )


@pytest.mark.parametrize("blocks", [True, False], ids=["stale-blocks", "stale-frees"])
def test_a_stale_feed_is_shown_and_blocks_or_not_by_the_setting(
    app, client, types, make_user, token_for, feeds, allow_localhost, blocks
):
    from services.booking.availability import explain
    from tests.support_auth import sign_in
    from tests.support_booking import future_weekday

    app.config["CALENDAR_FEED_STALE_BLOCKS"] = blocks
    try:
        coach = make_coach(make_user, "UTC")
        day = future_weekday(3)
        busy_at = dt.datetime.combine(day, dt.time(10), UTC)
        stamp = busy_at.strftime("%Y%m%dT%H%M%SZ")
        feeds.pages["/cal.ics"] = (200, {}, ics(f"UID:s\nDTSTART:{stamp}\nDURATION:PT1H"))
        now = dt.datetime.now(UTC)
        read_at = now - dt.timedelta(hours=30)  # past CALENDAR_FEED_STALE_HOURS (24)
        feed = busy.add_feed(coach.id, "Day job", feeds.url("/cal.ics"), now=read_at)
        busy.refresh(feed.id, read_at)
        db.session.commit()
        assert feed.error is None and busy.is_stale(feed, now)
        assert not busy.is_stale(feed, read_at + dt.timedelta(hours=1))
        starts = {
            s.start for s in find_slots(SlotQuery("coding", day, day, "UTC", coach.id), now=now)
        }
        assert (busy_at in starts) is not blocks
        why = explain("coding", busy_at, coach_id=coach.id, now=now)
        codes = {r.code for c in why.coaches for r in c.reasons}
        assert ("own_calendar" in codes) is blocks, codes
        sign_in(client, coach.email)
        html = client.get("/coach/availability").get_data(as_text=True)
        assert "Stale: not read for a while" in html
        wording = "still block you" if blocks else "no longer block you"
        assert wording in html
        headers = {"Authorization": f"Bearer {token_for(coach)}"}
        [listed] = client.get("/api/v1/coaches/me/calendars", headers=headers).json["calendars"]
        assert listed["stale"] is True and listed["last_success_at"] is not None
        assert listed["next_fetch_at"] is not None and listed["error"] is None
    finally:
        app.config["CALENDAR_FEED_STALE_BLOCKS"] = True
