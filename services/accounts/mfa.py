"""Two-factor sign-in: TOTP (RFC 6238) with single-use recovery codes."""

from __future__ import annotations

import hashlib
import io
import secrets

import pyotp
import segno
from sqlalchemy import delete, select

from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import RecoveryCode, Role, User

ISSUER = "Career Services"
RECOVERY_CODE_COUNT = 10


def required_for(user: User) -> bool:
    """Staff must use two-factor sign-in; coaches and learners may."""
    return user.role == Role.STAFF


def start_enrolment(user: User) -> str:
    """A new secret for ``user`` (not active until a code confirms it); returns the secret."""
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = None
    db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an SVG QR code, to scan with an authenticator app."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return buffer.getvalue().decode()


def _accept_code(user: User, code: str) -> bool:
    """Check a TOTP code (one step of clock drift allowed); each time step is accepted once."""
    if not user.totp_secret:
        return False
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    for drift in (0, -1, 1):
        step = totp.timecode(now) + drift
        if secrets.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # a replayed code
            user.totp_last_step = step
            return True
    return False


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor sign-in on with a first code; returns new recovery codes (shown once).
    Raises ValidationFailed."""
    if not _accept_code(user, code):
        raise ValidationFailed.field("code", "That code is not right. Enter the current 6 digits.")
    user.totp_enabled_at = utcnow()
    codes = regenerate_recovery_codes(user)
    db.session.flush()
    return codes


def disable(user: User) -> None:
    """Turn two-factor sign-in off (not allowed where it is required). Raises ValidationFailed."""
    if required_for(user):
        raise ValidationFailed.field("code", "Staff accounts must keep two-factor sign-in.")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def _hash(code: str) -> str:
    return hashlib.sha256("".join(code.split()).lower().encode()).hexdigest()


def regenerate_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    db.session.flush()
    return codes


def verify(user: User, code: str) -> bool:
    """A current TOTP code or an unused recovery code (which is then used up)."""
    if not user.mfa_enabled:
        return False
    if _accept_code(user, code):
        db.session.flush()
        return True
    recovery = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is None:
        return False
    recovery.used_at = utcnow()
    db.session.flush()
    return True


def remaining_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )
