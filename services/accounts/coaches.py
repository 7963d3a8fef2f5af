"""Coaches, as staff keep them: the list with load and time off, activate or deactivate, edit the
profile, invite a new coach (a single-use link to set a password). Every staff action is written to
the audit log (services.audit) in the same transaction."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from services import audit, localtime, outbox
from services.access import require_staff
from services.accounts.operations import (
    find_coach,
    hash_password,
    normalise_email,
    password_problem,
)
from services.db import db, utcnow
from services.errors import NotFound, ValidationFailed
from services.models import (
    Assignment,
    AvailabilityException,
    CoachInvite,
    Role,
    User,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES
from services.notifications import Message, base_url, handles, register_kind

INVITE_TTL = dt.timedelta(days=7)
MAX_CAPACITY = 50


class InviteInvalid(NotFound):
    code = "invite_invalid"


@dataclass(frozen=True)
class CoachRow:
    coach: User
    open: int
    in_review: int
    time_off: list[AvailabilityException]
    invite_pending: bool


def coaches(viewer: User, *, horizon_days: int = 30) -> list[CoachRow]:
    """Every coach with load against capacity and time off in the coming weeks. Four queries."""
    require_staff(viewer)
    now = utcnow()
    people = list(
        db.session.scalars(select(User).where(User.role == Role.COACH).order_by(User.name))
    )
    counts: dict[tuple[int, str], int] = {
        (int(c), str(s)): int(n)
        for c, s, n in db.session.execute(
            select(Assignment.coach_id, Assignment.status, func.count(Assignment.id))
            .where(Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
            .group_by(Assignment.coach_id, Assignment.status)
        )
    }
    off: dict[int, list[AvailabilityException]] = {}
    for exc in db.session.scalars(
        select(AvailabilityException)
        .where(
            AvailabilityException.available.is_(False),
            AvailabilityException.end_at > now,
            AvailabilityException.start_at < now + dt.timedelta(days=horizon_days),
        )
        .order_by(AvailabilityException.start_at)
    ):
        off.setdefault(exc.coach_id, []).append(exc)
    pending = set(
        db.session.scalars(
            select(CoachInvite.user_id).where(
                CoachInvite.used_at.is_(None), CoachInvite.expires_at > now
            )
        )
    )
    return [
        CoachRow(
            coach=c,
            open=counts.get((c.id, "offered"), 0) + counts.get((c.id, "accepted"), 0),
            in_review=counts.get((c.id, "accepted"), 0),
            time_off=off.get(c.id, []),
            invite_pending=c.id in pending,
        )
        for c in people
    ]


def set_active(staff: User, coach_id: int, active: bool, reason: str) -> User:
    """Activate or deactivate a coach (a deactivated coach is offered nothing and cannot sign in;
    what they hold stays until moved). Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(staff)
    why = audit.required_reason(reason)
    coach = find_coach(coach_id)
    if coach.active != active:
        coach.active = active
        if not active:
            coach.session_version += 1  # sign them out everywhere
        db.session.flush()
        audit.record(
            staff, "coach.activate" if active else "coach.deactivate", "coach", coach.id, why
        )
        if active:
            outbox.enqueue_after_commit("resumes.drain")
    return coach


@dataclass(frozen=True)
class CoachProfile:
    expertise: tuple[str, ...]
    review_capacity: int


def _clean_profile(profile: CoachProfile) -> tuple[list[str], int]:
    tags = sorted(
        {audit.one_line(t, 40).lower() for t in profile.expertise if audit.one_line(t, 40)}
    )
    if len(tags) > 30:
        raise ValidationFailed.field("expertise", "Use at most 30 tags.")
    if not 0 <= profile.review_capacity <= MAX_CAPACITY:
        raise ValidationFailed.field("review_capacity", f"Use a capacity from 0 to {MAX_CAPACITY}.")
    return tags, profile.review_capacity


def update_coach(staff: User, coach_id: int, profile: CoachProfile, reason: str = "") -> User:
    """Edit expertise and review capacity. Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(staff)
    coach = find_coach(coach_id)
    tags, capacity = _clean_profile(profile)
    old_capacity = coach.review_capacity
    before: dict[str, Any] = {
        "expertise": list(coach.expertise or []),
        "review_capacity": old_capacity,
    }
    after: dict[str, Any] = {"expertise": tags, "review_capacity": capacity}
    if before != after:
        coach.expertise = tags
        coach.review_capacity = capacity
        db.session.flush()
        audit.record(
            staff,
            "coach.update",
            "coach",
            coach.id,
            audit.one_line(reason),
            before=before,
            after=after,
        )
        if capacity > old_capacity:
            outbox.enqueue_after_commit("resumes.drain")
    return coach


def _invite_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# An invitation's secret is derived, never stored: an HMAC (keyed by SECRET_KEY) of the invite's
# id and creation time. The row keeps only its sha256 (to find the invite from a link), the
# outbox event only the invite's id, so whoever reads the database cannot open the account.
# (Changing SECRET_KEY invalidates the links of invites not yet emailed; ask staff to re-invite.)
INVITE_PURPOSE = "coach-invite"


def invite_secret(invite: CoachInvite) -> str:
    """The secret of ``invite``'s link, recomputed from the row (the same every time)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    created = invite.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    material = f"{INVITE_PURPOSE}:{invite.id}:{created}".encode()
    digest = hmac.new(key, material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Invitation:
    email: str
    name: str
    expertise: tuple[str, ...] = ()
    review_capacity: int = 5
    timezone: str = "UTC"


def invite_coach(staff: User, invitation: Invitation) -> tuple[User, CoachInvite]:
    """Make an inactive coach account and email them a single-use link to set a password.
    Raises Forbidden, ValidationFailed."""
    require_staff(staff)
    email = normalise_email(invitation.email)
    name = audit.one_line(invitation.name, 120)
    if "@" not in email or len(email) > 254 or " " in email:
        raise ValidationFailed.field("email", "Enter an email address.")
    if not name:
        raise ValidationFailed.field("name", "Enter the coach's name.")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed.field("email", "Someone already uses this email address.")
    tags, capacity = _clean_profile(CoachProfile(invitation.expertise, invitation.review_capacity))
    timezone = localtime.check_zone(invitation.timezone or localtime.UTC_NAME)
    coach = User(
        email=email,
        name=name,
        role=Role.COACH,
        timezone=timezone,
        # Nobody knows this password: the account opens when the invite sets one.
        password_hash=hash_password(secrets.token_urlsafe(32)),
        active=False,
        expertise=tags,
        review_capacity=capacity,
    )
    db.session.add(coach)
    db.session.flush()
    now = utcnow()
    invite = CoachInvite(
        user_id=coach.id,
        # A stand-in nobody knows the secret of, until the id the real secret needs exists.
        token_hash=_invite_hash(secrets.token_urlsafe(32)),
        invited_by_id=staff.id,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    db.session.add(invite)
    db.session.flush()
    invite.token_hash = _invite_hash(invite_secret(invite))
    db.session.flush()
    # The email's handler recomputes the link from the invite: no secret in the event.
    outbox.record("staff.coach_invited", invite_id=invite.id, user_id=coach.id)
    audit.record(staff, "coach.invite", "coach", coach.id, "", email=email)
    return coach, invite


def invite_expires_text(invite: CoachInvite) -> str:
    """When the invite's link stops working, in the invitee's time zone (the one staff chose for
    them), labelled: ``Tue 8 Dec 2026, 14:00 CET (Europe/Berlin)``."""
    zone = invite.user.timezone or "UTC"
    text = localtime.for_user(invite.expires_at, invite.user)
    return text if zone == "UTC" else f"{text} ({localtime.display_name(zone)})"


def valid_invite(secret: str) -> CoachInvite | None:
    invite = db.session.scalar(
        select(CoachInvite).where(CoachInvite.token_hash == _invite_hash(secret or ""))
    )
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


def accept_invite(
    secret: str, password: str, timezone: str | None = None, clock: str | None = None
) -> User:
    """Set the invited coach's password (and their time zone and clock, if given) and open the
    account; the link then stops working. Raises InviteInvalid, ValidationFailed."""
    invite = valid_invite(secret)
    if invite is None:
        raise InviteInvalid("This invitation link is not valid any more: ask staff for a new one.")
    user = invite.user
    errors: dict[str, list[str]] = {}
    if problem := password_problem(password, email=user.email):
        errors["password"] = [problem]
    try:
        if timezone is not None:
            timezone = localtime.check_zone(timezone, current=user.timezone)
        if clock is not None:
            clock = localtime.check_clock(clock)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed("Some fields need attention.", errors)
    user.timezone = timezone or user.timezone
    user.clock = clock or user.clock
    now = utcnow()
    invite.used_at = now
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.active = True
    db.session.flush()
    return user


register_kind(
    "coach_invite",
    "Coach invitation",
    email_template="coach_invite",
    roles=(Role.COACH,),
    configurable=False,
    secret=True,
)


@handles("staff.coach_invited")
def _invited(payload: dict[str, Any]) -> list[Message]:
    user = db.session.get(User, payload["user_id"])
    invite = db.session.get(CoachInvite, payload["invite_id"])
    if user is None or invite is None or invite.used_at is not None:
        return []
    # Events recorded before secrets were derived carry theirs (`token`): still honoured.
    secret = payload.get("token") or invite_secret(invite)
    return [
        Message(
            user=user,
            kind="coach_invite",
            title="You are invited to coach at Career Services",
            body="Set your password with the link we emailed you, to start reviewing résumés and "
            "running mock interviews.",
            # The link goes in the email only (redacted once sent), not in the in-app notification.
            context={
                "link": f"{base_url()}/staff/invite/{secret}",
                "expires_at": invite_expires_text(invite),
            },
        )
    ]
