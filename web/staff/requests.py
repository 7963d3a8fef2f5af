"""Staff: learners' requests about their sessions, the open ones first, answered in the page."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from services.booking import requests as staff_requests
from services.errors import DomainError
from web.roles import role_required
from web.staff import bp
from web.transactions import writing


def _page(errors: dict[int, str] | None = None, drafts: dict[int, str] | None = None) -> str:
    return render_template(
        "staff/requests.html",
        inbox=staff_requests.inbox(current_user),
        errors=errors or {},
        drafts=drafts or {},
        max_reply=staff_requests.MAX_MESSAGE,
    )


@bp.route("/requests")
@role_required("staff")
def requests_page() -> str:
    return _page()


@bp.route("/requests/<int:request_id>/answer", methods=["POST"])
@role_required("staff")
def answer_request(request_id: int) -> Any:
    reply = request.form.get("reply", "")
    try:
        with writing():
            answered = staff_requests.answer(current_user._get_current_object(), request_id, reply)
    except DomainError as error:
        if error.errors:  # the answer itself: shown at its field, with what was typed
            message = " ".join(m for ms in error.errors.values() for m in ms)
            return _page({request_id: message}, {request_id: reply}), 422
        flash(error.detail, "error")
        return redirect(url_for("staff.requests_page"))
    learner = answered.learner.name
    flash(f"Your answer is sent: {learner} is told, and reads it with the session.", "success")
    return redirect(url_for("staff.requests_page"))
