"""iCalendar (RFC 5545 / RFC 5546) for sessions: invitations, cancellations, downloads and feeds.

A booking's UID never changes and its SEQUENCE rises with every change, so a calendar app updates
the one event it has (or removes it on ``METHOD:CANCEL``) instead of adding another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import current_app, has_app_context
from icalendar import Calendar, Event, vCalAddress, vText

from services.booking import intake
from services.db import utcnow
from services.models import Booking, BookingStatus, Role, User
from services.notifications import base_url

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


# --- a booking as an event ------------------------------------------------------------------------


def _sender() -> Person:
    from email.utils import parseaddr

    sender = str(current_app.config.get("MAIL_DEFAULT_SENDER", "")) if has_app_context() else ""
    name, address = parseaddr(sender)
    return Person(name or "Career Services", address or "careers@localhost")


def session_url(booking: Booking, viewer: User) -> str:
    """The page of the session for ``viewer``: the learner's booking page, the coach's session
    page, or the staff's sessions list (each role's own; another's page would refuse them)."""
    if viewer.id == booking.learner_id:
        return f"{base_url()}/learn/bookings/{booking.id}"
    if viewer.id == booking.coach_id:
        return f"{base_url()}/coach/sessions/{booking.id}"
    if viewer.role == Role.STAFF:
        return f"{base_url()}/staff/sessions"
    return f"{base_url()}/coach/sessions"  # a coach the session moved away from


def session_event(
    booking: Booking,
    *,
    viewer: User,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    sequence: int | None = None,
    coach: User | None = None,
    cancelled: bool | None = None,
) -> SessionEvent:
    """The booking as a calendar event for ``viewer`` (its link leads to their own page of it),
    as it stood at an event when the values are given."""
    coach = coach or booking.coach
    itype = booking.interview_type
    url = session_url(booking, viewer)
    # The intake answers: the coach's copy (and feed) shows them, the learner's to prepare; the
    # learner's copy shows their own answers back to them, as theirs.
    answers = intake.answers_text(booking.answers or [])
    heading = (
        "Your answers for the coach"
        if viewer.id == booking.learner_id
        else f"Intake answers from {booking.learner.name}"
    )
    asked = f"\n\n{heading}:\n{answers}" if answers else ""
    return SessionEvent(
        uid=booking.uid,
        sequence=booking.sequence if sequence is None else sequence,
        start=start or booking.start_at,
        end=end or booking.end_at,
        summary=f"Mock interview: {itype.name} ({booking.learner.name} with {coach.name})",
        description=(
            f"{itype.name} mock interview with {coach.name}.\n"
            f"Join: {booking.meeting_url}\n"
            f"Details: {url}"
            f"{asked}"
        ),
        meeting_url=booking.meeting_url,
        organizer=_sender(),
        attendees=(
            Person(booking.learner.name, booking.learner.email),
            Person(coach.name, coach.email),
        ),
        cancelled=booking.status == BookingStatus.CANCELLED if cancelled is None else cancelled,
        url=url,
    )


def ics_for(booking: Booking, viewer: User) -> str:
    """The .ics ``viewer`` downloads for a booking, as it stands now."""
    return download(session_event(booking, viewer=viewer))
