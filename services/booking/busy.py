"""A coach's own calendars: feeds they add by address, read by a beat job, their busy times stored
(``FeedBusy``) so the slot search subtracts them in one query however many feeds there are.

Reading: ``icalendar`` parses, ``x-wr-timezone`` moves a calendar that names its zone only in
X-WR-TIMEZONE onto real zones, ``recurring-ical-events`` expands RRULE, RDATE, EXDATE and
RECURRENCE-ID overrides. Cancelled and free (TRANSP:TRANSPARENT) events are not busy; all-day
events are, if the coach says so; floating times are in the coach's zone.

Fetching a typed address is a server-side request forgery risk: only http(s) (webcal is https),
every address a name resolves to must be public (no private, loopback, link-local, metadata,
multicast or reserved one), checked again on every redirect, and the connection goes to the
address that was checked (no second lookup). The body is bounded in size and the whole fetch in
time. ``CALENDAR_FEED_ALLOWED_HOSTS`` names hosts exempt from the address check, for tests only.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
import zoneinfo
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass

import icalendar
import recurring_ical_events
import x_wr_timezone
from flask import current_app, has_app_context
from sqlalchemy import delete, select

from services import localtime, outbox
from services.booking.availability import Interval, feed_stale_after, merge
from services.db import db, utcnow
from services.errors import NotFound, ValidationFailed
from services.models import (
    Booking,
    BookingStatus,
    CalendarFeed,
    FeedBusy,
    FeedClash,
    User,
)
from services.models.booking import OCCUPYING

UTC = dt.UTC
MAX_FEEDS = 5
MAX_REDIRECTS = 5
MAX_INTERVALS = 5000
# Busy times are kept from a day ago to this far ahead (past any interview type's horizon).
AHEAD = dt.timedelta(days=120)
USER_AGENT = "CareerServices-CalendarFeed/1"


class FeedError(Exception):
    """A feed could not be read; the message is kept on the feed and shown to the coach."""


def _config(name: str, default: object) -> object:
    return current_app.config.get(name, default) if has_app_context() else default


def interval() -> dt.timedelta:
    return dt.timedelta(minutes=int(str(_config("CALENDAR_FEED_INTERVAL_MINUTES", 15))))


# --- addresses -----------------------------------------------------------------------------------


def normalise_url(raw: str) -> str:
    """The address as fetched: webcal:// read as https://. Raises ValidationFailed."""
    url = raw.strip()
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        url = "https" + url[len(parts.scheme) :]
        parts = urllib.parse.urlsplit(url)
        scheme = "https"
    if scheme not in ("http", "https"):
        raise ValidationFailed.field(
            "url", "Use the calendar's http:// or https:// (or webcal://) address."
        )
    if not parts.hostname or len(url) > 2000:
        raise ValidationFailed.field("url", "That is not a calendar address.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValidationFailed.field("url", "The address's port is not a number.") from exc
    return url


def display_url(url: str) -> str:
    """The address as shown back: its host only, for the rest (user, password, the secret path
    and query) grants access to the calendar."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def _allowed_hosts() -> list[str]:
    value = _config("CALENDAR_FEED_ALLOWED_HOSTS", [])
    return [str(h).lower() for h in value] if isinstance(value, list | tuple) else []


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def resolve(host: str, port: int) -> str:
    """The address to connect to for ``host``: every address it resolves to must be public
    (unless the host is one the settings allow). Raises FeedError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FeedError(f"The calendar's host {host} was not found.") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FeedError(f"The calendar's host {host} was not found.")
    if host.lower() not in _allowed_hosts() and not all(_public(a) for a in addresses):
        raise FeedError(
            f"The calendar's host {host} is on a private or local network address, "
            "which is not fetched."
        )
    return addresses[0]


# --- fetching ------------------------------------------------------------------------------------


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Fetched:
    body: bytes | None  # None: not modified since the validators given
    etag: str | None
    last_modified: str | None


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> Fetched:
    """GET a feed, conditionally, following at most five redirects (each address checked again).
    Raises FeedError with a sentence for the coach."""
    max_bytes = max_bytes or int(str(_config("CALENDAR_FEED_MAX_BYTES", 5 * 1024 * 1024)))
    timeout = timeout or float(str(_config("CALENDAR_FEED_TIMEOUT_SECONDS", 10)))
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        url = _checked(url)
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(host, port)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(host, port, address, max(0.1, deadline - time.monotonic()))
        headers = {"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            headers["Authorization"] = "Basic " + b64encode(f"{user}:{password}".encode()).decode()
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FeedError("The calendar's server redirected nowhere.")
                url = urllib.parse.urljoin(url, location)
                continue
            if response.status == 304:
                return Fetched(None, etag, last_modified)
            if response.status != 200:
                raise FeedError(f"The calendar's server answered {response.status}.")
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FeedError(_too_large(max_bytes))
            chunks, size = [], 0
            while chunk := response.read(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise FeedError(_too_large(max_bytes))
                if time.monotonic() > deadline:
                    raise FeedError(f"The calendar took longer than {timeout:g} seconds to read.")
                chunks.append(chunk)
            return Fetched(
                b"".join(chunks), response.getheader("ETag"), response.getheader("Last-Modified")
            )
        except TimeoutError as exc:
            raise FeedError(f"The calendar took longer than {timeout:g} seconds to read.") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise FeedError(f"The calendar's server could not be reached ({exc}).") from exc
        finally:
            connection.close()
    raise FeedError(f"The calendar's address redirected more than {MAX_REDIRECTS} times.")


def _checked(url: str) -> str:
    try:
        return normalise_url(url)
    except ValidationFailed as exc:
        raise FeedError(exc.detail) from exc


def _too_large(max_bytes: int) -> str:
    return f"The calendar is larger than {max_bytes // (1024 * 1024)} MB, the most read."


# --- reading -------------------------------------------------------------------------------------


def _as_utc(value: dt.datetime | dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    return dt.datetime.combine(value, dt.time(0), tz).astimezone(UTC)


def busy_intervals(
    data: bytes,
    tz: zoneinfo.ZoneInfo,
    utc_from: dt.datetime,
    utc_to: dt.datetime,
    *,
    all_day_blocks: bool,
) -> list[Interval]:
    """The busy times of an iCalendar file between ``utc_from`` and ``utc_to``, merged; floating
    times and all-day dates in ``tz`` (the coach's). Raises FeedError."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
        calendar = x_wr_timezone.to_standard(calendar)
        events = recurring_ical_events.of(calendar).between(utc_from, utc_to)
    except Exception as exc:  # the libraries raise many kinds for a malformed file
        raise FeedError(f"The calendar could not be read as iCalendar ({exc}).") from exc
    out: list[Interval] = []
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        start = event.decoded("DTSTART")
        all_day = not isinstance(start, dt.datetime)
        if all_day and not all_day_blocks:
            continue
        if "DTEND" in event:
            end = event.decoded("DTEND")
        elif "DURATION" in event:
            end = start + event.decoded("DURATION")
        else:
            end = start + dt.timedelta(days=1) if all_day else start
        s, e = _as_utc(start, tz), _as_utc(end, tz)
        if s < e:
            out.append((max(s, utc_from), min(e, utc_to)))
        if len(out) > MAX_INTERVALS:
            raise FeedError(f"The calendar has more than {MAX_INTERVALS} events in four months.")
    return merge(out)


# --- feeds ---------------------------------------------------------------------------------------


def _coach(coach_id: int) -> User:
    coach = db.session.get(User, coach_id)
    if coach is None or coach.role != "coach":
        raise NotFound("There is no such coach.")
    return coach


def list_feeds(coach_id: int) -> list[CalendarFeed]:
    return list(
        db.session.scalars(
            select(CalendarFeed).where(CalendarFeed.coach_id == coach_id).order_by(CalendarFeed.id)
        )
    )


def add_feed(
    coach_id: int,
    name: str,
    url: str,
    *,
    all_day_blocks: bool = False,
    now: dt.datetime | None = None,
) -> CalendarFeed:
    """Add a calendar by address; the beat job reads it next. Raises ValidationFailed."""
    _coach(coach_id)
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not 1 <= len(name) <= 80:
        errors["name"] = ["Name the calendar in 1 to 80 characters (e.g. Day job)."]
    try:
        url = normalise_url(url)
    except ValidationFailed as refused:
        errors.update(refused.errors)
    feeds = list_feeds(coach_id)
    if len(feeds) >= MAX_FEEDS:
        errors["url"] = [f"You have {MAX_FEEDS} calendars, the most: remove one first."]
    elif any(f.name.lower() == name.lower() for f in feeds):
        errors["name"] = [f"You already have a calendar named {name}."]
    if errors:
        raise ValidationFailed("The calendar was not added.", errors)
    feed = CalendarFeed(
        coach_id=coach_id,
        name=name,
        url=url,
        all_day_blocks=all_day_blocks,
        next_fetch_at=now or utcnow(),
    )
    db.session.add(feed)
    db.session.flush()
    return feed


def _feed(coach_id: int, feed_id: int) -> CalendarFeed:
    feed = db.session.get(CalendarFeed, feed_id) if 0 < feed_id < 2**31 else None
    if feed is None or feed.coach_id != coach_id:
        raise NotFound("There is no such calendar.")
    return feed


def remove_feed(coach_id: int, feed_id: int) -> None:
    """Remove a calendar and its busy times. Raises NotFound."""
    db.session.delete(_feed(coach_id, feed_id))
    db.session.flush()


def due_feed_ids(now: dt.datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(CalendarFeed.id)
            .where(CalendarFeed.next_fetch_at.is_(None) | (CalendarFeed.next_fetch_at <= now))
            .order_by(CalendarFeed.next_fetch_at)
        )
    )


def refresh(feed_id: int, now: dt.datetime | None = None) -> CalendarFeed | None:
    """Read one feed and replace its stored busy times; a failure keeps the last ones and records
    the error. None if the feed is gone."""
    now = now or utcnow()
    feed = db.session.get(CalendarFeed, feed_id)
    if feed is None:
        return None
    feed.last_attempt_at = now
    feed.next_fetch_at = now + interval()
    try:
        fetched = fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        if fetched.body is not None:
            tz = localtime.zone(feed.coach.timezone)
            spans = busy_intervals(
                fetched.body,
                tz,
                now - dt.timedelta(days=1),
                now + AHEAD,
                all_day_blocks=feed.all_day_blocks,
            )
            db.session.execute(delete(FeedBusy).where(FeedBusy.feed_id == feed.id))
            db.session.add_all(
                FeedBusy(feed_id=feed.id, coach_id=feed.coach_id, start_at=s, end_at=e)
                for s, e in spans
            )
            feed.etag, feed.last_modified = fetched.etag, fetched.last_modified
            db.session.flush()
            announce_clashes(feed, now)
    except FeedError as exc:
        feed.error = str(exc)
    else:
        feed.error = None
        feed.last_success_at = now
    db.session.flush()
    return feed


def is_stale(feed: CalendarFeed, now: dt.datetime | None = None) -> bool:
    """Not read successfully for ``CALENDAR_FEED_STALE_HOURS`` (or never, once tried)."""
    now = now or utcnow()
    if feed.last_success_at is None:
        return feed.last_attempt_at is not None
    return feed.last_success_at < now - feed_stale_after()


@dataclass(frozen=True)
class Clash:
    """A booked session that a busy time of the coach's own calendar overlaps."""

    booking: Booking
    feed_name: str


def clashes(coach_ids: Sequence[int] | None = None, now: dt.datetime | None = None) -> list[Clash]:
    """Upcoming sessions overlapped by their coach's own busy times (nothing is cancelled: the
    coach and staff are shown them). One query."""
    now = now or utcnow()
    query = (
        select(Booking, CalendarFeed.name)
        .join(FeedBusy, FeedBusy.coach_id == Booking.coach_id)
        .join(CalendarFeed, CalendarFeed.id == FeedBusy.feed_id)
        .where(
            Booking.status.in_(OCCUPYING),
            Booking.start_at > now,
            FeedBusy.start_at < Booking.end_at,
            FeedBusy.end_at > Booking.start_at,
        )
        .order_by(Booking.start_at)
    )
    if coach_ids is not None:
        query = query.where(Booking.coach_id.in_(coach_ids))
    seen: set[tuple[int, str]] = set()
    out = []
    for booking, name in db.session.execute(query):
        if (booking.id, name) not in seen:
            seen.add((booking.id, name))
            out.append(Clash(booking, name))
    return out


def announce_clashes(feed: CalendarFeed, now: dt.datetime | None = None) -> int:
    """Tell the coach and staff of each upcoming session that this feed's busy times now overlap
    and that they were not told of before: a ``FeedClash`` row per session and feed, and one
    outbox event each. Nothing is cancelled. Returns how many were new. Two queries and the
    inserts."""
    told = set(db.session.scalars(select(FeedClash.booking_id).where(FeedClash.feed_id == feed.id)))
    new = [
        clash.booking
        for clash in clashes([feed.coach_id], now)
        if clash.feed_name == feed.name
        and clash.booking.status == BookingStatus.CONFIRMED  # a waitlist hold is not one yet
        and clash.booking.id not in told
    ]
    for booking in new:
        db.session.add(FeedClash(booking_id=booking.id, feed_id=feed.id, found_at=now or utcnow()))
        outbox.record("booking.calendar_clash", booking_id=booking.id, feed_id=feed.id)
    db.session.flush()
    return len(new)
