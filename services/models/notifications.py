from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow
from services.models.accounts import User


class OutboxEvent(Model):
    """A domain event written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "processed_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    # When the relay last handed it over again: it waits a grace period before doing so once more.
    relayed_at: Mapped[dt.datetime | None]
    # When a hand-over to the broker was known to fail: the relay hands it over at its next run.
    handover_failed_at: Mapped[dt.datetime | None]


class OutboxJob(Model):
    """A job for the workers (``task(*args)``), written in the transaction that asked for it and
    deleted by the worker that finished it: a row that remains is a job still to be done."""

    __tablename__ = "outbox_job"
    __table_args__ = (Index("ix_outbox_job_relay_after", "relay_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the relay may hand it over (again): a grace period after each hand-over; at once after
    # a hand-over known to have failed; while a worker runs it, the end of that worker's lease.
    relay_after: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set while a worker holds it (its lease, renewed by a heartbeat, ends at ``relay_after``).
    claimed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Given up after too many attempts (the error is logged); never handed over again.
    failed_at: Mapped[dt.datetime | None]


class Notification(Model):
    """An in-app notification; one per (recipient, event, kind)."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("user_id", "dedupe_key"),
        Index("ix_notification_user_unread", "user_id", "read_at"),
        Index("ix_notification_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Delivery(Model):
    """One email to one recipient for one event; the unique key makes a second send impossible."""

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_status_created", "status", "created_at"),
        Index("ix_delivery_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The earliest time the next try may start (backoff after a failure); a task that arrives
    # earlier does nothing, so a duplicate hand-over cannot cut a backoff short.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the relay last handed it over: it waits a grace period before doing so once more.
    relayed_at: Mapped[dt.datetime | None]
    # When a hand-over to the broker was known to fail: the relay hands it over once it is due.
    handover_failed_at: Mapped[dt.datetime | None]
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    failed_at: Mapped[dt.datetime | None]
    # The staff member who last sent a failed delivery again, and when.
    retried_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    retried_at: Mapped[dt.datetime | None]

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    retried_by: Mapped[User | None] = relationship(foreign_keys=[retried_by_id])


class NotificationPreference(Model):
    """A user's choice of email for one kind of notification; no row means email is on."""

    __tablename__ = "notification_preference"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    email: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
