"""iCalendar (RFC 5545 / RFC 5546) for sessions: invitations, cancellations, downloads and feeds.

A booking's UID never changes and its SEQUENCE rises with every change, so a calendar app updates
the one event it has (or removes it on ``METHOD:CANCEL``) instead of adding another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from icalendar import Calendar, Event, vCalAddress, vText

from services.db import utcnow

PRODID = "-//Career Services//Mock interviews//EN"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class SessionEvent:
    """One session as a calendar event, as it stands at one moment."""

    uid: str
    sequence: int
    start: dt.datetime
    end: dt.datetime
    summary: str
    description: str
    meeting_url: str
    organizer: Person
    attendees: tuple[Person, ...]
    cancelled: bool = False
    url: str | None = None


def _address(person: Person, role: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["cn"] = vText(person.name)
    if role:
        address.params["role"] = vText(role)
        address.params["partstat"] = vText("ACCEPTED")
    return address


def _event(session: SessionEvent, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", session.uid)
    event.add("sequence", session.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", session.start.astimezone(dt.UTC))
    event.add("dtend", session.end.astimezone(dt.UTC))
    event.add("summary", session.summary)
    event.add("description", session.description)
    event.add("location", session.meeting_url)
    if session.url:
        event.add("url", session.url)
    event.add("status", "CANCELLED" if session.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(session.organizer))
    for attendee in session.attendees:
        event.add("attendee", _address(attendee, "REQ-PARTICIPANT"), encode=False)
    return event


def _calendar(method: str | None, name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def invitation(session: SessionEvent, *, stamp: dt.datetime | None = None) -> str:
    """The .ics attached to an email: ``METHOD:REQUEST``, or ``METHOD:CANCEL`` when cancelled."""
    calendar = _calendar("CANCEL" if session.cancelled else "REQUEST")
    calendar.add_component(_event(session, stamp or utcnow()))
    return str(calendar.to_ical().decode())


def download(session: SessionEvent, *, stamp: dt.datetime | None = None) -> str:
    """The .ics a person downloads: ``METHOD:PUBLISH`` (``CANCEL`` once cancelled)."""
    calendar = _calendar("CANCEL" if session.cancelled else "PUBLISH")
    calendar.add_component(_event(session, stamp or utcnow()))
    return str(calendar.to_ical().decode())


def feed(name: str, sessions: Iterable[SessionEvent], *, stamp: dt.datetime | None = None) -> str:
    """A subscribable calendar of many sessions (a coach's private feed)."""
    calendar = _calendar("PUBLISH", name)
    calendar.add("refresh-interval", dt.timedelta(hours=1), parameters={"value": "DURATION"})
    moment = stamp or utcnow()
    for session in sessions:
        calendar.add_component(_event(session, moment))
    return str(calendar.to_ical().decode())


def webcal_url(url: str) -> str:
    """The ``webcal://`` form of a feed's address: a click on it opens the person's calendar app,
    ready to subscribe (the app fetches the address itself, over HTTP)."""
    return "webcal://" + url.split("://", 1)[-1]


# --- "Add to calendar" links for web calendars ------------------------------------------------


def google_link(session: SessionEvent) -> str:
    """A Google Calendar link that opens the event, filled in, for the person to save."""
    stamp = "%Y%m%dT%H%M%SZ"
    dates = f"{session.start.astimezone(dt.UTC):{stamp}}/{session.end.astimezone(dt.UTC):{stamp}}"
    query = {
        "action": "TEMPLATE",
        "text": session.summary,
        "dates": dates,
        "details": session.description,
        "location": session.meeting_url,
    }
    return f"https://calendar.google.com/calendar/render?{urlencode(query, quote_via=quote)}"


def outlook_link(session: SessionEvent) -> str:
    """An Outlook on the web (outlook.live.com) link that opens the event, filled in, to save."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": session.summary,
        "startdt": f"{session.start.astimezone(dt.UTC):{stamp}}",
        "enddt": f"{session.end.astimezone(dt.UTC):{stamp}}",
        "body": session.description,
        "location": session.meeting_url,
    }
    return (
        f"https://outlook.live.com/calendar/0/deeplink/compose?{urlencode(query, quote_via=quote)}"
    )
