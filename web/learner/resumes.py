"""Learner pages for résumés: the list, the upload (with a real progress bar, see
static/js/upload.js), and each résumé's timeline, checks, review and versions."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from services import resumes
from services.db import db
from services.errors import DomainError, NotFound
from services.resumes import files, jobmatch
from web import downloads
from web.forms import apply_errors
from web.learner import bp
from web.roles import role_required
from web.transactions import start_write

ACCEPT = ",".join([".pdf", ".docx", *files.CONTENT_TYPES.values()])


class UploadForm(FlaskForm):
    file = FileField(
        "Résumé file",
        validators=[FileRequired("Choose a PDF or DOCX file.")],
        description="PDF or DOCX. We check the file itself, not its name.",
    )
    target_role = StringField(
        "Target role",
        validators=[DataRequired("Name the role you are applying for."), Length(max=120)],
        description="For example “ML engineer”: it decides which coach reviews it.",
    )
    notes = TextAreaField(
        "Notes for your coach", validators=[Optional(), Length(max=resumes.MAX_NOTES)]
    )
    job_description = TextAreaField(
        "Job description (optional)",
        validators=[
            Optional(),
            Length(
                max=jobmatch.MAX_JOB_CHARS,
                message=f"Use at most {jobmatch.MAX_JOB_CHARS:,} characters, or upload the file.",
            ),
        ],
        description="Paste the posting you are applying for: we compare your résumé with it.",
    )
    job_file = FileField(
        "Or the job description as a file",
        description="PDF or DOCX, instead of pasting it.",
    )


class VersionForm(FlaskForm):
    file = FileField("New version", validators=[FileRequired("Choose a PDF or DOCX file.")])
    notes = TextAreaField(
        "Notes for your coach", validators=[Optional(), Length(max=resumes.MAX_NOTES)]
    )


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Why (optional)",
        validators=[Optional(), Length(max=resumes.MAX_REASON)],
        description="Your coach sees this.",
    )


def wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _form_errors(form: FlaskForm) -> dict[str, list[str]]:
    return {name: list(messages) for name, messages in form.errors.items()}


def _fail(form: FlaskForm, error: DomainError | None, status: int) -> Any:
    """Put the problem on the form; for the upload script, answer JSON with the same messages."""
    if error is not None:
        apply_errors(form, error.errors or {"file": [error.detail]})
    if wants_json():
        errors = _form_errors(form)
        detail = error.detail if error else "Some fields need attention."
        return jsonify({"detail": detail, "errors": errors}), status
    return None


def _status_of(error: DomainError) -> int:
    if isinstance(error, files.FileTooLarge):
        return 413
    if isinstance(error, files.UnsupportedFileType):
        return 415
    return 422


def max_mb() -> int:
    from flask import current_app

    return int(current_app.config["MAX_UPLOAD_MB"])


@bp.route("/resumes")
@role_required("learner")
def resume_list() -> str:
    page = resumes.list_visible(current_user, limit=50, cursor=request.args.get("cursor"))
    return render_template(
        "learner/resumes/list.html",
        views=resumes.views(page.items, current_user),
        next_cursor=page.next_cursor,
    )


@bp.route("/resumes/new", methods=["GET", "POST"])
@role_required("learner")
def resume_new() -> Any:
    form = UploadForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            response = _fail(form, None, 422 if "csrf_token" not in form.errors else 400)
            if response is not None:
                return response
            return render_template(
                "learner/resumes/new.html", form=form, max_mb=max_mb(), accept=ACCEPT
            ), 422
        storage = form.file.data
        user = current_user._get_current_object()
        try:
            start_write()
            resume = resumes.submit(
                user,
                storage.stream,
                storage.filename,
                resumes.Submission(
                    target_role=form.target_role.data,
                    notes=form.notes.data or "",
                    job_description=form.job_description.data or None,
                ),
                job_file=(form.job_file.data.stream, form.job_file.data.filename)
                if form.job_file.data
                else None,
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            status = _status_of(error)
            response = _fail(form, error, status)
            if response is not None:
                return response
            return render_template(
                "learner/resumes/new.html", form=form, max_mb=max_mb(), accept=ACCEPT
            ), status
        location = url_for("learner.resume_detail", resume_id=resume.id)
        if wants_json():
            return jsonify({"id": resume.id, "location": location}), 201
        flash("Uploaded. The automated checks run now; a coach is being chosen.", "success")
        return redirect(location)
    return render_template("learner/resumes/new.html", form=form, max_mb=max_mb(), accept=ACCEPT)


def _visible(resume_id: int) -> Any:
    try:
        return resumes.get_visible(current_user, resume_id)
    except NotFound:
        abort(404)


@bp.route("/resumes/<int:resume_id>")
@role_required("learner")
def resume_detail(resume_id: int) -> str:
    resume = _visible(resume_id)
    return render_template(
        "learner/resumes/detail.html",
        view=resumes.view(resume, current_user),
        version_form=VersionForm(),
        withdraw_form=WithdrawForm(),
        can_upload=resume.status in resumes.NEW_VERSION_ALLOWED,
        can_withdraw=resume.status in resumes.OPEN_STATUSES,
        max_mb=max_mb(),
        accept=ACCEPT,
    )


@bp.route("/resumes/<int:resume_id>/versions", methods=["POST"])
@role_required("learner")
def resume_version(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = VersionForm()
    if form.validate_on_submit():
        storage = form.file.data
        user = current_user._get_current_object()
        try:
            start_write()
            resumes.submit_version(
                user, resume_id, storage.stream, storage.filename, form.notes.data or None
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            response = _fail(
                form, error, _status_of(error) if error.code != "review_in_progress" else 409
            )
            if response is not None:
                return response
            flash(" ".join(m for ms in form.errors.values() for m in ms) or error.detail, "error")
            return redirect(url_for("learner.resume_detail", resume_id=resume_id))
        location = url_for("learner.resume_detail", resume_id=resume_id)
        if wants_json():
            return jsonify({"id": resume_id, "location": location}), 201
        flash("New version uploaded. It goes back to your coach when they have room.", "success")
        return redirect(location)
    response = _fail(form, None, 422)
    if response is not None:
        return response
    return render_template(
        "learner/resumes/detail.html",
        view=resumes.view(resume, current_user),
        version_form=form,
        withdraw_form=WithdrawForm(),
        can_upload=True,
        can_withdraw=resume.status in resumes.OPEN_STATUSES,
        max_mb=max_mb(),
        accept=ACCEPT,
    ), 422


@bp.route("/resumes/<int:resume_id>/cancel", methods=["POST"])
@role_required("learner")
def resume_withdraw(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return render_template(
            "learner/resumes/detail.html",
            view=resumes.view(resume, current_user),
            version_form=VersionForm(),
            withdraw_form=form,
            can_upload=resume.status in resumes.NEW_VERSION_ALLOWED,
            can_withdraw=resume.status in resumes.OPEN_STATUSES,
            max_mb=max_mb(),
            accept=ACCEPT,
        ), 422
    try:
        start_write()
        resumes.withdraw(current_user._get_current_object(), resume_id, form.reason.data or "")
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("learner.resume_detail", resume_id=resume_id))
    flash("Withdrawn. Upload a new version whenever you want a review again.", "success")
    return redirect(url_for("learner.resume_detail", resume_id=resume_id))


@bp.route("/resumes/<int:resume_id>/file")
@role_required("learner")
def resume_file(resume_id: int) -> Response:
    return downloads.resume_file(resume_id)
