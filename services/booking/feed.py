"""A coach's private calendar feed: a secret address calendar apps subscribe to, holding the
coach's sessions (cancelled ones too, so subscribed calendars drop them)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from services.booking import calendar
from services.booking.calendar import session_event
from services.booking.placement import active_user
from services.db import db, utcnow
from services.errors import Forbidden
from services.models import (
    Booking,
    CoachBookingSettings,
    Role,
    User,
)
from services.models.booking import VISIBLE
from services.notifications import base_url

FEED_PAST_DAYS = 60


FEED_PURPOSE = "calendar-feed"


def _feed_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# A feed's secret is derived, never stored: an HMAC (keyed by SECRET_KEY) of the coach's id and
# the feed's creation time, so its owner can be shown the address again (after signing in) without
# the database holding it; the row keeps only its sha256, to find the feed from a request. A new
# feed (or a revoked one) changes the time, so the old address stops working. Changing SECRET_KEY
# keeps existing addresses working but they can no longer be shown: the coach makes a new one.
def _feed_secret(coach_id: int, created_at: dt.datetime) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    created = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    material = f"{FEED_PURPOSE}:{coach_id}:{created}".encode()
    digest = hmac.new(key, material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def feed_url(secret: str) -> str:
    """The address calendar apps fetch a feed from (the secret is its only credential)."""
    return f"{base_url()}/api/v1/calendar-feeds/{secret}.ics"


def _coach_settings(coach_id: int) -> CoachBookingSettings:
    coach = active_user(coach_id)
    if coach.role != Role.COACH:
        raise Forbidden("Only coaches have a session feed.")
    settings = db.session.get(CoachBookingSettings, coach_id)
    if settings is None:
        settings = CoachBookingSettings(coach_id=coach_id)
        db.session.add(settings)
    return settings


def create_feed(coach_id: int, *, now: dt.datetime | None = None) -> str:
    """A new secret feed URL token for the coach (any earlier one stops working). Only its hash
    is kept; ``feed_secret_of`` derives it again for its owner."""
    settings = _coach_settings(coach_id)
    created = now or utcnow()
    previous = settings.feed_created_at
    if previous is not None and created <= previous:  # a new address, even within a microsecond
        created = previous + dt.timedelta(microseconds=1)
    secret = _feed_secret(coach_id, created)
    settings.feed_token_hash = _feed_hash(secret)
    settings.feed_created_at = created
    db.session.flush()
    return secret


def feed_secret_of(coach_id: int) -> str | None:
    """The secret of the coach's live feed, to show its owner (and only them) again; None when
    they have none, or when it cannot be derived (made before secrets were derived, or under
    another SECRET_KEY): it still works, but only a new one can be shown."""
    settings = db.session.get(CoachBookingSettings, coach_id)
    if settings is None or not settings.feed_token_hash or settings.feed_created_at is None:
        return None
    secret = _feed_secret(coach_id, settings.feed_created_at)
    if not hmac.compare_digest(_feed_hash(secret), settings.feed_token_hash):
        return None
    return secret


def revoke_feed(coach_id: int) -> None:
    settings = _coach_settings(coach_id)
    settings.feed_token_hash = None
    settings.feed_created_at = None
    db.session.flush()


def feed_created_at(coach_id: int) -> dt.datetime | None:
    settings = db.session.get(CoachBookingSettings, coach_id)
    return settings.feed_created_at if settings and settings.feed_token_hash else None


def feed_ics(secret: str, *, now: dt.datetime | None = None) -> str | None:
    """The coach's sessions as a subscribable calendar, or None for an unknown or revoked token.
    Cancelled sessions stay in it (STATUS:CANCELLED), so subscribed calendars drop them."""
    if not secret or len(secret) > 200:
        return None
    settings = db.session.scalar(
        select(CoachBookingSettings).where(
            CoachBookingSettings.feed_token_hash == _feed_hash(secret)
        )
    )
    if settings is None:
        return None
    coach = db.session.get(User, settings.coach_id)
    if coach is None or not coach.active:
        return None
    now = now or utcnow()
    bookings = db.session.scalars(
        select(Booking)
        .where(
            Booking.coach_id == coach.id,
            Booking.status.in_(VISIBLE),
            Booking.start_at >= now - dt.timedelta(days=FEED_PAST_DAYS),
        )
        .options(selectinload(Booking.learner), selectinload(Booking.interview_type))
        .order_by(Booking.start_at)
        .limit(2000)
    ).all()
    return calendar.feed(
        f"Mock interviews · {coach.name}",
        [session_event(b, viewer=coach, coach=coach) for b in bookings],
    )
