"""Coach pages for résumé reviews: the queue with due times, the résumé beside its checks, and
accept, decline (with a reason) and the review itself.

The review form (the rubric) is live only once the coach has accepted the offer. What the coach
types is kept as a draft on the server (``PUT .../draft``, sent by static/js/review.js as they
type, and saved with every submit), so it survives a reload and a sign-out. Sending asks first:
an in-page dialog with the review as the learner will see it, or, without the script, a confirm
step page. A sent review can be corrected for REVIEW_CORRECTION_HOURS; the learner is told."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from flask import abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, IntegerField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from services import resumes
from services.db import db
from services.errors import DomainError, NotFound
from services.models import Resume, Review, ReviewDraft
from services.resumes import annotations as marks
from services.rubric import CRITERIA, LABELS, OUTCOMES, RUBRIC
from web import downloads
from web.coach import bp
from web.formatting import local
from web.forms import apply_errors, write_or_flash
from web.roles import role_required
from web.transactions import writing

GONE_TITLES = {
    "moved": "This résumé moved to another coach",
    "withdrawn": "This résumé was withdrawn",
    "declined": "You declined this résumé",
    "expired": "Your offer of this résumé expired",
}
SCORE_CHOICES = [SelectChoice(str(n), str(n)) for n in range(1, 6)]
OUTCOME_CHOICES = [SelectChoice(value, label) for value, label in OUTCOMES.items()]


class ActionForm(FlaskForm):
    """Accept: only the CSRF token."""


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Reason for declining",
        validators=[DataRequired("Say why, for the staff who follow up."), Length(max=1000)],
    )


def _score(name: str) -> RadioField:
    return RadioField(LABELS[name], choices=SCORE_CHOICES, validators=[InputRequired("Score 1–5.")])


class ReviewForm(FlaskForm):
    impact = _score("impact")
    clarity = _score("clarity")
    ml_relevance = _score("ml_relevance")
    formatting = _score("formatting")
    ats_readiness = _score("ats_readiness")
    summary = TextAreaField(
        "Summary", validators=[DataRequired("Write a summary."), Length(max=resumes.MAX_SUMMARY)]
    )
    comments = TextAreaField(
        "Comments",
        validators=[Optional(), Length(max=resumes.MAX_COMMENTS)],
        description="One point per line: what to change and why.",
    )
    # No default: the coach chooses, every time.
    outcome = RadioField(
        "Outcome",
        choices=OUTCOME_CHOICES,
        validators=[InputRequired("Choose an outcome: the learner reads it first.")],
    )
    # "yes" once the coach has seen the review as the learner will (the dialog, or the confirm
    # step page); anything else shows them that first.
    confirmed = HiddenField()

    def review_input(self) -> resumes.ReviewInput:
        return resumes.ReviewInput(
            summary=self.summary.data or "",
            scores={name: int(getattr(self, name).data) for name in CRITERIA},
            comments=self.comments.data or "",
            outcome=self.outcome.data,
        )


assert tuple(name for name in CRITERIA if name in ReviewForm.__dict__) == CRITERIA


class AnnotationForm(FlaskForm):
    """A comment on the résumé: on selected text (static/js/annotate.js fills the quote, its
    context and rectangles from the selection; without the script, type the words), or pinned
    to a point of a PDF's page."""

    kind = RadioField(
        "The comment is",
        choices=[
            SelectChoice("text", "On the selected text"),
            SelectChoice("pin", "Pinned to a point on a page"),
        ],
        default="text",
    )
    quote = TextAreaField(
        "Selected text",
        validators=[Optional(), Length(max=marks.MAX_EXACT)],
        description="Select words in the résumé, or type them exactly as they are.",
    )
    prefix = HiddenField()
    suffix = HiddenField()
    rects = HiddenField()
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=10_000)])
    x_percent = IntegerField(
        "From the left (%)", validators=[Optional(), NumberRange(min=0, max=100)]
    )
    y_percent = IntegerField(
        "From the top (%)", validators=[Optional(), NumberRange(min=0, max=100)]
    )
    body = TextAreaField(
        "Comment",
        validators=[DataRequired("Write the comment."), Length(max=marks.MAX_BODY)],
        description="What is wrong, and why.",
    )
    suggestion = TextAreaField(
        "Suggested rewrite (optional)", validators=[Optional(), Length(max=marks.MAX_SUGGESTION)]
    )
    criterion = SelectField(
        "Rubric criterion (optional)",
        choices=[SelectChoice("", "None"), *(SelectChoice(n, LABELS[n]) for n in CRITERIA)],
        default="",
    )

    def annotation_input(self) -> marks.AnnotationInput:
        try:
            rects = json.loads(self.rects.data or "[]")
        except ValueError:
            rects = []
        pin = self.kind.data == "pin"
        return marks.AnnotationInput(
            kind=self.kind.data or "text",
            body=self.body.data or "",
            suggestion=self.suggestion.data or None,
            criterion=self.criterion.data or None,
            exact="" if pin else " ".join((self.quote.data or "").split()),
            prefix=self.prefix.data or "",
            suffix=self.suffix.data or "",
            page=self.page.data,
            rects=rects if isinstance(rects, list) and not pin else [],
            x=None if self.x_percent.data is None else self.x_percent.data / 100,
            y=None if self.y_percent.data is None else self.y_percent.data / 100,
        )


# Where the service names a field, the form shows it.
_FORM_FIELD = {"quote.exact": "quote", "point.x": "x_percent", "point.y": "y_percent"}


def _prefill(source: ReviewDraft | Review | None) -> dict[str, Any]:
    if source is None:
        return {}
    scores = source.scores
    return {
        **{name: str(scores[name]) for name in CRITERIA if scores.get(name)},
        "summary": source.summary,
        "comments": source.comments,
        "outcome": source.outcome,
    }


def _typed() -> resumes.DraftInput:
    """What the submitted form holds, as a draft (whatever is missing or wrong in it)."""
    data = request.form
    return resumes.DraftInput(
        scores={name: data.get(name, "") for name in CRITERIA},
        summary=data.get("summary", ""),
        comments=data.get("comments", ""),
        outcome=data.get("outcome") or None,
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
    coach = current_user._get_current_object()
    view = resumes.view(resume, coach)
    mine = view.assignment is not None and view.assignment.coach_id == coach.id
    accepted = mine and view.assignment is not None and view.assignment.status == "accepted"
    correctable = not mine and resumes.can_correct(coach, view.review)
    draft = None
    if accepted and view.assignment is not None:
        draft = resumes.draft_of(coach, view.assignment.version_id)
    elif correctable and view.review is not None:
        draft = resumes.draft_of(coach, view.review.version_id)
    window = resumes.Settings.current().correction_window
    review_form = forms.get("review_form")
    if review_form is None:
        review_form = ReviewForm(
            formdata=None, data=_prefill(draft or (view.review if correctable else None))
        )
    annotations: list[Any] = []
    followups: list[Any] = []
    if view.version.analysis_status == "done":
        annotations = marks.of_versions(coach, [view.version.id]).get(view.version.id, [])
        followups = marks.followups(coach, resume, view.version)
    return render_template(
        "coach/reviews/detail.html",
        annotations=annotations,
        followups=followups,
        annotation_form=forms.get("annotation_form") or AnnotationForm(formdata=None),
        state=marks.state_label,
        match_labels=marks.MATCH_LABELS,
        view=view,
        mine=mine,
        accepted=accepted,
        correctable=correctable,
        correct_until=resumes.correctable_until(view.review) if view.review else None,
        correction_hours=f"{window / dt.timedelta(hours=1):g}",
        draft=draft,
        accept_form=forms.get("accept_form") or ActionForm(),
        decline_form=forms.get("decline_form") or DeclineForm(),
        review_form=review_form,
        rubric=RUBRIC,
        labels=LABELS,
        outcomes=OUTCOMES,
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
        with writing():
            resumes.accept(current_user._get_current_object(), resume_id)
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("coach.review_detail", resume_id=resume.id))
    flash("Accepted. The review is yours: your draft is saved as you type.", "success")
    return redirect(url_for("coach.review_detail", resume_id=resume_id))


@bp.route("/reviews/<int:resume_id>/decline", methods=["POST"])
@role_required("coach")
def review_decline(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _page(resume, decline_form=form), 422
    try:
        with writing():
            resumes.decline(current_user._get_current_object(), resume_id, form.reason.data or "")
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("coach.review_detail", resume_id=resume_id))
    flash("Declined. It goes to another coach.", "success")
    return redirect(url_for("coach.review_queue"))


@bp.route("/reviews/<int:resume_id>/draft", methods=["PUT"])
@role_required("coach")
def review_draft(resume_id: int) -> Any:
    """Keep what the coach has typed: JSON ``{scores, summary, comments, outcome}`` from the
    page's script (CSRF token in ``X-CSRFToken``), or the same as form fields."""
    _visible(resume_id)
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        scores = body.get("scores")
        draft = resumes.DraftInput(
            scores=dict(scores) if isinstance(scores, dict) else {},
            summary=str(body.get("summary") or ""),
            comments=str(body.get("comments") or ""),
            outcome=str(body["outcome"]) if body.get("outcome") else None,
        )
    else:
        draft = _typed()
    try:
        with writing():
            row = resumes.save_draft(current_user._get_current_object(), resume_id, draft)
    except DomainError as error:
        status = 404 if isinstance(error, NotFound) else 422 if error.errors else 409
        return jsonify(code=error.code, detail=error.detail, errors=error.errors), status
    return jsonify(
        saved_at=row.updated_at.isoformat(),
        message=f"Draft saved at {local(row.updated_at, '%H:%M')}.",
    )


def _send(resume_id: int, *, correcting: bool) -> Any:
    """The review (or its correction) as submitted: kept as a draft whatever happens, shown as
    the learner will see it unless the coach already saw that, then sent."""
    resume = _visible(resume_id)
    coach = current_user._get_current_object()
    form = ReviewForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        _keep_draft(coach, resume_id)
        flash("Some parts of the review are missing; they are marked below.", "error")
        return _page(resume, review_form=form), 422
    if form.confirmed.data != "yes":
        _keep_draft(coach, resume_id)
        view = resumes.view(resume, coach)
        return render_template(
            "coach/reviews/confirm.html",
            view=view,
            form=form,
            correcting=correcting,
            scores=[(LABELS[name], int(getattr(form, name).data)) for name in CRITERIA],
            outcome_label=OUTCOMES[form.outcome.data or ""],
            action=url_for(
                "coach.review_correct" if correcting else "coach.review_submit",
                resume_id=resume_id,
            ),
        )
    try:
        with writing():
            if correcting:
                resumes.correct_review(coach, resume_id, form.review_input())
            else:
                resumes.submit_review(coach, resume_id, form.review_input(), require_accepted=True)
    except DomainError as error:
        apply_errors(form, error)
        flash(error.detail, "error")
        _keep_draft(coach, resume_id)
        return _page(_visible(resume_id), review_form=form), (
            409 if error.code != "validation_error" else 422
        )
    if correcting:
        flash("Correction sent. The learner has been told what changed.", "success")
    else:
        flash("Review sent. The learner has been told.", "success")
    return redirect(url_for("coach.review_detail", resume_id=resume_id))


def _keep_draft(coach: Any, resume_id: int) -> None:
    """Save what was submitted as the draft, when there is a review to draft (else nothing)."""
    with contextlib.suppress(DomainError), writing():
        resumes.save_draft(coach, resume_id, _typed())


@bp.route("/reviews/<int:resume_id>/review", methods=["POST"])
@role_required("coach")
def review_submit(resume_id: int) -> Any:
    return _send(resume_id, correcting=False)


@bp.route("/reviews/<int:resume_id>/correct", methods=["POST"])
@role_required("coach")
def review_correct(resume_id: int) -> Any:
    return _send(resume_id, correcting=True)


@bp.route("/reviews/<int:resume_id>/file")
@role_required("coach")
def review_file(resume_id: int) -> Response:
    return downloads.resume_file(resume_id)


# --- comments on the résumé -----------------------------------------------------------------------


def _marked(resume_id: int, anchor: str = "annotations-heading") -> Response:
    return redirect(url_for("coach.review_detail", resume_id=resume_id, _anchor=anchor))


def _mark_action(resume_id: int, act: Any, done: str, anchor: str = "annotations-heading") -> Any:
    """A comment action (delete a draft, close, carry over, reply, resolve): CSRF-checked, then
    done or refused with the reason flashed."""
    _visible(resume_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not write_or_flash(lambda: act(current_user._get_current_object())):
        return _marked(resume_id)
    flash(done, "success")
    return _marked(resume_id, anchor)


@bp.route("/reviews/<int:resume_id>/annotations", methods=["POST"])
@role_required("coach")
def annotation_create(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = AnnotationForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash("The comment could not be added; see the form.", "error")
        return _page(resume, annotation_form=form), 422
    coach = current_user._get_current_object()
    try:
        with writing():
            version = resumes.current_version(resume)
            row = marks.create(coach, resume_id, version.number, form.annotation_input())
    except DomainError as error:
        apply_errors(form, error, names=_FORM_FIELD)
        flash(error.detail, "error")
        return _page(_visible(resume_id), annotation_form=form), (
            422 if error.code == "validation_error" else 409
        )
    flash("Comment saved as a draft: it is sent with your review.", "success")
    return _marked(resume_id, f"annotation-{row.id}")


@bp.route("/reviews/<int:resume_id>/annotations/<int:annotation_id>/delete", methods=["POST"])
@role_required("coach")
def annotation_delete(resume_id: int, annotation_id: int) -> Any:
    return _mark_action(
        resume_id,
        lambda coach: marks.delete_draft(coach, resume_id, annotation_id),
        "Draft comment deleted.",
    )


@bp.route("/reviews/<int:resume_id>/annotations/<int:annotation_id>/close", methods=["POST"])
@role_required("coach")
def annotation_close(resume_id: int, annotation_id: int) -> Any:
    return _mark_action(
        resume_id,
        lambda coach: marks.close(coach, resume_id, annotation_id),
        "Earlier comment closed as addressed.",
        "followups-heading",
    )


@bp.route("/reviews/<int:resume_id>/annotations/<int:annotation_id>/carry", methods=["POST"])
@role_required("coach")
def annotation_carry(resume_id: int, annotation_id: int) -> Any:
    return _mark_action(
        resume_id,
        lambda coach: marks.carry_over(coach, resume_id, annotation_id),
        "Carried over to this version as a draft: it is sent with your review.",
    )


@bp.route(
    "/reviews/<int:resume_id>/versions/<int:number>/annotations/<int:annotation_id>/reply",
    methods=["POST"],
)
@role_required("coach")
def annotation_reply(resume_id: int, number: int, annotation_id: int) -> Any:
    body = request.form.get("body", "")
    return _mark_action(
        resume_id,
        lambda coach: marks.reply(coach, resume_id, number, annotation_id, body),
        "Reply sent; the learner is told.",
        f"annotation-{annotation_id}",
    )


@bp.route(
    "/reviews/<int:resume_id>/versions/<int:number>/annotations/<int:annotation_id>/resolve",
    methods=["POST"],
)
@role_required("coach")
def annotation_resolve(resume_id: int, number: int, annotation_id: int) -> Any:
    return _mark_action(
        resume_id,
        lambda coach: marks.resolve(coach, resume_id, number, annotation_id),
        "Comment resolved.",
        f"annotation-{annotation_id}",
    )
