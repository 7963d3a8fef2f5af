"""Tasks of this domain: thin wrappers, ids in, one service call, one commit."""

from __future__ import annotations

from celery import shared_task

from services import booking
from services.booking import busy, waitlist
from services.db import db


@shared_task(name="bookings.send_reminders", acks_late=True, ignore_result=True)
def send_reminders() -> int:
    """Queue the 24 h and 1 h reminders that are due (a beat scan; each reminder goes once)."""
    queued = booking.queue_reminders()
    db.session.commit()
    return queued


@shared_task(name="bookings.match_waitlist", acks_late=True, ignore_result=True)
def match_waitlist() -> int:
    """Pass lapsed waitlist offers on and offer freed slots to those waiting."""
    made = waitlist.match()
    db.session.commit()
    return made


@shared_task(name="bookings.refresh_calendar_feeds", acks_late=True, ignore_result=True)
def refresh_calendar_feeds() -> int:
    """Read the coaches' own calendars that are due, each in its own commit."""
    done = 0
    for feed_id in busy.due_feed_ids():
        busy.refresh(feed_id)
        db.session.commit()
        done += 1
    return done
