"""The staff console: dashboard, queue (assign, reassign, export) and the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from services import audit, exports
from services.booking import interview_types
from services.db import db
from services.errors import DomainError, ValidationFailed
from services.models import ResumeStatus, Role, User
from services.resumes import queue, stats
from services.validation import is_id
from web.roles import role_required
from web.staff import bp
from web.staff.charts import bar_chart
from web.streaming import streamed
from web.transactions import writing

P = TypeVar("P")

BUCKET_LABELS = {
    "under_1d": "< 1 day",
    "1d_3d": "1–3 days",
    "3d_7d": "3–7 days",
    "over_7d": "> 7 days",
}


def active_coaches() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.name)
        )
    )


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and is_id(int(value)) else None


def page_or_first(fetch: Callable[[str | None], P]) -> tuple[P, bool]:
    """The page that the request's ``?cursor=`` names, and whether it is the first: a cursor that
    is not valid (edited, or from an older link) shows the first page rather than an error."""
    cursor = request.args.get("cursor") or None
    try:
        return fetch(cursor), cursor is None
    except ValidationFailed:
        return fetch(None), True


def _date_arg(name: str) -> dt.datetime | None:
    value = request.args.get(name, "")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


# --- dashboard ------------------------------------------------------------------------------------


@bp.route("/")
@role_required("staff")
def dashboard() -> str:
    figures = queue.stats(current_user)
    weekly = stats.turnaround_per_week(current_user)
    week_labels = [w["week_start"].strftime("%-d %b") for w in weekly]
    charts = [
        bar_chart(
            "backlog-age",
            "Open backlog by age",
            [BUCKET_LABELS.get(b["bucket"], b["bucket"]) for b in figures["backlog"]["by_age"]],
            [("Résumés", [b["count"] for b in figures["backlog"]["by_age"]])],
        ),
        bar_chart(
            "turnaround",
            "Turnaround per week (hours from upload to review)",
            week_labels,
            [
                ("Median", [w["median_hours"] for w in weekly]),
                ("p90", [w["p90_hours"] for w in weekly]),
            ],
            unit="h",
        ),
        bar_chart(
            "bookings-week",
            "Sessions per week",
            [w["week_start"].strftime("%-d %b") for w in figures["bookings_per_week"]],
            [("Sessions", [w["count"] for w in figures["bookings_per_week"]])],
        ),
        bar_chart(
            "coach-load",
            "Load per coach (open reviews and capacity)",
            [row["coach"]["name"] for row in figures["load"]],
            [
                ("Open", [row["open"] for row in figures["load"]]),
                ("Capacity", [row["capacity"] for row in figures["load"]]),
            ],
        ),
    ]
    return render_template(
        "staff/dashboard.html",
        figures=figures,
        charts=charts,
        coverage=interview_types.coverage(),
    )


# --- the queue ------------------------------------------------------------------------------------


def _queue_filter() -> queue.QueueFilter:
    status = request.args.get("status") or None
    if status not in {None, "all", *(s.value for s in ResumeStatus)}:
        status = None
    sort = request.args.get("sort", "due")
    return queue.QueueFilter(
        status=status,
        coach_id=_int_arg("coach_id"),
        overdue=request.args.get("overdue") == "1",
        search=(request.args.get("q") or "").strip() or None,
        sort=sort if sort in queue.SORTS else "due",
    )


@bp.route("/queue")
@role_required("staff")
def queue_page() -> str:
    filters = _queue_filter()
    page, first_page = page_or_first(
        lambda cursor: queue.queue_page(current_user, filters, cursor=cursor)
    )
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template(
        "staff/queue.html",
        page=page,
        filters=filters,
        args=args,
        first_page=first_page,
        coaches=active_coaches(),
        statuses=[s.value for s in ResumeStatus],
    )


@bp.route("/queue/<int:resume_id>/assign", methods=["POST"])
@role_required("staff")
def assign(resume_id: int) -> BaseResponse:
    back = request.form.get("next") or url_for("staff.queue_page")
    if not back.startswith("/staff/"):
        back = url_for("staff.queue_page")
    coach_id = request.form.get("coach_id", "")
    try:
        with writing():
            resume = queue.assign(
                current_user,
                resume_id,
                int(coach_id) if coach_id.isdigit() else 0,
                request.form.get("reason", ""),
            )
    except DomainError as exc:
        message = " ".join([exc.detail, *(m for ms in exc.errors.values() for m in ms)])
        flash(f"Résumé {resume_id} was not assigned: {message}", "error")
        return redirect(back)
    name = resume.reviewer.name if resume.reviewer else "nobody"
    flash(f"Résumé {resume_id} is now offered to {name}.", "success")
    return redirect(back)


def _csv(
    export: Callable[[int, Any], Iterable[str]], filters: Any, what: str, filename: str
) -> Response:
    """An export (``export(staff id, filters)``: the service's CSV records, header first) as a
    streamed download, audited with its row count once its last line is out (web.streaming).
    The export takes the staff member's id: the signed-in User is detached where the body runs."""
    staff_id = int(current_user.id)
    return Response(
        streamed(
            export(staff_id, filters),
            lambda lines: exports.record_export(staff_id, what, filters, rows=lines - 1),
        ),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@bp.route("/queue.csv")
@role_required("staff")
def export_queue() -> Response:
    filters = _queue_filter()
    return _csv(exports.export_queue, filters, "queue", "queue.csv")


# --- audit ----------------------------------------------------------------------------------------

AUDIT_ACTIONS = (
    "resume.assign",
    "resume.reassign",
    "resume.pin",
    "resume.unpin",
    "resume.cancel",
    "coach.move_all",
    "coach.activate",
    "coach.deactivate",
    "coach.update",
    "coach.invite",
    "booking.cancel",
    "interview_type.update",
    "suspension.lift",
    "waitlist.remove",
    "faq.update",
    "faq.add",
    "rebalance.apply",
    "rebalance.undo",
    "request.answer",
    "export.queue",
    "export.bookings",
    "account.update",
    "offered",
    "unassigned",
    "manual",
)


AUDIT_SUBJECTS = (
    "resume",
    "coach",
    "booking",
    "interview_type",
    "suspension",
    "waitlist",
    "faq",
    "rebalance",
    "request",
    "export",
    "account",
)


@bp.route("/audit")
@role_required("staff")
def audit_log() -> str:
    source = request.args.get("source") or None
    action = request.args.get("action") or None
    subject_type = request.args.get("subject_type") or None
    filters = audit.AuditFilter(
        source=source if source in audit.SOURCES else None,
        action=action if action in AUDIT_ACTIONS else None,
        actor_id=_int_arg("actor_id"),
        subject_type=subject_type if subject_type in AUDIT_SUBJECTS else None,
        subject_id=_int_arg("subject_id"),
        since=_date_arg("since"),
        until=_date_arg("until") + dt.timedelta(days=1) if _date_arg("until") else None,
        text=(request.args.get("q") or "").strip() or None,
    )
    page, first_page = page_or_first(lambda cursor: audit.entries(filters, cursor=cursor))
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template(
        "staff/audit.html",
        items=page.items,
        next_cursor=page.next_cursor,
        args=args,
        first_page=first_page,
        actions=AUDIT_ACTIONS,
        subjects=AUDIT_SUBJECTS,
        staff_members=list(
            db.session.scalars(select(User).where(User.role == Role.STAFF).order_by(User.name))
        ),
    )
