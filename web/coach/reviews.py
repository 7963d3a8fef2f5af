"""Coach pages for résumé reviews: the queue with due times, the résumé beside its checks, and
accept, decline (with a reason) and the review itself."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from services import resumes
from services.db import db
from services.errors import DomainError, NotFound
from services.models import Resume
from services.models.resumes import CRITERIA
from web import downloads
from web.coach import bp
from web.roles import role_required
from web.transactions import start_write

LABELS = {
    "impact": "Impact",
    "clarity": "Clarity",
    "ml_relevance": "ML relevance",
    "formatting": "Formatting",
    "ats_readiness": "ATS readiness",
}
GONE_TITLES = {
    "moved": "This résumé moved to another coach",
    "withdrawn": "This résumé was withdrawn",
    "declined": "You declined this résumé",
    "expired": "Your offer of this résumé expired",
}
SCORE_CHOICES = [SelectChoice(str(n), str(n)) for n in range(1, 6)]


class ActionForm(FlaskForm):
    """Accept: only the CSRF token."""


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Reason for declining",
        validators=[DataRequired("Say why, for the staff who follow up."), Length(max=1000)],
    )


class ReviewForm(FlaskForm):
    impact = RadioField("Impact", choices=SCORE_CHOICES, validators=[InputRequired("Score 1–5.")])
    clarity = RadioField("Clarity", choices=SCORE_CHOICES, validators=[InputRequired("Score 1–5.")])
    ml_relevance = RadioField(
        "ML relevance", choices=SCORE_CHOICES, validators=[InputRequired("Score 1–5.")]
    )
    formatting = RadioField(
        "Formatting", choices=SCORE_CHOICES, validators=[InputRequired("Score 1–5.")]
    )
    ats_readiness = RadioField(
        "ATS readiness", choices=SCORE_CHOICES, validators=[InputRequired("Score 1–5.")]
    )
    summary = TextAreaField(
        "Summary", validators=[DataRequired("Write a summary."), Length(max=resumes.MAX_SUMMARY)]
    )
    comments = TextAreaField(
        "Comments",
        validators=[Optional(), Length(max=resumes.MAX_COMMENTS)],
        description="One point per line: what to change and why.",
    )
    outcome = SelectField(
        "Outcome",
        choices=[
            SelectChoice("approved", "Approved"),
            SelectChoice("changes_suggested", "Changes suggested"),
            SelectChoice("changes_required", "Changes required"),
        ],
        validators=[DataRequired()],
    )


def _visible(resume_id: int) -> Resume:
    """The résumé if it is the coach's; one they held once and lost (moved to another coach,
    withdrawn, declined, expired) answers a page that says so, where their old notifications
    lead; any other, 404."""
    try:
        return resumes.get_visible(current_user, resume_id)
    except NotFound:
        gone = resumes.no_longer_yours(current_user._get_current_object(), resume_id)
        if gone is None:
            abort(404)
        page = render_template("coach/reviews/gone.html", gone=gone, title=GONE_TITLES[gone.why])
        abort(make_response(page, 200))


@bp.route("/reviews")
@role_required("coach")
def review_queue() -> str:
    rows = db.session.scalars(
        resumes.visible_to(current_user)
        .order_by(Resume.due_at.is_(None), Resume.due_at, Resume.id.desc())
        .limit(200)
    ).all()
    views = resumes.views(rows, current_user)
    open_views = [v for v in views if v.resume.status in ("assigned", "in_review")]
    done = [v for v in views if v.resume.status == "reviewed"][:20]
    return render_template("coach/reviews/queue.html", open_views=open_views, done=done)


def _page(resume: Resume, **forms: Any) -> str:
    view = resumes.view(resume, current_user)
    mine = view.assignment is not None and view.assignment.coach_id == current_user.id
    return render_template(
        "coach/reviews/detail.html",
        view=view,
        mine=mine,
        accept_form=forms.get("accept_form") or ActionForm(),
        decline_form=forms.get("decline_form") or DeclineForm(),
        review_form=forms.get("review_form") or ReviewForm(),
        labels=LABELS,
    )


@bp.route("/reviews/<int:resume_id>")
@role_required("coach")
def review_detail(resume_id: int) -> str:
    return _page(_visible(resume_id))


@bp.route("/reviews/<int:resume_id>/accept", methods=["POST"])
@role_required("coach")
def review_accept(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        start_write()
        resumes.accept(current_user._get_current_object(), resume_id)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("coach.review_detail", resume_id=resume.id))
    flash("Accepted. The review is yours.", "success")
    return redirect(url_for("coach.review_detail", resume_id=resume_id))


@bp.route("/reviews/<int:resume_id>/decline", methods=["POST"])
@role_required("coach")
def review_decline(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _page(resume, decline_form=form), 422
    try:
        start_write()
        resumes.decline(current_user._get_current_object(), resume_id, form.reason.data or "")
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("coach.review_detail", resume_id=resume_id))
    flash("Declined. It goes to another coach.", "success")
    return redirect(url_for("coach.review_queue"))


@bp.route("/reviews/<int:resume_id>/review", methods=["POST"])
@role_required("coach")
def review_submit(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _page(resume, review_form=form), 422
    try:
        start_write()
        resumes.submit_review(
            current_user._get_current_object(),
            resume_id,
            resumes.ReviewInput(
                summary=form.summary.data or "",
                scores={name: int(getattr(form, name).data) for name in CRITERIA},
                comments=form.comments.data or "",
                outcome=form.outcome.data,
            ),
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        for name, messages in error.errors.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = list(messages)
        flash(error.detail, "error")
        return _page(
            _visible(resume_id), review_form=form
        ), 409 if error.code != "validation_error" else 422
    flash("Review sent. The learner has been told.", "success")
    return redirect(url_for("coach.review_detail", resume_id=resume_id))


@bp.route("/reviews/<int:resume_id>/file")
@role_required("coach")
def review_file(resume_id: int) -> Response:
    return downloads.resume_file(resume_id)
