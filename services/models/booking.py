"""Interview types, coach availability, bookings and everything that hangs off a booking."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow
from services.models.accounts import User


class InterviewType(Model):
    __tablename__ = "interview_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int]
    buffer_before_minutes: Mapped[int] = mapped_column(default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(default=15)
    min_notice_hours: Mapped[int] = mapped_column(default=12)
    horizon_days: Mapped[int] = mapped_column(default=30)
    cancel_cutoff_hours: Mapped[int] = mapped_column(default=24)
    # Comma-separated tags: they may rank the coaches who run this type, never decide who does
    # (``CoachInterviewType`` and ``CoachBookingSettings.runs_all_types`` do).
    expertise: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def expertise_tags(self) -> frozenset[str]:
        return frozenset(t.strip().lower() for t in self.expertise.split(",") if t.strip())


INTAKE_KINDS = ("short", "long", "single", "multi", "url", "date")


class IntakeQuestion(Model):
    """A question a learner answers when booking a type (services.booking.intake). It may show
    only when an earlier single or multiple choice question was answered ``condition_value``.
    A removed question is made inactive, never deleted: answers keep their own copy of the
    wording as asked."""

    __tablename__ = "intake_question"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in INTAKE_KINDS) + ")", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_type_id: Mapped[int] = mapped_column(
        ForeignKey("interview_type.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    help: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(default=False)
    # The choices of a single or multiple choice question, in order.
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    condition_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_question.id", ondelete="SET NULL")
    )
    condition_value: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AvailabilityRule(Model):
    """A weekly window in the coach's own time zone (weekday 0 = Monday)."""

    __tablename__ = "availability_rule"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_time < end_time", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]
    start_time: Mapped[dt.time]
    end_time: Mapped[dt.time]

    coach: Mapped[User] = relationship()


class AvailabilityException(Model):
    """A dated change to a coach's weekly availability: time off, or extra hours."""

    __tablename__ = "availability_exception"
    __table_args__ = (CheckConstraint("start_at < end_at", name="window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    available: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(Text, default="")

    coach: Mapped[User] = relationship()


class BookingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    # A waitlist offer: the slot is held for one learner for a while; not a booking yet.
    HELD = "held"
    # A hold that lapsed or was declined; it occupies nothing.
    RELEASED = "released"


# The statuses that occupy the coach's and the learner's time (the database constraints use them).
OCCUPYING = ("confirmed", "completed", "no_show", "held")
# The statuses a client sees as a booking (the API's `status` field).
VISIBLE = ("confirmed", "cancelled", "completed", "no_show")
_OCCUPYING_SQL = "status IN ('confirmed', 'completed', 'no_show', 'held')"


class Booking(Model):
    """A mock interview: one learner, one coach, one type, a start and end in UTC.

    ``block_start_at``/``block_end_at`` are the session widened by the type's buffers: the coach's
    blocks never overlap (PostgreSQL exclusion constraint, SQLite triggers); the learner's sessions
    themselves never overlap.
    """

    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="window"),
        CheckConstraint("block_start_at <= start_at AND block_end_at >= end_at", name="block"),
        CheckConstraint(
            "status IN ('confirmed', 'cancelled', 'completed', 'no_show', 'held', 'released')",
            name="status",
        ),
        CheckConstraint("reschedule_count >= 0", name="reschedule_count"),
        Index("ix_booking_coach_start", "coach_id", "start_at"),
        Index("ix_booking_learner_start", "learner_id", "start_at"),
        Index("ix_booking_status_start", "status", "start_at"),
        ExcludeConstraint(
            ("coach_id", "="),
            (func.tstzrange(text("block_start_at"), text("block_end_at"), "[)"), "&&"),
            name="ex_booking_coach_overlap",
            using="gist",
            where=text(_OCCUPYING_SQL),
        ).ddl_if(dialect="postgresql"),
        ExcludeConstraint(
            ("learner_id", "="),
            (func.tstzrange(text("start_at"), text("end_at"), "[)"), "&&"),
            name="ex_booking_learner_overlap",
            using="gist",
            where=text(_OCCUPYING_SQL),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The iCalendar UID: the same for the booking's whole life, so calendars update one event.
    uid: Mapped[str] = mapped_column(String(120), unique=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    interview_type_id: Mapped[int] = mapped_column(ForeignKey("interview_type.id"))
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    block_start_at: Mapped[dt.datetime]
    block_end_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.CONFIRMED)
    meeting_url: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")
    # The learner's intake answers, each with the question's wording as asked:
    # [{"question_id", "question", "kind", "value"}] (services.booking.intake).
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # Why round robin chose the coach, when the learner's answers named skills (staff see it).
    placement_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The iCalendar SEQUENCE: raised by every change the attendees should see.
    sequence: Mapped[int] = mapped_column(default=0)
    reschedule_count: Mapped[int] = mapped_column(default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    hold_expires_at: Mapped[dt.datetime | None]
    # Set when a reminder was queued for the current start time; cleared by a reschedule.
    reminder_24h_at: Mapped[dt.datetime | None]
    reminder_1h_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    coach: Mapped[User] = relationship(foreign_keys=[coach_id])
    interview_type: Mapped[InterviewType] = relationship()
    events: Mapped[list[BookingEvent]] = relationship(
        back_populates="booking", order_by="BookingEvent.id", cascade="all, delete-orphan"
    )
    feedback: Mapped[SessionFeedback | None] = relationship(
        back_populates="booking", cascade="all, delete-orphan"
    )

    @property
    def active(self) -> bool:
        return self.status == BookingStatus.CONFIRMED


# SQLite has no exclusion constraints. Its writers are serialised (one write transaction at a time),
# so a trigger that looks for an overlap before each write cannot race with another writer.
_WATCHED = "coach_id, learner_id, start_at, end_at, block_start_at, block_end_at, status"
_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS booking_no_overlap_NAME
BEFORE WHEN ON booking
FOR EACH ROW WHEN NEW.OCCUPYING
BEGIN
    SELECT RAISE(ABORT, 'ex_booking_coach_overlap')
    WHERE EXISTS (
        SELECT 1 FROM booking AS other
        WHERE other.coach_id = NEW.coach_id AND other.id IS NOT NEW.id
          AND other.OCCUPYING
          AND other.block_start_at < NEW.block_end_at AND NEW.block_start_at < other.block_end_at
    );
    SELECT RAISE(ABORT, 'ex_booking_learner_overlap')
    WHERE EXISTS (
        SELECT 1 FROM booking AS other
        WHERE other.learner_id = NEW.learner_id AND other.id IS NOT NEW.id
          AND other.OCCUPYING
          AND other.start_at < NEW.end_at AND NEW.start_at < other.end_at
    );
END
"""
SQLITE_TRIGGERS = tuple(
    _TRIGGER.replace("NAME", name)
    .replace("WHEN ON", f"{when} ON")
    .replace("OCCUPYING", _OCCUPYING_SQL)
    for name, when in (
        ("insert", "INSERT"),
        ("update", f"UPDATE OF {_WATCHED}"),
    )
)

for _ddl in SQLITE_TRIGGERS:
    event.listen(
        Booking.__table__,
        "after_create",
        DDL(_ddl).execute_if(dialect="sqlite"),  # type: ignore[no-untyped-call]
    )


class BookingEvent(Model):
    """The booking's history: what happened, when, by whom."""

    __tablename__ = "booking_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    booking: Mapped[Booking] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class ProposalStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    # The coach proposed another time instead (or this one had expired by then).
    REPLACED = "replaced"
    EXPIRED = "expired"
    # The session was cancelled or moved another way while the proposal was open.
    CLOSED = "closed"


PROPOSAL_STATUSES = tuple(s.value for s in ProposalStatus)


class TimeProposal(Model):
    """A coach's proposal to move a session to another time, which the learner accepts or
    declines. At most one is open per booking (a unique partial index); an open one stops counting
    at ``expires_at`` (the original time's cancellation cutoff, or the last moment the proposed
    start may still be booked, whichever comes first)."""

    __tablename__ = "time_proposal"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="window"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in PROPOSAL_STATUSES) + ")", name="status"
        ),
        Index(
            "uq_time_proposal_open_booking",
            "booking_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), index=True
    )
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The session's time when the coach proposed (the proposal is about moving it from there).
    original_start_at: Mapped[dt.datetime]
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    # When and by whom it stopped being open (accepted, declined, withdrawn, replaced, closed).
    closed_at: Mapped[dt.datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The learner's note to the coach when declining.
    reply: Mapped[str] = mapped_column(Text, default="")

    booking: Mapped[Booking] = relationship()
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])


class IdempotencyKey(Model):
    """A learner's ``Idempotency-Key``: a repeated POST answers with the booking it first made."""

    __tablename__ = "booking_idempotency_key"
    __table_args__ = (UniqueConstraint("learner_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WaitlistStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class WaitlistEntry(Model):
    """A learner waiting for a slot of one type (a specific day, a coach, or any)."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        CheckConstraint("earliest_at < latest_at", name="window"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')", name="status"
        ),
        CheckConstraint(
            "time_of_day IN ('any', 'morning', 'afternoon', 'evening')", name="time_of_day"
        ),
        Index("ix_waitlist_entry_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    interview_type_id: Mapped[int] = mapped_column(ForeignKey("interview_type.id"))
    coach_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    # The wanted day in the learner's zone, or None for "anything within the horizon".
    day: Mapped[dt.date | None]
    timezone: Mapped[str] = mapped_column(String(64))
    # Slot starts the learner accepts, in UTC (the day in their zone, or the horizon).
    earliest_at: Mapped[dt.datetime]
    latest_at: Mapped[dt.datetime]
    # When in the day (in ``timezone``) a session may start: any, morning, afternoon or evening
    # (the hours are ``services.booking.waitlist.TIMES_OF_DAY``).
    time_of_day: Mapped[str] = mapped_column(String(16), default="any", server_default="any")
    # Intake answers given when joining, carried to the offered hold (as Booking.answers).
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(16), default=WaitlistStatus.WAITING)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id", ondelete="SET NULL"))
    offered_at: Mapped[dt.datetime | None]
    offer_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    coach: Mapped[User | None] = relationship(foreign_keys=[coach_id])
    interview_type: Mapped[InterviewType] = relationship()
    hold: Mapped[Booking | None] = relationship()


class SessionFeedback(Model):
    """The coach's feedback on a session, which the learner then sees."""

    __tablename__ = "session_feedback"
    __table_args__ = tuple(
        CheckConstraint(f"{name} BETWEEN 1 AND 5", name=name)
        for name in ("communication", "technical_depth", "problem_solving", "ml_knowledge")
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), unique=True
    )
    coach_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    communication: Mapped[int]
    technical_depth: Mapped[int]
    problem_solving: Mapped[int]
    ml_knowledge: Mapped[int]
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    booking: Mapped[Booking] = relationship(back_populates="feedback")


class LearnerSuspension(Model):
    """Booking paused for a learner (three no-shows in 60 days), until ``ends_at`` or lifted."""

    __tablename__ = "learner_suspension"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[dt.datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    lift_reason: Mapped[str] = mapped_column(Text, default="")

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])


class CoachInterviewType(Model):
    """A type a coach runs, when staff narrowed them to a set (``runs_all_types`` false)."""

    __tablename__ = "coach_interview_type"

    coach_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    interview_type_id: Mapped[int] = mapped_column(
        ForeignKey("interview_type.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CoachBookingSettings(Model):
    """A coach's booking settings: a daily session cap, their private calendar feed, and whether
    they run every active type (the default, also for a coach without this row) or only their
    ``CoachInterviewType`` rows."""

    __tablename__ = "coach_booking_settings"

    coach_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    daily_session_cap: Mapped[int | None]
    # sha256 of the feed's secret token; None when no feed is published (or it was revoked).
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    feed_created_at: Mapped[dt.datetime | None]
    runs_all_types: Mapped[bool] = mapped_column(default=True, server_default=true())


class CalendarFeed(Model):
    """A coach's own calendar, read from its iCalendar address: its busy times block their slots.

    ``url`` holds the address as given (its secret path is what grants access, so it is shown back
    only without credentials); the fetch state keeps the validators for a conditional request, the
    last attempt and success, and a readable error when the last attempt failed."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(Text)
    # Whether all-day events (a day's date, no time) block the coach's slots.
    all_day_blocks: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_attempt_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    next_fetch_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)

    coach: Mapped[User] = relationship()


class FeedBusy(Model):
    """One busy interval read from a coach's calendar feed (no title kept: only when)."""

    __tablename__ = "feed_busy"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="window"),
        Index("ix_feed_busy_coach_start", "coach_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_feed.id", ondelete="CASCADE"), index=True
    )
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]


class CalendarsVersion(Model):
    """One row: a token that every change to what slot search reads of coaches' calendars
    replaces (interview types, who runs them, weekly hours, time off and extra hours, daily caps,
    calendar feeds and their busy times, a coach's name, zone or standing). Each process keeps
    those facts under the token it read them at (services/booking/facts.py). A new token is
    random, never the next number: a rolled-back change cannot leave a token that a later one
    reuses."""

    __tablename__ = "calendars_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)


class FeedClash(Model):
    """A booked session that a busy time from the coach's own calendar overlaps, once told: the
    coach and staff hear of each clash once (not on every fetch); nothing is cancelled."""

    __tablename__ = "feed_clash"
    __table_args__ = (UniqueConstraint("booking_id", "feed_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    feed_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_feed.id", ondelete="CASCADE"), index=True
    )
    found_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
