"""Sign-up, sign-in (with two-factor), sign-out and account security, for the browser."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from services import accounts, localtime
from services.accounts import mfa
from services.db import db, utcnow
from services.errors import InvalidCredentials, ValidationFailed
from services.models import Role, User
from web.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmForm,
    ForgotPasswordForm,
    ProfileForm,
    ResetPasswordForm,
    SignInForm,
    SignUpForm,
)
from web.extensions import limiter
from web.formatting import locale_clock
from web.forms import apply_errors
from web.transactions import reading_first, writing

bp = Blueprint("auth", __name__)

PENDING_KEY = "pending_sign_in"
# The address of an account just opened in this browser (an accepted invite): the sign-in form
# starts with it, and its first sign-in greets them rather than welcoming them back.
NEW_ACCOUNT_KEY = "new_account_email"
PENDING_SECONDS = 300  # time to enter the second factor after the password


def _safe_next(target: str | None, default: str) -> str:
    target = target or ""
    parts = urlsplit(target)
    # Only same-site paths: no scheme, no host, no protocol-relative "//evil".
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _failed() -> bool:
    return bool(g.get("login_failed"))


def remember_new_account(email: str) -> None:
    """Note that ``email``'s account was just opened here, for its first sign-in."""
    session[NEW_ACCOUNT_KEY] = email


WARN_WHEN_LEFT = 2  # say how many tries are left once this few remain


@dataclass(frozen=True)
class AttemptsLeft:
    """What a failed sign-in leaves: ``left`` more tries before sign-in is paused for up to
    ``minutes`` (the limit's window; the pause ends when the window does)."""

    left: int
    minutes: int


def attempts_left() -> AttemptsLeft | None:
    """After a failed attempt (counted as its response goes out): the tries left under this
    endpoint's limit for this client, when few are. None while there are plenty, or if the
    limiter cannot say (Redis down: it then counts in memory)."""
    try:
        limit = limiter.current_limit
        if limit is None:
            return None
        left = max(0, limit.remaining - 1)
        minutes = max(1, math.ceil(limit.limit.get_expiry() / 60))
    except Exception:  # a warning is a courtesy; the limit itself still holds
        return None
    return AttemptsLeft(left, minutes) if left <= WARN_WHEN_LEFT else None


def _complete_sign_in(user: User, next_url: str | None = None) -> Response:
    first_time = session.get(NEW_ACCOUNT_KEY) == user.email
    session.clear()  # a fresh session at the change of privilege
    login_user(user)
    now = int(time.time())
    session["auth_at"] = session["seen_at"] = now
    flash(f"Welcome, {user.name}." if first_time else f"Welcome back, {user.name}.", "success")
    return redirect(_safe_next(next_url, url_for("public.dashboard")))


def _pending_user() -> tuple[User, dict[str, Any]] | None:
    """The user who gave the right password and still owes a second factor (or enrolment)."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending.get("user_id"))
    if user is None or not user.active or user.session_version != pending.get("version"):
        return None
    return user, pending


# The idle clock moves on at most once a minute. A request that changes the session sends the
# whole cookie back, as that request read it: writing "seen at" on every request made every
# response overwrite the cookie, so a slow request in flight (a PDF, a script) that answered after
# a form's redirect put back a session without the form's flash message. Now most requests leave
# the cookie alone; the idle timeout may end a session up to a minute early.
SEEN_STEP_SECONDS = 60


@bp.before_app_request
def _enforce_session_timeouts() -> Response | None:
    # Only a session that names a user can be signed in (no remember-me cookies, no header logins):
    # an anonymous request loads no user.
    if "_user_id" not in session or not current_user.is_authenticated:
        return None
    now = time.time()
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    auth_at, seen_at = session.get("auth_at", 0), session.get("seen_at", 0)
    if now - seen_at > idle or now - auth_at > absolute:
        logout_user()
        session.clear()
        if request.path.startswith("/api/"):
            return None
        flash("Your session ended. Please sign in again.", "info")
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    if now - seen_at >= SEEN_STEP_SECONDS:
        session["seen_at"] = int(now)
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: _failed())
def sign_in() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("public.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        # Argon2 runs with no write lock held; the sign-in is then stored in a short write.
        with reading_first():
            try:
                verified = accounts.authenticate(form.email.data or "", form.password.data or "")
            except InvalidCredentials as exc:
                g.login_failed = True
                form.password.errors = [exc.detail]
                return render_template(
                    "auth/sign_in.html", form=form, attempts=attempts_left()
                ), 401
        with writing():
            user = accounts.record_sign_in(verified)
        next_url = request.args.get("next")
        if user.mfa_enabled or mfa.required_for(user):
            session[PENDING_KEY] = {
                "user_id": user.id,
                "version": user.session_version,
                "at": time.time(),
                "next": _safe_next(next_url, ""),
            }
            if user.mfa_enabled:
                return redirect(url_for("auth.two_factor"))
            return redirect(url_for("auth.two_factor_setup"))
        return _complete_sign_in(user, next_url)
    if not form.is_submitted() and isinstance(session.get(NEW_ACCOUNT_KEY), str):
        form.email.data = session[NEW_ACCOUNT_KEY]
    return render_template("auth/sign_in.html", form=form)


def _reset_limit() -> str:
    return str(current_app.config["RESET_RATE_LIMIT"])


def _reset_address() -> str:
    """Rate-limit key: the address asked about, known or not (so the limit says nothing)."""
    return "reset:" + accounts.normalise_email(str(request.form.get("email", ""))[:254])


def _reset_ttl() -> dt.timedelta:
    return dt.timedelta(minutes=int(current_app.config["PASSWORD_RESET_MINUTES"]))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"], key_func=_reset_address)
@limiter.limit("20 per hour", methods=["POST"])  # per client address, whatever it asks about
def forgot_password() -> str | Response | tuple[str, int]:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The same answer whether or not an account uses the address.
        with writing():
            accounts.request_password_reset(form.email.data or "")
        minutes = int(current_app.config["PASSWORD_RESET_MINUTES"])
        flash(
            "If an account uses that address, a link to choose a new password is on its way. "
            f"It works once, for {minutes} minutes.",
            "info",
        )
        return redirect(url_for("auth.sign_in"))
    status = 422 if form.errors else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])  # the token is signed: nothing to guess
def reset_password(token: str) -> str | Response | tuple[str, int]:
    secret = str(current_app.config["SECRET_KEY"])
    try:
        accounts.user_for_reset(token, secret, _reset_ttl())
    except accounts.ResetLinkInvalid:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            with writing():
                accounts.reset_password(token, form.password.data or "", secret, _reset_ttl())
        except accounts.ResetLinkInvalid:
            return render_template("auth/reset_invalid.html"), 404
        except ValidationFailed as exc:
            apply_errors(form, exc, fallback=form.password)
        else:
            logout_user()
            session.clear()
            flash("Password changed, and every session signed out. Sign in with it now.", "success")
            return redirect(url_for("auth.sign_in"))
    status = 422 if form.errors else 200
    return render_template("auth/reset_password.html", form=form), status


@bp.route("/sign-in/two-factor", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: _failed())
def two_factor() -> str | Response | tuple[str, int]:
    pending = _pending_user()
    if pending is None or not pending[0].mfa_enabled:
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.sign_in"))
    user, state = pending
    form = CodeForm()
    if form.validate_on_submit():
        with writing():
            verified = mfa.verify(user, form.code.data or "")
        if verified:
            return _complete_sign_in(user, state.get("next"))
        g.login_failed = True
        form.code.errors = ["That code is not right."]
        return render_template("auth/two_factor.html", form=form, attempts=attempts_left()), 401
    return render_template("auth/two_factor.html", form=form)


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
def two_factor_setup() -> str | Response | tuple[str, int]:
    """Set up an authenticator app: for a signed-in user, or for staff finishing their sign-in."""
    pending = None if current_user.is_authenticated else _pending_user()
    if current_user.is_authenticated:
        user: User = current_user._get_current_object()
    elif pending is not None:
        user = pending[0]
    else:
        return redirect(url_for("auth.sign_in"))
    if user.mfa_enabled and not pending:
        flash("Two-factor sign-in is already on.", "info")
        return redirect(url_for("auth.security"))
    form = CodeForm()
    if form.validate_on_submit() and user.totp_secret:
        try:
            with writing():
                codes = mfa.confirm_enrolment(user, form.code.data or "")
        except ValidationFailed as exc:
            apply_errors(form, exc, fallback=form.code)
            status = 422
        else:
            if pending is not None:
                login_user(user)
                next_url = pending[1].get("next") or url_for("public.dashboard")
                session.pop(PENDING_KEY, None)
                session["auth_at"] = session["seen_at"] = int(time.time())
            else:
                next_url = url_for("auth.security")
            return render_template("auth/recovery_codes.html", codes=codes, next_url=next_url)
    else:
        status = 200 if not form.is_submitted() else 422
        if not user.totp_secret:  # keep an unconfirmed secret: the app may have scanned it
            with writing():
                mfa.start_enrolment(user)
    uri = mfa.provisioning_uri(user)
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        secret=user.totp_secret,
        qr_svg=mfa.qr_svg(uri),
        required=mfa.required_for(user),
    ), status


def _saved_message(user: User, changed: dict[str, list[str]]) -> str:
    if not changed:
        return "Nothing changed."
    clock = "12-hour" if user.clock == "12h" else "24-hour"
    if {"timezone", "clock"} & changed.keys():
        zone = localtime.display_name(user.timezone)
        return f"Saved. Times are now shown in {zone}, on the {clock} clock."
    return "Saved."


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response | tuple[str, int]:
    """The user's own name, time zone and clock."""
    user: User = current_user._get_current_object()
    user_id = user.id
    form = ProfileForm(obj=user)
    form.timezone.offer(keep=user.timezone)
    if form.validate_on_submit():
        change = accounts.ProfileChange(
            name=form.name.data or "", timezone=form.timezone.data, clock=form.clock.data
        )
        try:
            with writing():
                user, changed = accounts.update_profile(user_id, change)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            flash(_saved_message(user, changed), "success" if changed else "info")
            return redirect(url_for("auth.account"))
    status = 422 if form.errors else 200
    return render_template(
        "auth/account.html",
        form=form,
        now=utcnow(),
        is_coach=user.role == Role.COACH,
    ), status


@bp.route("/account/security", methods=["GET"])
@login_required
def security() -> str:
    return render_template(
        "auth/security.html",
        password_form=ChangePasswordForm(),
        confirm_form=ConfirmForm(),
        remaining_codes=mfa.remaining_recovery_codes(current_user),
        mfa_required=mfa.required_for(current_user),
    )


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password() -> str | Response | tuple[str, int]:
    form = ChangePasswordForm()
    user: User = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            with writing():
                accounts.change_password(
                    user, form.current_password.data or "", form.new_password.data or ""
                )
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            # This session carries on under the new version; every other one has ended.
            login_user(user)
            flash("Password changed. You were signed out everywhere else.", "success")
            return redirect(url_for("auth.security"))
    return render_template(
        "auth/security.html",
        password_form=form,
        confirm_form=ConfirmForm(),
        remaining_codes=mfa.remaining_recovery_codes(user),
        mfa_required=mfa.required_for(user),
    ), 422


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user: User = current_user._get_current_object()
    with writing():
        accounts.sign_out_everywhere(user)
    login_user(user)
    flash("Every other session and every API token has been signed out.", "success")
    return redirect(url_for("auth.security"))


@bp.route("/account/two-factor/disable", methods=["POST"])
@login_required
def two_factor_disable() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        with writing():
            mfa.disable(current_user._get_current_object())
    except ValidationFailed as exc:
        flash(exc.detail, "error")
        return redirect(url_for("auth.security"))
    flash("Two-factor sign-in is off.", "info")
    return redirect(url_for("auth.security"))


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@login_required
def recovery_codes() -> str | Response:
    if not ConfirmForm().validate_on_submit() or not current_user.mfa_enabled:
        abort(400)
    with writing():
        codes = mfa.regenerate_recovery_codes(current_user._get_current_object())
    return render_template(
        "auth/recovery_codes.html", codes=codes, next_url=url_for("auth.security")
    )


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("public.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        registration = accounts.Registration(
            name=form.name.data or "",
            email=form.email.data or "",
            password=form.password.data or "",
            timezone=form.timezone.data or localtime.UTC_NAME,
            clock=form.clock.data if form.clock.data in localtime.CLOCKS else locale_clock(),
        )
        try:
            with writing():
                user = accounts.register_learner(registration)
        except ValidationFailed as exc:
            apply_errors(form, exc)
            return render_template("auth/sign_up.html", form=form), 422
        session.clear()
        login_user(user)
        session["auth_at"] = session["seen_at"] = int(time.time())
        flash("Your account is ready. We sent you a welcome email.", "success")
        return redirect(url_for("public.dashboard"))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/sign_up.html", form=form), status


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> Response:
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("public.home"))
