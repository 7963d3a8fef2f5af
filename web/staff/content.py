"""Staff: edit the public FAQ in Markdown, with a sanitised preview."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from services import audit, faq
from services.errors import DomainError, NotFound
from web.forms import apply_errors
from web.roles import role_required
from web.staff import bp
from web.transactions import writing


class EntryForm(FlaskForm):
    question = StringField("Question", validators=[DataRequired(), Length(max=faq.MAX_QUESTION)])
    answer = TextAreaField(
        "Answer (Markdown)",
        validators=[DataRequired(), Length(max=faq.MAX_ANSWER)],
        description="Markdown: **bold**, *italic*, lists, [links](https://example.com). "
        "No HTML or images.",
    )


@bp.route("/faq")
@role_required("staff")
def faq_list() -> str:
    return render_template("staff/faq_list.html", page=faq.get_page(faq.FAQ_SLUG))


def _edit(entry_id: int | None) -> str | Response:
    entry = None
    if entry_id is not None:
        try:
            entry = faq.get_entry(entry_id)
        except NotFound:
            abort(404)
    form = EntryForm(obj=entry if request.method == "GET" else None)
    preview = None
    if form.validate_on_submit():
        data = faq.EntryInput(form.question.data or "", form.answer.data or "")
        if "preview" in request.form:
            preview = Markup(faq.render_markdown(data.answer))  # noqa: S704 (nh3-sanitised)
        else:
            try:
                with writing():
                    if entry is None:
                        saved = faq.add_entry(data)
                        audit.record(
                            current_user, "faq.add", "faq", saved.id, "", question=saved.question
                        )
                    else:
                        saved, before = faq.update_entry(entry.id, data)
                        audit.record(
                            current_user,
                            "faq.update",
                            "faq",
                            saved.id,
                            "",
                            before=before,
                            after={"question": saved.question, "answer": saved.answer},
                        )
            except DomainError as exc:
                apply_errors(form, exc, fallback=form.answer)
            else:
                flash("The FAQ is updated; the public page shows it now.", "success")
                return redirect(url_for("staff.faq_list"))
    return render_template("staff/faq_edit.html", form=form, entry=entry, preview=preview)


@bp.route("/faq/new", methods=["GET", "POST"])
@role_required("staff")
def faq_new() -> str | Response:
    return _edit(None)


@bp.route("/faq/<int:entry_id>", methods=["GET", "POST"])
@role_required("staff")
def faq_edit(entry_id: int) -> str | Response:
    return _edit(entry_id)
