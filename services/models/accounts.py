from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow


class Role(enum.StrEnum):
    LEARNER = "learner"
    COACH = "coach"
    STAFF = "staff"


class User(Model):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("role IN ('learner', 'coach', 'staff')", name="role"),
        CheckConstraint("clock IN ('12h', '24h')", name="clock"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # How times are written for this user: "12h" (2:30 PM) or "24h" (14:30). services.localtime
    clock: Mapped[str] = mapped_column(String(3), default="24h", server_default="24h")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Raised on a password change or "sign out everywhere": every older session stops working.
    session_version: Mapped[int] = mapped_column(default=0)
    expertise: Mapped[list[str]] = mapped_column(JSON, default=list)
    review_capacity: Mapped[int] = mapped_column(default=5)
    # A coach whose own weekly availability (not the desk's hours) is the clock of their review
    # due times and accept windows; staff choose it (services.workhours.clocks_for).
    deadlines_own_hours: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[dt.datetime | None]
    # Two-factor sign-in (TOTP, RFC 6238); enabled once the first code was confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None]
    totp_last_step: Mapped[int | None]  # the last accepted time step: a code works once

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # The user protocol Flask-Login expects, without importing it into the domain.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:  # an inactive account cannot sign in
        return self.active

    def get_id(self) -> str:
        # The session carries the version, so bumping it signs out every copy of the cookie.
        return f"{self.id}:{self.session_version}"

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.email}>"


class ApiToken(Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # sha256 of the secret: the secret itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class RecoveryCode(Model):
    """A single-use code that signs in instead of a TOTP code; stored hashed."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[dt.datetime | None]
