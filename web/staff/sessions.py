"""Staff: every session, with filters; cancel with override; export."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from services import exports
from services.booking import admin, availability, busy
from services.errors import DomainError
from services.models.booking import VISIBLE
from services.resumes import queue
from web.roles import role_required
from web.staff import bp
from web.staff.console import _csv, _date_arg, _int_arg, active_coaches, page_or_first
from web.transactions import writing


def _filter() -> admin.SessionFilter:
    status = request.args.get("status") or None
    return admin.SessionFilter(
        status=status if status in VISIBLE else None,
        coach_id=_int_arg("coach_id"),
        learner=(request.args.get("learner") or "").strip() or None,
        start_from=_date_arg("from"),
        start_to=_date_arg("to"),
    )


@bp.route("/sessions")
@role_required("staff")
def sessions() -> str:
    filters = _filter()
    page, first_page = page_or_first(
        lambda cursor: admin.sessions(current_user, filters, cursor=cursor)
    )
    figures = queue.stats(current_user)
    return render_template(
        "staff/sessions.html",
        page=page,
        filters=filters,
        args={k: v for k, v in request.args.items() if k != "cursor"},
        first_page=first_page,
        coaches=active_coaches(),
        statuses=VISIBLE,
        no_show_rate=figures["no_show_rate"],
        clashes=busy.clashes()[:50],
        away_sessions=availability.during_time_off(),
    )


@bp.route("/sessions/<int:booking_id>/cancel", methods=["POST"])
@role_required("staff")
def cancel_session(booking_id: int) -> BaseResponse:
    try:
        with writing():
            admin.cancel_booking(current_user, booking_id, request.form.get("reason", ""))
    except DomainError as exc:
        message = " ".join([exc.detail, *(m for ms in exc.errors.values() for m in ms)])
        flash(f"Session {booking_id} was not cancelled: {message}", "error")
        return redirect(url_for("staff.sessions"))
    flash(f"Session {booking_id} is cancelled; both people are told.", "success")
    return redirect(url_for("staff.sessions"))


@bp.route("/sessions.csv")
@role_required("staff")
def export_sessions() -> Response:
    filters = _filter()
    return _csv(exports.export_bookings, filters, "bookings", "sessions.csv")
