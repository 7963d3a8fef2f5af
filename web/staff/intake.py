"""Staff: the intake questions of each interview type (services/booking/intake.py)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from services.booking import intake, interview_types
from services.errors import DomainError, NotFound
from services.models import IntakeQuestion, InterviewType
from web.forms import apply_errors
from web.roles import role_required
from web.staff import bp
from web.transactions import writing


class QuestionForm(FlaskForm):
    label = StringField(
        "Question",
        validators=[DataRequired("Write the question."), Length(max=200)],
    )
    kind = SelectField(
        "Kind of answer",
        choices=[SelectChoice(kind, label) for kind, label in intake.KIND_LABELS.items()],
        validate_choice=False,  # the service names the kinds
    )
    help = StringField(
        "Help text (optional)",
        validators=[Optional(), Length(max=500)],
        description="Shown under the question.",
    )
    options = TextAreaField(
        "Choices",
        validators=[Optional(), Length(max=5000)],
        description="For a single or multiple choice: one choice a line.",
    )
    required = BooleanField("Required", description="The learner cannot book without an answer.")
    condition_question_id = SelectField(
        "Ask only when", validate_choice=False, description="An earlier choice question."
    )
    condition_value = StringField(
        "has the answer",
        validators=[Optional(), Length(max=200)],
        description="One of that question's choices, exactly.",
    )


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token."""


def _itype(slug: str) -> InterviewType:
    try:
        return interview_types.get(slug)
    except NotFound:
        abort(404)


def _spec(form: QuestionForm) -> intake.QuestionSpec:
    condition = form.condition_question_id.data or ""
    return intake.QuestionSpec(
        kind=form.kind.data or "",
        label=form.label.data or "",
        help=form.help.data or "",
        required=bool(form.required.data),
        options=tuple((form.options.data or "").splitlines()),
        condition_question_id=int(condition) if condition.isdigit() else None,
        condition_value=form.condition_value.data or None,
    )


def _condition_choices(
    form: QuestionForm, questions: list[IntakeQuestion], own: int | None
) -> None:
    form.condition_question_id.choices = [SelectChoice("", "Always ask")] + [
        SelectChoice(str(q.id), q.label)
        for q in questions
        if q.kind in intake.CHOICE_KINDS and q.id != own and q.condition_question_id is None
    ]


@bp.route("/interview-types/<slug>/questions", methods=["GET", "POST"])
@role_required("staff")
def intake_questions(slug: str) -> str | Response | tuple[str, int]:
    itype = _itype(slug)
    questions = intake.questions_of(itype.id)
    form = QuestionForm()
    _condition_choices(form, questions, None)
    if form.validate_on_submit():
        try:
            with writing():
                intake.add_question(itype.id, _spec(form), actor=current_user)
        except DomainError as exc:
            apply_errors(form, exc, fallback=form.label)
        else:
            flash("The question is added. Bookings from now on ask it.", "success")
            return redirect(url_for("staff.intake_questions", slug=slug))
    return render_template(
        "staff/intake_questions.html",
        itype=itype,
        questions=intake.questions_of(itype.id),
        form=form,
        action=ActionForm(),
        kinds=intake.KIND_LABELS,
        limit=intake.MAX_QUESTIONS,
    ), (422 if form.is_submitted() else 200)


@bp.route("/interview-types/<slug>/questions/<int:question_id>", methods=["GET", "POST"])
@role_required("staff")
def edit_intake_question(slug: str, question_id: int) -> str | Response | tuple[str, int]:
    itype = _itype(slug)
    questions = intake.questions_of(itype.id)
    question = next((q for q in questions if q.id == question_id), None)
    if question is None:
        abort(404)
    form = QuestionForm()
    if request.method == "GET":
        form.label.data, form.kind.data, form.help.data = (
            question.label,
            question.kind,
            question.help,
        )
        form.options.data = "\n".join(question.options or [])
        form.required.data = question.required
        form.condition_question_id.data = str(question.condition_question_id or "")
        form.condition_value.data = question.condition_value or ""
    _condition_choices(form, questions, question.id)
    if form.validate_on_submit():
        try:
            with writing():
                intake.update_question(itype.id, question.id, _spec(form), actor=current_user)
        except DomainError as exc:
            apply_errors(form, exc, fallback=form.label)
        else:
            flash("The question is saved. Answers already given keep the wording asked.", "success")
            return redirect(url_for("staff.intake_questions", slug=slug))
    return render_template(
        "staff/intake_question_edit.html", itype=itype, question=question, form=form
    ), (422 if form.is_submitted() else 200)


@bp.route("/interview-types/<slug>/questions/<int:question_id>/remove", methods=["POST"])
@role_required("staff")
def remove_intake_question(slug: str, question_id: int) -> Response:
    itype = _itype(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with writing():
            intake.remove_question(itype.id, question_id, actor=current_user)
    except NotFound:
        abort(404)
    flash("The question is removed. Answers already given keep it.", "success")
    return redirect(url_for("staff.intake_questions", slug=slug))


@bp.route("/interview-types/<slug>/questions/<int:question_id>/move", methods=["POST"])
@role_required("staff")
def move_intake_question(slug: str, question_id: int) -> Response:
    itype = _itype(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with writing():
            intake.move_question(
                itype.id,
                question_id,
                -1 if request.form.get("to") == "up" else 1,
                actor=current_user,
            )
    except NotFound:
        abort(404)
    return redirect(url_for("staff.intake_questions", slug=slug))
