"""Learner pages: write to Career Services staff about one booking (once the learner can no
longer change it themselves), and read staff's answer with the booking."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from services.booking import requests as staff_requests
from services.errors import DomainError
from services.models import Booking, StaffRequest
from web.forms import apply_errors
from web.learner import bp
from web.learner.bookings import own_booking
from web.roles import role_required
from web.transactions import writing


class ContactForm(FlaskForm):
    message = TextAreaField(
        "Your message",
        validators=[
            DataRequired("Write what you need from staff."),
            Length(max=staff_requests.MAX_MESSAGE),
        ],
        description="Say what you need: to cancel or move the session, or anything staff should "
        "know. Staff answer here, and we tell you when they do.",
    )


@bp.app_template_global("staff_requests_for")
def staff_requests_for(booking: Booking) -> list[StaffRequest]:
    """The viewer's requests about ``booking``, oldest first (for the booking's pages)."""
    return staff_requests.for_booking(current_user._get_current_object(), booking.id)


@bp.route("/bookings/<int:booking_id>/contact", methods=["GET", "POST"])
@role_required("learner")
def contact_staff(booking_id: int) -> Any:
    found = own_booking(booking_id)
    form = ContactForm()
    if form.validate_on_submit():
        try:
            with writing():
                staff_requests.ask(
                    current_user._get_current_object(), booking_id, form.message.data or ""
                )
        except DomainError as error:
            apply_errors(form, error)
            if not error.errors:
                flash(error.detail, "error")
            return render_template(
                "learner/bookings/contact.html", booking=found, form=form
            ), 409 if not error.errors else 422
        flash("Sent to Career Services staff. We tell you when they answer.", "success")
        return redirect(staff_requests.thread_path(found))
    status = 422 if form.errors else 200
    return render_template("learner/bookings/contact.html", booking=found, form=form), status
