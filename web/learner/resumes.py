"""Learner pages for résumés: the list, the upload (with a real progress bar, see
static/js/upload.js), and each résumé's timeline, checks, review and versions."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from services import resumes
from services.errors import DomainError, NotFound
from services.resumes import annotations as marks
from services.resumes import export, files, jobmatch
from services.rubric import LABELS
from services.storage import StorageUnavailable
from web import downloads
from web.forms import apply_errors, write_or_flash
from web.learner import bp
from web.roles import role_required
from web.transactions import writing

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
    """Put the problem on the form; for the upload script, answer JSON with the same messages.
    File storage being down is no fault of a field: it is said once, above the form."""
    if isinstance(error, StorageUnavailable):
        if wants_json():
            return jsonify({"detail": error.detail, "errors": {}}), status
        flash(error.detail, "error")
        return None
    if error is not None:
        apply_errors(form, error, fallback=form.file)
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
    if isinstance(error, StorageUnavailable):
        return 503
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
        submission = resumes.Submission(
            target_role=form.target_role.data,
            notes=form.notes.data or "",
            job_description=form.job_description.data or None,
        )
        job_file = form.job_file.data
        try:
            # The job's file is parsed before the write begins: no lock is held through it.
            job = resumes.job_text(
                submission, (job_file.stream, job_file.filename) if job_file else None
            )
            stored = resumes.receive(user, storage.stream, storage.filename, submission)
            with writing():
                resume = resumes.submit(
                    user, stored, dataclasses.replace(submission, job_description=job)
                )
        except DomainError as error:
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


def _marked_up(resume: Any) -> dict[str, Any]:
    """The version shown (``?version=N``, else the current one), its comments, and the earlier
    versions' comments as checked against it."""
    view = resumes.view(resume, current_user)
    wanted = request.args.get("version", type=int)
    shown = next((v for v in view.versions if v.number == wanted), view.version)
    user = current_user._get_current_object()
    annotations = marks.of_versions(user, [shown.id]).get(shown.id, [])
    earlier = marks.followups(user, resume, shown)
    followups = [a for a in earlier if a.reanchor_version_id == shown.id]
    return {
        "view": view,
        "shown": shown,
        "annotations": annotations,
        "followups": followups,
        "state": marks.state_label,
        "match_labels": marks.MATCH_LABELS,
    }


def _detail(resume: Any, **forms: Any) -> str:
    return render_template(
        "learner/resumes/detail.html",
        **_marked_up(resume),
        labels=LABELS,
        version_form=forms.get("version_form") or VersionForm(),
        withdraw_form=forms.get("withdraw_form") or WithdrawForm(),
        can_upload=resume.status in resumes.NEW_VERSION_ALLOWED,
        can_withdraw=resume.status in resumes.OPEN_STATUSES,
        max_mb=max_mb(),
        accept=ACCEPT,
    )


@bp.route("/resumes/<int:resume_id>")
@role_required("learner")
def resume_detail(resume_id: int) -> str:
    return _detail(_visible(resume_id))


@bp.route("/resumes/<int:resume_id>/versions", methods=["POST"])
@role_required("learner")
def resume_version(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = VersionForm()
    if form.validate_on_submit():
        storage = form.file.data
        user = current_user._get_current_object()
        try:
            stored = resumes.receive(user, storage.stream, storage.filename, resume_id=resume_id)
            with writing():
                resumes.submit_version(user, resume_id, stored, form.notes.data or None)
        except DomainError as error:
            response = _fail(
                form, error, _status_of(error) if error.code != "review_in_progress" else 409
            )
            if response is not None:
                return response
            if not isinstance(error, StorageUnavailable):  # _fail said that one already
                flash(
                    " ".join(m for ms in form.errors.values() for m in ms) or error.detail, "error"
                )
            return redirect(url_for("learner.resume_detail", resume_id=resume_id))
        location = url_for("learner.resume_detail", resume_id=resume_id)
        if wants_json():
            return jsonify({"id": resume_id, "location": location}), 201
        flash("New version uploaded. It goes back to your coach when they have room.", "success")
        return redirect(location)
    response = _fail(form, None, 422)
    if response is not None:
        return response
    return _detail(resume, version_form=form), 422


@bp.route("/resumes/<int:resume_id>/cancel", methods=["POST"])
@role_required("learner")
def resume_withdraw(resume_id: int) -> Any:
    resume = _visible(resume_id)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _detail(resume, withdraw_form=form), 422
    try:
        with writing():
            resumes.withdraw(current_user._get_current_object(), resume_id, form.reason.data or "")
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("learner.resume_detail", resume_id=resume_id))
    flash("Withdrawn. Upload a new version whenever you want a review again.", "success")
    return redirect(url_for("learner.resume_detail", resume_id=resume_id))


@bp.route("/resumes/<int:resume_id>/file")
@role_required("learner")
def resume_file(resume_id: int) -> Response:
    return downloads.resume_file(resume_id)


# --- the coach's comments: replies, done, the marked-up PDF ---------------------------------------


class CsrfForm(FlaskForm):
    """Only the CSRF token."""


def _comment_action(resume_id: int, number: int, annotation_id: int, act: Any, done: str) -> Any:
    _visible(resume_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    if write_or_flash(lambda: act(current_user._get_current_object())):
        flash(done, "success")
    return redirect(
        url_for(
            "learner.resume_detail",
            resume_id=resume_id,
            version=number,
            _anchor=f"annotation-{annotation_id}",
        )
    )


@bp.route(
    "/resumes/<int:resume_id>/versions/<int:number>/annotations/<int:annotation_id>/reply",
    methods=["POST"],
)
@role_required("learner")
def annotation_reply(resume_id: int, number: int, annotation_id: int) -> Any:
    body = request.form.get("body", "")
    return _comment_action(
        resume_id,
        number,
        annotation_id,
        lambda user: marks.reply(user, resume_id, number, annotation_id, body),
        "Reply sent; your coach is told.",
    )


@bp.route(
    "/resumes/<int:resume_id>/versions/<int:number>/annotations/<int:annotation_id>/resolve",
    methods=["POST"],
)
@role_required("learner")
def annotation_resolve(resume_id: int, number: int, annotation_id: int) -> Any:
    return _comment_action(
        resume_id,
        number,
        annotation_id,
        lambda user: marks.resolve(user, resume_id, number, annotation_id),
        "Marked done.",
    )


@bp.route("/resumes/<int:resume_id>/versions/<int:number>/annotated.pdf")
@role_required("learner")
def annotated_pdf(resume_id: int, number: int) -> Response:
    """The version as a PDF with the coach's comments, numbered (the original is only read)."""
    try:
        exported = export.annotated_pdf(current_user._get_current_object(), resume_id, number)
    except NotFound:
        abort(404)
    return downloads.generated(exported.data, "application/pdf", exported.filename)
