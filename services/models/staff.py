"""The staff console: the audit of staff actions, coach invitations, rebalance plans, and
learners' requests to staff."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow
from services.models.accounts import User
from services.models.booking import Booking


class StaffAction(Model):
    """One staff action, with its reason. Append-only: the database refuses UPDATE and DELETE
    (triggers in migration 0005), and no code path edits a row. ``actor_id`` is not a foreign key
    so the entry outlives the account; ``actor_name`` keeps who it was."""

    __tablename__ = "staff_action"
    __table_args__ = (
        Index("ix_staff_action_at_id", "at", "id"),
        Index("ix_staff_action_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CoachInvite(Model):
    """A single-use, expiring link to set a new coach's password; the secret is stored hashed."""

    __tablename__ = "coach_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class RebalancePlan(Model):
    """A proposed set of moves of offered-but-not-accepted résumés; applied, then maybe undone."""

    __tablename__ = "rebalance_plan"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'applied', 'undone')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    # [{"resume_id", "from_id", "to_id", "from_band", "to_band"}] and the summary figures.
    moves: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied_at: Mapped[dt.datetime | None]
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    undone_at: Mapped[dt.datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class StaffRequest(Model):
    """A learner's message to staff about one booking (when they can no longer change it
    themselves), and the one reply staff send in the app: ``open`` until answered."""

    __tablename__ = "staff_request"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'answered')", name="status"),
        Index("ix_staff_request_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), index=True
    )
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[dt.datetime | None]
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    booking: Mapped[Booking] = relationship()
    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    replied_by: Mapped[User | None] = relationship(foreign_keys=[replied_by_id])


class DeskSchedule(Model):
    """The desk's working hours (one row, id 1): weekday windows in a time zone. Résumé due times
    and accept windows count only these hours (``services.workhours``); no row, the wall clock."""

    __tablename__ = "desk_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"0": [["09:00", "17:00"]], ...}: weekday (0 = Monday) to its windows, wall-clock times.
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeskHoliday(Model):
    """A day the desk is closed (in the schedule's zone)."""

    __tablename__ = "desk_holiday"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
