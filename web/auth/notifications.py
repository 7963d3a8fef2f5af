"""The notification centre for the browser: the list, mark one or all read, email preferences,
and the unread badge in the navigation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField

from services import notifications
from services.errors import NotFound, ValidationFailed
from web.auth.routes import bp
from web.transactions import writing


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token is needed."""


def unread_notifications() -> int:
    """The signed-in user's unread count, once per request (the nav badge asks for it)."""
    if not current_user.is_authenticated:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = notifications.unread_count(current_user.id)
    return int(g.unread_notifications)


@bp.app_context_processor
def _inject_badge() -> dict[str, Any]:
    return {"unread_notifications": unread_notifications}


def _back(unread: bool) -> Response:
    return redirect(url_for("auth.notification_list", unread="true" if unread else None))


def _unread_arg() -> bool:
    return request.values.get("unread", "").lower() in {"1", "true", "yes"}


@bp.route("/notifications")
@login_required
def notification_list() -> str | tuple[str, int]:
    unread = _unread_arg()
    cursor = request.args.get("cursor") or None
    try:
        page = notifications.list_notifications(current_user.id, unread=unread, cursor=cursor)
    except ValidationFailed:
        page = notifications.list_notifications(current_user.id, unread=unread)
        flash("That page of notifications no longer exists; here is the first.", "info")
    return render_template(
        "notifications/list.html",
        page=page,
        unread=unread,
        unread_total=unread_notifications(),
        form=ActionForm(),
        first_page=cursor is None,
    )


def _on_this_site(link: str) -> str:
    """A notification's link as a path on this site (links are stored absolute, for emails):
    opening one never leaves the site, whatever its host says."""
    parts = urlsplit(link)
    path = "/" + parts.path.lstrip("/\\")
    return urlunsplit(("", "", path, parts.query, parts.fragment))


@bp.route("/notifications/<int:notification_id>")
@login_required
def notification_open(notification_id: int) -> Response:
    """Open a notification: it is marked read and the browser goes where it points (or back to
    the list, for one that points nowhere)."""
    user_id = current_user.id
    try:
        with writing():
            opened = notifications.mark_read(user_id, notification_id)
            link = opened.link
    except NotFound:
        abort(404)
    if not link:
        return redirect(url_for("auth.notification_list"))
    return redirect(_on_this_site(link))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def notification_read(notification_id: int) -> Response:
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
        return _back(_unread_arg())
    try:
        with writing():
            notifications.mark_read(current_user.id, notification_id)
    except NotFound:
        flash("There is no such notification.", "error")
        return _back(_unread_arg())
    flash("Marked as read.", "success")
    return _back(_unread_arg())


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def notification_read_all() -> Response:
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
        return _back(_unread_arg())
    with writing():
        marked = notifications.mark_all_read(current_user.id)
    flash(
        f"Marked {marked} notification{'s' if marked != 1 else ''} as read."
        if marked
        else "Nothing was unread.",
        "success",
    )
    return _back(False)


def _preferences_form(choices: dict[str, bool], data: Any = None) -> FlaskForm:
    """A form with one checkbox per kind the user's role may get."""

    class PreferencesForm(FlaskForm):
        pass

    for kind in notifications.kinds_for(current_user.role):
        setattr(
            PreferencesForm,
            kind.name,
            BooleanField(kind.label, description=kind.description, default=choices[kind.name]),
        )
    return PreferencesForm(formdata=data)


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def notification_preferences() -> str | Response | tuple[str, int]:
    choices = notifications.email_preferences(current_user)
    form = _preferences_form(choices, request.form if request.method == "POST" else None)
    kinds = notifications.kinds_for(current_user.role)
    if request.method == "POST":
        if not form.validate():
            return render_template("notifications/preferences.html", form=form, kinds=kinds), 400
        with writing():
            notifications.set_email_preferences(
                current_user, {kind.name: bool(form[kind.name].data) for kind in kinds}
            )
        flash("Your email preferences are saved.", "success")
        return redirect(url_for("auth.notification_preferences"))
    return render_template("notifications/preferences.html", form=form, kinds=kinds)
