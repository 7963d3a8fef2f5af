"""Sign-up, sign-in and sign-out for the browser (Flask-Login session, CSRF-protected forms)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from services import accounts
from services.db import db
from services.errors import InvalidCredentials, ValidationFailed
from web.auth.forms import SignInForm, SignUpForm
from web.extensions import limiter

bp = Blueprint("auth", __name__)


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    parts = urlsplit(target)
    # Only same-site paths: no scheme, no host, no protocol-relative "//evil".
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: bool(g.get("login_failed")))
def sign_in() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("public.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data or "", form.password.data or "")
        except InvalidCredentials as exc:
            g.login_failed = True
            db.session.rollback()
            form.password.errors = [exc.detail]
            return render_template("auth/sign_in.html", form=form), 401
        db.session.commit()
        login_user(user)
        flash(f"Welcome back, {user.name}.", "success")
        return redirect(_safe_next(url_for("public.dashboard")))
    return render_template("auth/sign_in.html", form=form)


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("public.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            user = accounts.register_learner(
                accounts.Registration(
                    name=form.name.data or "",
                    email=form.email.data or "",
                    password=form.password.data or "",
                    timezone=form.timezone.data or "UTC",
                )
            )
        except ValidationFailed as exc:
            db.session.rollback()
            for name, messages in exc.errors.items():
                getattr(form, name).errors = list(messages)
            return render_template("auth/sign_up.html", form=form), 422
        db.session.commit()
        login_user(user)
        flash("Your account is ready. We sent you a welcome email.", "success")
        return redirect(url_for("public.dashboard"))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/sign_up.html", form=form), status


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> Response:
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("public.home"))
