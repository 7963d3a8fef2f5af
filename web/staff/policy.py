"""Staff: the booking policy — interview types and their settings, suspensions, the waitlist."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from services.booking import admin, interview_types, waitlist
from services.errors import DomainError, NotFound, ValidationFailed
from web.forms import apply_errors
from web.roles import role_required
from web.staff import bp
from web.staff.console import page_or_first
from web.transactions import writing


def _whole(label: str, setting: str, unit: str, description: str) -> IntegerField:
    low, high = interview_types.LIMITS[setting]
    return IntegerField(
        label,
        validators=[
            InputRequired(f"Enter the {label.lower()}."),
            NumberRange(low, high, f"Use a whole number of {unit} from {low} to {high}."),
        ],
        description=description,
    )


class InterviewTypeForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter a name."),
            Length(
                max=interview_types.NAME_MAX,
                message=f"Use at most {interview_types.NAME_MAX} characters.",
            ),
        ],
    )
    description = TextAreaField(
        "Description",
        validators=[
            Length(
                max=interview_types.DESCRIPTION_MAX,
                message=f"Use at most {interview_types.DESCRIPTION_MAX} characters.",
            )
        ],
        description="What learners read when they choose a type.",
    )
    duration_minutes = _whole(
        "Duration", "duration_minutes", "minutes", "Length of the session in minutes."
    )
    buffer_before_minutes = _whole(
        "Buffer before",
        "buffer_before_minutes",
        "minutes",
        "Minutes the coach keeps free before the session.",
    )
    buffer_after_minutes = _whole(
        "Buffer after",
        "buffer_after_minutes",
        "minutes",
        "Minutes the coach keeps free after the session.",
    )
    min_notice_hours = _whole(
        "Minimum notice",
        "min_notice_hours",
        "hours",
        "Hours ahead a session must be booked. Shorter than the cancellation cutoff, a late "
        "booking cannot be moved or cancelled online.",
    )
    horizon_days = _whole(
        "Booking horizon", "horizon_days", "days", "How many days ahead learners may book."
    )
    cancel_cutoff_hours = _whole(
        "Cancellation cutoff",
        "cancel_cutoff_hours",
        "hours",
        "Learners cancel or reschedule at least this many hours before (staff may override).",
    )
    active = BooleanField(
        "Bookable", description="Untick to stop new bookings; booked sessions stay."
    )
    reason = StringField(
        "Reason (optional)",
        validators=[Length(max=1000, message="Use at most 1000 characters.")],
        description="Kept in the audit log.",
    )


def _message(exc: DomainError) -> str:
    return " ".join([exc.detail, *(m for ms in exc.errors.values() for m in ms)])


# --- interview types ------------------------------------------------------------------------------


@bp.route("/interview-types")
@role_required("staff")
def interview_types_page() -> str:
    types = interview_types.list_all()
    late = {
        t.slug
        for t in types
        if interview_types.late_booking_warning(t.min_notice_hours, t.cancel_cutoff_hours)
    }
    return render_template("staff/interview_types.html", types=types, late=late)


@bp.route("/interview-types/<slug>/edit", methods=["GET", "POST"])
@role_required("staff")
def edit_interview_type(slug: str) -> str | Response:
    try:
        itype = interview_types.get(slug)
    except NotFound:
        abort(404)
    form = InterviewTypeForm(obj=itype if request.method == "GET" else None)
    if form.validate_on_submit():
        changes = {name: getattr(form, name).data for name in interview_types.EDITABLE}
        changes["description"] = changes["description"] or ""
        try:
            with writing():
                interview_types.update(current_user, slug, changes, form.reason.data or "")
        except ValidationFailed as exc:
            apply_errors(form, exc, fallback=form.reason)
            itype = interview_types.get(slug)
        else:
            warning = interview_types.late_booking_warning(
                itype.min_notice_hours, itype.cancel_cutoff_hours
            )
            flash(f"{itype.name} is updated; booked sessions keep their times.", "success")
            if warning:
                flash(f"{itype.name}: {warning}", "info")
            return redirect(url_for("staff.interview_types_page"))
    # Warn of what the values on screen (the saved ones, or those just sent back) would do.
    notice, cutoff = form.min_notice_hours.data, form.cancel_cutoff_hours.data
    return render_template(
        "staff/interview_type_edit.html",
        form=form,
        itype=itype,
        limits=interview_types.LIMITS,
        warning=interview_types.late_booking_warning(notice, cutoff)
        if isinstance(notice, int) and isinstance(cutoff, int)
        else None,
    )


# --- suspensions ----------------------------------------------------------------------------------


@bp.route("/suspensions")
@role_required("staff")
def suspensions() -> str:
    active_only = request.args.get("active") == "1"
    page, first_page = page_or_first(
        lambda cursor: admin.suspensions(current_user, active_only=active_only, cursor=cursor)
    )
    return render_template(
        "staff/suspensions.html",
        page=page,
        active_only=active_only,
        args={"active": "1"} if active_only else {},
        first_page=first_page,
    )


@bp.route("/suspensions/<int:suspension_id>/lift", methods=["POST"])
@role_required("staff")
def lift_suspension(suspension_id: int) -> Response:
    try:
        with writing():
            suspension = admin.lift_suspension(
                current_user, suspension_id, request.form.get("reason", "")
            )
    except DomainError as exc:
        flash(f"Suspension {suspension_id} was not lifted: {_message(exc)}", "error")
        return redirect(url_for("staff.suspensions"))
    name = suspension.learner.name
    flash(f"{name} can book again; they are told in the app.", "success")
    return redirect(url_for("staff.suspensions"))


# --- waitlist -------------------------------------------------------------------------------------


@bp.route("/waitlist")
@role_required("staff")
def waitlist_page() -> str:
    queues, more = waitlist.queues(current_user)
    return render_template(
        "staff/waitlist.html", queues=queues, more=more, limit=waitlist.QUEUE_LIMIT
    )


@bp.route("/waitlist/<int:entry_id>/remove", methods=["POST"])
@role_required("staff")
def remove_waitlist_entry(entry_id: int) -> Response:
    try:
        with writing():
            entry = waitlist.remove_entry(current_user, entry_id, request.form.get("reason", ""))
    except DomainError as exc:
        flash(f"Waitlist entry {entry_id} was not removed: {_message(exc)}", "error")
        return redirect(url_for("staff.waitlist_page"))
    name = entry.learner.name
    flash(f"{name} is off the waitlist.", "success")
    return redirect(url_for("staff.waitlist_page"))
