"""Accounts: sign-up, sign-in, users made by staff or the CLI, and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, select, update

from services import audit, localtime, outbox
from services.db import db, utcnow
from services.errors import InvalidCredentials, NotFound, ValidationFailed
from services.models import ApiToken, Role, User
from services.notifications import Message, base_url, handles, register_kind
from services.validation import is_id

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
COMMON_PASSWORDS_REFUSED = 3000
EMAIL_TAKEN = "An account with this email already exists. Sign in instead."

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    password: str
    timezone: str = "UTC"
    clock: str = localtime.DEFAULT_CLOCK


@cache
def _common_passwords() -> frozenset[str]:
    """The most common passwords (zxcvbn's frequency list, most frequent first)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:COMMON_PASSWORDS_REFUSED])


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why ``password`` may not be used, or None. Any characters; 8 to 256 of them."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if password.lower() in _common_passwords():
        return "This password is one of the most common ones. Choose another."
    if email and password.lower() == normalise_email(email):
        return "Do not use your email address as your password."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _name_problem(name: str) -> str | None:
    if not name:
        return "Enter your name."
    if len(name) > 120:
        return "Use at most 120 characters."
    return None


def clean_name(name: str) -> str:
    """A person's name on one line, single-spaced."""
    return " ".join(name.replace("\x00", "").split())


def _validated(
    *, name: str, email: str, password: str, timezone: str, clock: str
) -> tuple[str, str, str]:
    """The cleaned name, email and time zone; the email is checked against the database only
    later (in ``create_user``), so a password can be hashed before any query."""
    errors: dict[str, list[str]] = {}
    name = clean_name(name)
    if problem := _name_problem(name):
        errors["name"] = [problem]
    try:
        email = normalise_email(validate_email(email, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        errors["email"] = [str(exc)]
    if problem := password_problem(password, email=email):
        errors["password"] = [problem]
    try:
        timezone = localtime.check_zone(timezone)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        localtime.check_clock(clock)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        if "email" not in errors and find_by_email(email) is not None:
            errors["email"] = [EMAIL_TAKEN]
        raise ValidationFailed("Some fields need attention.", errors)
    return name, email, timezone


def find_coach(coach_id: int, *, active_only: bool = False) -> User:
    """The coach with this id (an active one, with ``active_only``). Raises NotFound."""
    coach = db.session.get(User, coach_id) if is_id(coach_id) else None
    if coach is None or coach.role != Role.COACH or (active_only and not coach.active):
        raise NotFound("There is no such coach.")
    return coach


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    *,
    email: str,
    password: str,
    role: str,
    name: str | None = None,
    timezone: str = "UTC",
    clock: str = localtime.DEFAULT_CLOCK,
    expertise: list[str] | None = None,
    review_capacity: int = 5,
) -> User:
    """Make a user of any role. Raises ValidationFailed.

    The password is hashed (Argon2, the slow part) before the first query, so a writer that calls
    this with no transaction open takes SQLite's write lock only for the check and the insert."""
    if role not in {r.value for r in Role}:
        raise ValidationFailed.field("role", f"Role must be one of {', '.join(r for r in Role)}.")
    name, email, timezone = _validated(
        name=name or email.split("@")[0],
        email=email,
        password=password,
        timezone=timezone,
        clock=clock,
    )
    password_hash = hash_password(password)
    if find_by_email(email) is not None:
        raise ValidationFailed("Some fields need attention.", {"email": [EMAIL_TAKEN]})
    user = User(
        email=email,
        name=name,
        role=role,
        timezone=timezone,
        clock=clock,
        password_hash=password_hash,
        expertise=sorted({tag.strip().lower() for tag in expertise or [] if tag.strip()}),
        review_capacity=review_capacity,
    )
    db.session.add(user)
    db.session.flush()
    return user


def register_learner(registration: Registration) -> User:
    """Sign a learner up and queue their welcome email. Raises ValidationFailed."""
    user = create_user(
        email=registration.email,
        password=registration.password,
        role=Role.LEARNER,
        name=registration.name,
        timezone=registration.timezone,
        clock=registration.clock,
    )
    outbox.record("account.registered", user_id=user.id)
    return user


@dataclass(frozen=True)
class ProfileChange:
    """What a user changes about themselves; None leaves a field as it is."""

    name: str | None = None
    timezone: str | None = None
    clock: str | None = None


def update_profile(user_id: int, change: ProfileChange) -> tuple[User, dict[str, list[str]]]:
    """Change a user's own name, time zone or clock. A zone no longer offered (an old name) is
    kept if it is the one they have. Audited (``account.update``, with each field's old and new
    value) when something changed. Returns the user and what changed. Raises NotFound,
    ValidationFailed (nothing changes then)."""
    user = db.session.get(User, user_id) if is_id(user_id) else None
    if user is None:
        raise NotFound("There is no such account.")
    wanted: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    if change.name is not None:
        wanted["name"] = clean_name(change.name)
        if problem := _name_problem(wanted["name"]):
            errors["name"] = [problem]
    checks = (
        ("timezone", change.timezone, lambda v: localtime.check_zone(v, current=user.timezone)),
        ("clock", change.clock, localtime.check_clock),
    )
    for field, value, check in checks:
        if value is not None:
            try:
                wanted[field] = check(value)
            except ValidationFailed as exc:
                errors.update(exc.errors)
    if errors:
        raise ValidationFailed("Some fields need attention.", errors)
    changed = {
        field: [getattr(user, field), value]
        for field, value in wanted.items()
        if getattr(user, field) != value
    }
    if changed:  # recorded under the name they had when they made the change
        audit.record(user, "account.update", "account", user.id, "", changes=changed)
        for field, (_, value) in changed.items():
            setattr(user, field, value)
        db.session.flush()
    return user, changed


@dataclass(frozen=True)
class Verified:
    """A user who gave the right password; ``new_hash`` is that password hashed with today's
    parameters when the stored hash uses older ones (``record_sign_in`` stores it)."""

    user: User
    checked_hash: str
    new_hash: str | None = None


def authenticate(email: str, password: str) -> Verified:
    """The active user with this email and password. Raises InvalidCredentials, the same for all.

    Only reads: the caller runs it before its write transaction (web.transactions.reading_first),
    so no write lock is held while Argon2 runs, then stores the sign-in with ``record_sign_in``."""
    user = find_by_email(email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise InvalidCredentials("The email or password is not right.")
    checked = user.password_hash
    new_hash = hash_password(password) if _hasher.check_needs_rehash(checked) else None
    return Verified(user=user, checked_hash=checked, new_hash=new_hash)


def record_sign_in(verified: Verified) -> User:
    """What a sign-in changes, in the caller's (short) write transaction: a rehashed password,
    unless the password changed since it was checked. Returns the user."""
    if verified.new_hash is not None:
        db.session.execute(
            update(User)
            .where(User.id == verified.user.id, User.password_hash == verified.checked_hash)
            .values(password_hash=verified.new_hash)
        )
    return verified.user


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password; every other session and every API token stops working.
    Raises ValidationFailed."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise ValidationFailed.field(
            "current_password", "Your current password is not right."
        ) from None
    if problem := password_problem(new, email=user.email):
        raise ValidationFailed.field("new_password", problem)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    sign_out_everywhere(user)


def sign_out_everywhere(user: User) -> None:
    """End every session of ``user`` (the cookie names the old version) and revoke every token."""
    user.session_version += 1
    now = utcnow()
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
    db.session.flush()


# --- forgotten passwords --------------------------------------------------------------------------
# A reset link carries a signed, timestamped token (itsdangerous, keyed by SECRET_KEY) naming the
# user and a fingerprint of their password and session version. Nothing is stored: the link
# expires with its timestamp and works once, because using it changes both.

RESET_SALT = "password-reset"


class ResetLinkInvalid(NotFound):
    code = "reset_link_invalid"


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT)


def _reset_fingerprint(user: User) -> str:
    material = f"{user.id}:{user.password_hash}:{user.session_version}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def reset_token(user: User, secret_key: str) -> str:
    """A reset link's token for ``user`` as they are now."""
    return str(_reset_serializer(secret_key).dumps([user.id, _reset_fingerprint(user)]))


def request_password_reset(email: str) -> bool:
    """Email a reset link to the active account with this address, if there is one. The caller
    answers the same either way; the return value is for tests and logs only."""
    user = find_by_email(email)
    if user is None or not user.active:
        return False
    outbox.record("account.password_reset", user_id=user.id)
    return True


def user_for_reset(token: str, secret_key: str, ttl: dt.timedelta) -> User:
    """The user a reset token names, if it is unexpired and still matches their password.
    Raises ResetLinkInvalid."""
    try:
        user_id, fingerprint = _reset_serializer(secret_key).loads(
            token, max_age=int(ttl.total_seconds())
        )
    except (BadSignature, SignatureExpired, TypeError, ValueError):
        raise ResetLinkInvalid("This reset link is not valid any more.") from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or fingerprint != _reset_fingerprint(user):
        raise ResetLinkInvalid("This reset link is not valid any more.")
    return user


def reset_password(token: str, new: str, secret_key: str, ttl: dt.timedelta) -> User:
    """Set a new password through a reset link; every session and API token ends, and the link
    stops working. Two-factor stays on. Raises ResetLinkInvalid, ValidationFailed."""
    user = user_for_reset(token, secret_key, ttl)
    if problem := password_problem(new, email=user.email):
        raise ValidationFailed.field("password", problem)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    sign_out_everywhere(user)
    return user


register_kind(
    "welcome", "Welcome", email_template="welcome", roles=(Role.LEARNER,), configurable=False
)
register_kind(
    "password_reset",
    "Password reset",
    email_template="password_reset",
    roles=(Role.LEARNER, Role.COACH, Role.STAFF),
    description="A link to set a new password, when you ask for one.",
    configurable=False,
    secret=True,
)


@handles("account.password_reset")
def _password_reset(payload: dict[str, Any]) -> list[Message]:
    user = db.session.get(User, payload["user_id"])
    if user is None or not user.active:
        return []
    ttl_minutes = int(current_app.config["PASSWORD_RESET_MINUTES"])
    link = f"{base_url()}/reset-password/{reset_token(user, current_app.config['SECRET_KEY'])}"
    return [
        Message(
            user=user,
            kind="password_reset",
            title="A password reset was asked for",
            body="Someone (we hope you) asked to reset your password; the link went to your "
            "email. If it was not you, you need do nothing.",
            # The link goes in the email only, not in the in-app notification.
            context={"reset_link": link, "ttl_minutes": ttl_minutes},
        )
    ]


def load_session_user(session_id: str) -> User | None:
    """The user a session cookie names, if the session is still current (see User.get_id)."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or not user.active:
        return None
    return user


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(user: User, ttl: dt.timedelta) -> tuple[str, ApiToken]:
    """A new bearer token for ``user``; the secret is returned once and only its hash is kept."""
    secret = secrets.token_urlsafe(32)
    token = ApiToken(user=user, token_hash=_token_hash(secret), expires_at=utcnow() + ttl)
    db.session.add(token)
    db.session.flush()
    return secret, token


def user_for_token(secret: str) -> User | None:
    """The user behind a live (unexpired, unrevoked) token, else None."""
    return db.session.scalar(_USER_FOR_TOKEN, {"hash": _token_hash(secret), "now": utcnow()})


# One indexed read (the token's unique hash) that loads only the user; built once.
_USER_FOR_TOKEN = (
    select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("hash"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("now"),
        User.active.is_(True),
    )
)


def revoke_token(secret: str) -> None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()


@handles("account.registered")
def _welcome(payload: dict[str, Any]) -> list[Message]:
    user = db.session.get(User, payload["user_id"])
    if user is None:
        return []
    return [
        Message(
            user=user,
            kind="welcome",
            title="Welcome to Career Services",
            body="Book a mock interview or upload your résumé for review when you are ready.",
            link=f"{base_url()}/dashboard",
        )
    ]
