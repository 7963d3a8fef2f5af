"""The public site (home, FAQ) and the health endpoints."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, Response, abort, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import text

from services import dashboard as dashboards
from services import faq, notifications
from services.db import db
from web.page_cache import anonymous_page, content_max_age
from web.problems import problem

bp = Blueprint("public", __name__)


@bp.route("/")
def home() -> Response | str:
    pages = faq.articles(max_age=content_max_age())
    return anonymous_page(
        tuple(page.key for page in pages.values()),
        lambda: render_template(
            "public/home.html",
            services=pages.get(faq.CAREER_SERVICES_SLUG),
            article=pages.get(faq.FAQ_SLUG),
        ),
    )


@bp.route("/faq")
def faq_page() -> Response | str:
    pages = faq.articles(max_age=content_max_age())
    page = pages.get(faq.FAQ_SLUG)
    if page is None:
        abort(404)
    return anonymous_page(
        tuple(page.key for page in pages.values()),
        lambda: render_template(
            "public/faq.html", page=page, services=pages.get(faq.CAREER_SERVICES_SLUG)
        ),
    )


@bp.route("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> None:
    db.session.execute(text("SELECT 1"))


def _check_redis() -> None:
    client = redis.Redis.from_url(
        current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=1
    )
    try:
        client.ping()
    finally:
        client.close()


@bp.route("/readyz")
def readyz() -> Any:
    checks: dict[str, str] = {}
    failing: list[str] = []
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready
            checks[name] = f"error: {type(exc).__name__}"
            failing.append(name)
    if failing:
        return problem(
            503, "not_ready", f"Not ready: {', '.join(failing)} is not answering.", checks=checks
        )
    return {"status": "ok", "checks": checks}


@bp.route("/dashboard")
@login_required
def dashboard() -> str:
    """Every role's start page: what is next for them, each item linking to its page."""
    user = current_user._get_current_object()
    gather = {
        "learner": dashboards.for_learner,
        "coach": dashboards.for_coach,
        "staff": dashboards.for_staff,
    }[user.role]
    return render_template(
        "public/dashboard.html",
        board=gather(user),
        unread=notifications.list_notifications(user.id, unread=True, limit=3).items,
    )
