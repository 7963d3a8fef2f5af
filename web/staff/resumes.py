"""Staff: one résumé in full (the file, checks, timeline, reviews, every routing decision with its
components), assigned or withdrawn from the same page."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from services import resumes
from services.errors import DomainError, NotFound
from services.resumes import queue, routing
from web import downloads
from web.roles import role_required
from web.staff import bp
from web.staff.console import active_coaches
from web.transactions import writing


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Say why, for the audit log."), Length(max=resumes.MAX_REASON)],
        description="The learner and the coach who held it see the résumé as withdrawn.",
    )


def _visible(resume_id: int) -> Any:
    try:
        return resumes.get_visible(current_user, resume_id)
    except NotFound:
        abort(404)


def _page(resume: Any, withdraw_form: WithdrawForm | None = None) -> str:
    view = resumes.view(resume, current_user)
    return render_template(
        "staff/resume.html",
        view=view,
        decisions=list(reversed(routing.decisions_for(resume.id))),
        coaches=active_coaches(),
        withdraw_form=withdraw_form or WithdrawForm(),
        can_assign=resume.status in resumes.OPEN_STATUSES,
    )


@bp.route("/resumes/<int:resume_id>")
@role_required("staff")
def resume_detail(resume_id: int) -> str:
    return _page(_visible(resume_id))


@bp.route("/resumes/<int:resume_id>/file")
@role_required("staff")
def resume_file(resume_id: int) -> Response:
    return downloads.resume_file(resume_id)


@bp.route("/resumes/<int:resume_id>/cancel", methods=["POST"])
@role_required("staff")
def resume_withdraw(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _page(resume, form), 422
    try:
        with writing():
            resumes.withdraw(current_user._get_current_object(), resume_id, form.reason.data or "")
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("staff.resume_detail", resume_id=resume_id))
    flash(f"Résumé {resume_id} withdrawn.", "success")
    return redirect(url_for("staff.resume_detail", resume_id=resume_id))


@bp.route("/resumes/<int:resume_id>/unpin", methods=["POST"])
@role_required("staff")
def resume_unpin(resume_id: int) -> Any:
    _visible(resume_id)
    try:
        with writing():
            unpinned = queue.unpin(current_user._get_current_object(), resume_id)
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("staff.resume_detail", resume_id=resume_id))
    flash(
        f"Résumé {resume_id} is unpinned: a rebalance may move it."
        if unpinned
        else f"Résumé {resume_id} was not pinned.",
        "success" if unpinned else "info",
    )
    return redirect(url_for("staff.resume_detail", resume_id=resume_id))
