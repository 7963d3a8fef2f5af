from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model
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
    expertise: Mapped[str] = mapped_column(String(200), default="")  # comma-separated tags
    active: Mapped[bool] = mapped_column(default=True)


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
