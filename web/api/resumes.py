"""Résumés: upload (PDF or DOCX, the type sniffed from the content), versions, the coach's accept,
decline and review, and staff's manual assignment. Routing happens in a worker."""

from __future__ import annotations

from typing import Any, ClassVar

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from services import resumes
from services.db import MAX_ID, db
from services.models import ResumeStatus, ReviewOutcome, User
from services.resumes import ResumeView, files, jobmatch, routing
from services.rubric import RUBRIC
from web.api.blueprint import Blueprint
from web.api.pagination import PageArgsSchema
from web.api.schemas import (
    JsonInteger,
    PersonSchema,
    QueryInteger,
    Text,
    object_id,
    page_schema,
    person,
)
from web.api.security import current_user, token_required
from web.downloads import attachment
from web.problems import problem_doc
from web.transactions import start_write

bp = Blueprint(
    "api_resumes",
    __name__,
    url_prefix="/api/v1",
    description="Résumé upload, automated checks, routing to a coach, and the review.",
)


class MultipartParser(FlaskParser):  # type: ignore[misc]
    """A multipart body's form fields and files, parsed (and documented) as one schema, so the
    OpenAPI document has one ``multipart/form-data`` request body naming all of its parts."""

    __location_map__: ClassVar[dict[str, str]] = {
        **FlaskParser.__location_map__,
        "multipart": "load_multipart",
    }

    def load_multipart(self, req: Any, schema: Schema) -> MultiDictProxy:
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)


bp.ARGUMENTS_PARSER = MultipartParser()
bp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **bp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
    "multipart": "multipart/form-data",
}
_problem = problem_doc(bp)


def _problems(*pairs: tuple[int, str]) -> Any:
    def decorate(view: Any) -> Any:
        for status, description in pairs:
            view = _problem(status, description)(view)
        return view

    return decorate


# --- schemas --------------------------------------------------------------------------------------


class ResumeCheckSchema(Schema):
    id = fields.String(required=True, metadata={"description": "e.g. contact_details"})
    passed = fields.Boolean(required=True)
    message = fields.String(required=True, metadata={"description": "A sentence to act on."})


# 1–5 for any of the criteria, and no other keys (a review scores at least one); each described
# by the rubric's anchors (services/rubric.py), the ones the coach's page shows.
ReviewScoresSchema = Schema.from_dict(
    {
        c.id: JsonInteger(
            validate=validate.Range(1, 5),
            metadata={"description": f"{c.label}. {c.describe()}"},
        )
        for c in RUBRIC
    },
    name="ReviewScoresSchema",
)


class ResumeReviewSchema(Schema):
    id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    summary = fields.String(required=True)
    scores = fields.Nested(ReviewScoresSchema, required=True)
    comments = fields.String(required=True)
    outcome = fields.String(
        required=True, validate=validate.OneOf([o.value for o in ReviewOutcome])
    )
    reviewer = fields.Nested(PersonSchema, required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    corrected_at = fields.AwareDateTime(
        required=True,
        allow_none=True,
        metadata={"description": "When its coach last corrected it; null: never corrected."},
    )
    correctable_until = fields.AwareDateTime(
        required=True,
        metadata={
            "description": "Until when its coach may correct it (PUT .../review): "
            "REVIEW_CORRECTION_HOURS after it was sent."
        },
    )


class ResumeHistorySchema(Schema):
    at = fields.AwareDateTime(required=True)
    event = fields.String(
        required=True,
        metadata={
            "description": "submitted, new_version, checked, unreadable, assigned, accepted, "
            "declined, offer_expired, unassigned, reviewed, review_corrected, escalated, "
            "withdrawn, reassigned, assigned_by_staff, cancelled"
        },
    )
    by = fields.Nested(
        PersonSchema,
        required=True,
        allow_none=True,
        metadata={"description": "null: the system"},
    )
    detail = fields.String(required=True)


class ResumeVersionSchema(Schema):
    number = fields.Integer(required=True)
    filename = fields.String(required=True)
    size = fields.Integer(required=True)
    content_type = fields.String(required=True)
    sha256 = fields.String(required=True)
    uploaded_at = fields.AwareDateTime(required=True)
    analysis = fields.String(required=True, metadata={"description": "pending, done or failed"})
    page_count = fields.Integer(required=True, allow_none=True)


def _job_description(description: str | None = None) -> Text:
    return Text(
        load_default=None,
        validate=validate.Length(max=jobmatch.MAX_JOB_CHARS),
        metadata={
            "description": description
            or "The job description the résumé is aimed at (pasted text, optional): the worker "
            "compares the two (`job_match`)."
        },
    )


class JobSkillSchema(Schema):
    skill = fields.String(required=True, metadata={"description": "The skill's id."})
    name = fields.String(required=True)
    hard = fields.Boolean(required=True, metadata={"description": "A hard (technical) skill."})


class JobMatchedSkillSchema(JobSkillSchema):
    where = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Where the résumé shows it: the skills section, an experience "
            "bullet, a project, elsewhere."
        },
    )


class JobTitleSchema(Schema):
    job_title = fields.String(required=True, allow_none=True)
    named = fields.Boolean(required=True, metadata={"description": "The résumé names it."})
    close = fields.String(
        required=True, allow_none=True, metadata={"description": "A close title it names."}
    )
    advice = fields.String(required=True, allow_none=True)


class JobCountsSchema(Schema):
    hard_matched = fields.Integer(required=True)
    hard_total = fields.Integer(required=True)
    soft_matched = fields.Integer(required=True)
    soft_total = fields.Integer(required=True)


class JobMatchSchema(Schema):
    """The gap analysis of the current version against its job description."""

    matched = fields.List(fields.Nested(JobMatchedSkillSchema), required=True)
    missing = fields.List(
        fields.Nested(JobSkillSchema),
        required=True,
        metadata={"description": "The job's skills the résumé does not show, hard ones first."},
    )
    counts = fields.Nested(JobCountsSchema, required=True)
    title = fields.Nested(JobTitleSchema, required=True)
    advice = fields.List(fields.String(), required=True)
    note = fields.String(required=True, metadata={"description": "Against keyword stuffing."})


class ResumeSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in ResumeStatus]))
    target_role = fields.String(required=True)
    notes = fields.String(required=True)
    filename = fields.String(
        required=True, metadata={"description": "The current version's file name (display only)."}
    )
    size = fields.Integer(required=True, metadata={"description": "Bytes of the current version."})
    content_type = fields.String(required=True, metadata={"description": "Sniffed, not declared."})
    version = fields.Integer(required=True, metadata={"description": "The current version."})
    versions = fields.List(fields.Nested(ResumeVersionSchema), required=True)
    created_at = fields.AwareDateTime(required=True)
    due_at = fields.AwareDateTime(required=True, allow_none=True)
    offer_expires_at = fields.AwareDateTime(
        required=True,
        allow_none=True,
        metadata={"description": "While assigned: when the coach's offer lapses."},
    )
    learner = fields.Nested(PersonSchema, required=True)
    reviewer = fields.Nested(PersonSchema, required=True, allow_none=True)
    checks = fields.List(
        fields.Nested(ResumeCheckSchema),
        required=True,
        allow_none=True,
        metadata={"description": "null until the worker has run the automated checks."},
    )
    active_content = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Active PDF content found (JavaScript, launch actions…)."},
    )
    review = fields.Nested(ResumeReviewSchema, required=True, allow_none=True)
    history = fields.List(fields.Nested(ResumeHistorySchema), required=True)
    routing_reason = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Staff only: why the last routing decision went as it did."},
    )
    job_description = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The current version's job description, or null."},
    )
    job_match = fields.Nested(
        JobMatchSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "The current version against its job description; null without one, "
            "or until the worker has run."
        },
    )


class ResumeListArgsSchema(PageArgsSchema):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in ResumeStatus])
    )


def _file_field() -> Upload:
    return Upload(
        required=True,
        metadata={"description": "PDF or DOCX; the type is sniffed from the content."},
    )


class ResumeUploadFormSchema(Schema):
    file = _file_field()
    target_role = Text(
        required=True,
        validate=validate.Length(min=1, max=resumes.MAX_TARGET_ROLE),
        metadata={"description": "The role the résumé targets, e.g. “ML engineer”."},
    )
    notes = Text(load_default="", validate=validate.Length(max=resumes.MAX_NOTES))
    job_description = _job_description()
    job_file = Upload(
        metadata={
            "description": "The job description as a PDF or DOCX, instead of pasting it (read "
            "like a résumé)."
        },
    )


class ResumeVersionFormSchema(Schema):
    file = _file_field()
    notes = Text(load_default=None, validate=validate.Length(max=resumes.MAX_NOTES))
    job_description = _job_description(
        "The job this version is aimed at; left out, the previous version's job is kept."
    )


class ResumeDeclineSchema(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=resumes.MAX_REASON))


class CommentsField(Text):
    """Free text; a list of strings is accepted too and kept one per line."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        return super()._deserialize(value, attr, data, **kwargs)


class ResumeReviewInputSchema(Schema):
    summary = Text(required=True, validate=validate.Length(min=1, max=resumes.MAX_SUMMARY))
    scores = fields.Nested(
        ReviewScoresSchema,
        required=True,
        metadata={"minProperties": 1, "description": "Score at least one criterion."},
    )
    comments = CommentsField(load_default="", validate=validate.Length(max=resumes.MAX_COMMENTS))
    outcome = fields.String(
        load_default=None,
        validate=validate.OneOf([o.value for o in ReviewOutcome]),
        metadata={"description": "Derived from the scores when not given."},
    )


class ResumeWithdrawSchema(Schema):
    reason = Text(load_default="", validate=validate.Length(max=resumes.MAX_REASON))


class ResumeAssignSchema(Schema):
    coach_id = object_id(required=True)
    reason = Text(load_default="", validate=validate.Length(max=1000))


class RoutingDecisionSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.AwareDateTime(required=True)
    outcome = fields.String(required=True, metadata={"description": "offered, unassigned, manual"})
    coach = fields.Nested(PersonSchema, required=True, allow_none=True)
    by = fields.Nested(PersonSchema, required=True, allow_none=True)
    version = fields.Integer(required=True)
    reason = fields.String(required=True)
    components = fields.Dict(required=True)


class ResumeFileArgsSchema(Schema):
    version = QueryInteger(load_default=None, validate=validate.Range(min=1, max=MAX_ID))


# --- shaping --------------------------------------------------------------------------------------


def resume_json(view: ResumeView, viewer: User) -> dict[str, Any]:
    resume, version = view.resume, view.version
    review = view.review
    return {
        "id": resume.id,
        "status": resume.status,
        "target_role": resume.target_role,
        "notes": resume.notes,
        "filename": version.filename,
        "size": version.size,
        "content_type": version.content_type,
        "version": version.number,
        "versions": [
            {
                "number": v.number,
                "filename": v.filename,
                "size": v.size,
                "content_type": v.content_type,
                "sha256": v.sha256,
                "uploaded_at": v.uploaded_at,
                "analysis": v.analysis_status,
                "page_count": v.page_count,
            }
            for v in view.versions
        ],
        "created_at": resume.created_at,
        "due_at": resume.due_at,
        "offer_expires_at": view.assignment.expires_at
        if view.assignment and view.assignment.status == "offered"
        else None,
        "learner": person(view.learner),
        "reviewer": person(view.reviewer),
        "checks": version.checks,
        "active_content": list(version.active_content or []),
        "review": {
            "id": review.id,
            "version": version.number,
            "summary": review.summary,
            "scores": review.scores,
            "comments": review.comments,
            "outcome": review.outcome,
            "reviewer": person(review.coach),
            "created_at": review.created_at,
            "corrected_at": review.corrected_at,
            "correctable_until": resumes.correctable_until(review),
        }
        if review
        else None,
        "history": [
            {"at": h.at, "event": h.event, "by": person(h.by), "detail": h.detail}
            for h in view.history
        ],
        "routing_reason": view.decision.reason
        if view.decision and viewer.role == "staff"
        else None,
        "job_description": version.job_description,
        "job_match": version.job_match,
    }


def _one(resume_id: int, viewer: User) -> dict[str, Any]:
    resume = resumes.get_visible(viewer, resume_id)
    return resume_json(resumes.view(resume, viewer), viewer)


# --- routes ---------------------------------------------------------------------------------------


@bp.route("/resumes", methods=["POST"])
@token_required(bp, "learner")
@bp.arguments(ResumeUploadFormSchema, location="multipart")
@bp.response(201, ResumeSchema)
@_problems(
    (413, "`file_too_large`: the file is larger than MAX_UPLOAD_MB."),
    (415, "`unsupported_file_type`: not a PDF or DOCX by its content (or a macro-enabled one)."),
    (
        422,
        "`validation_error`: a field is missing or invalid, or the file is empty, damaged, "
        "truncated, encrypted, an archive bomb, or has a hostile name.",
    ),
)
def upload(form: dict[str, Any]) -> Any:
    """Upload a résumé (multipart). Answers at once with status `submitted`; a worker then runs
    the automated checks and routes it to a coach."""
    user = current_user()
    storage = form["file"]
    start_write()
    resume = resumes.submit(
        user,
        storage.stream,
        storage.filename,
        resumes.Submission(
            target_role=form["target_role"],
            notes=form.get("notes") or "",
            job_description=form.get("job_description"),
        ),
        job_file=(form["job_file"].stream, form["job_file"].filename)
        if form.get("job_file")
        else None,
    )
    db.session.commit()
    return (
        resume_json(resumes.view(resume, user), user),
        201,
        {"Location": f"/api/v1/resumes/{resume.id}"},
    )


@bp.route("/resumes")
@token_required(bp)
@bp.arguments(ResumeListArgsSchema, location="query")
@bp.response(200, page_schema(ResumeSchema))
def list_resumes(args: dict[str, Any]) -> Any:
    """Learner: their own; coach: offered to them or reviewed by them; staff: all. Newest first."""
    user = current_user()
    page = resumes.list_visible(
        user, status=args["status"], limit=args["limit"], cursor=args["cursor"]
    )
    return {
        "items": [resume_json(v, user) for v in resumes.views(page.items, user)],
        "next_cursor": page.next_cursor,
    }


@bp.route("/resumes/<int:resume_id>")
@token_required(bp)
@bp.response(200, ResumeSchema)
@_problems((404, "`not_found`: no such résumé, or not yours to see."))
def get_resume(resume_id: int) -> Any:
    """One résumé with its checks, review and history: the owner, the assigned coach, staff."""
    return _one(resume_id, current_user())


@bp.route("/resumes/<int:resume_id>/file")
@token_required(bp)
@bp.arguments(ResumeFileArgsSchema, location="query")
@bp.doc(
    responses={
        "200": {
            "description": "The original bytes, as an attachment (Content-Disposition), with "
            "`X-Content-Type-Options: nosniff` and a sandbox Content-Security-Policy.",
            "content": {
                content_type: {"schema": {"type": "string", "format": "binary"}}
                for content_type in files.CONTENT_TYPES.values()
            },
        }
    }
)
@_problems((404, "`not_found`: no such résumé or version, or not yours to see."))
def download(args: dict[str, Any], resume_id: int) -> Any:
    """The original file, as an attachment, never rendered as one of our pages."""
    path, version = resumes.file_of(current_user(), resume_id, args["version"])
    return attachment(path, version.content_type, version.filename)


@bp.route("/resumes/<int:resume_id>/versions", methods=["POST"])
@token_required(bp, "learner")
@bp.arguments(ResumeVersionFormSchema, location="multipart")
@bp.response(201, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé, or not yours."),
    (409, "`review_in_progress`: a coach holds the current version."),
    (413, "`file_too_large`"),
    (415, "`unsupported_file_type`"),
    (422, "`validation_error`"),
)
def upload_version(form: dict[str, Any], resume_id: int) -> Any:
    """A new version of the learner's résumé; versions are kept, and it is routed again (to the
    coach who reviewed the last one when they have room)."""
    user = current_user()
    storage = form["file"]
    start_write()
    resume = resumes.submit_version(
        user,
        resume_id,
        storage.stream,
        storage.filename,
        form.get("notes"),
        form.get("job_description"),
    )
    db.session.commit()
    return resume_json(resumes.view(resume, user), user)


@bp.route("/resumes/<int:resume_id>/accept", methods=["POST"])
@token_required(bp, "coach")
@bp.response(200, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé, or not offered to you."),
    (409, "`invalid_status` (not waiting for you) or `offer_expired`."),
)
def accept(resume_id: int) -> Any:
    """The assigned coach accepts the offer: status `in_review`."""
    user = current_user()
    start_write()
    resumes.accept(user, resume_id)
    db.session.commit()
    return _one(resume_id, user)


@bp.route("/resumes/<int:resume_id>/decline", methods=["POST"])
@token_required(bp, "coach")
@bp.arguments(ResumeDeclineSchema)
@bp.response(200, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé, or not offered to you."),
    (409, "`invalid_status`: not waiting for you."),
    (422, "`validation_error`: a reason is required."),
)
def decline(body: dict[str, Any], resume_id: int) -> Any:
    """The assigned coach declines with a reason; the résumé is routed again, to someone else."""
    user = current_user()
    start_write()
    resume = resumes.decline(user, resume_id, body["reason"])
    db.session.commit()
    return resume_json(resumes.view(resume, user), user)


def _review_input(body: dict[str, Any]) -> resumes.ReviewInput:
    """A review body (ResumeReviewInputSchema) as the service takes it: to send or to correct."""
    return resumes.ReviewInput(
        summary=body["summary"],
        scores=dict(body["scores"]),
        comments=body.get("comments") or "",
        outcome=body.get("outcome"),
    )


@bp.route("/resumes/<int:resume_id>/review", methods=["POST"])
@token_required(bp, "coach")
@bp.arguments(ResumeReviewInputSchema)
@bp.response(200, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé, or not assigned to you."),
    (409, "`invalid_status`: not waiting for your review."),
    (422, "`validation_error`: summary and 1–5 scores required."),
)
def review(body: dict[str, Any], resume_id: int) -> Any:
    """The assigned coach's review: status `reviewed`; the learner is notified."""
    user = current_user()
    start_write()
    resumes.submit_review(
        user,
        resume_id,
        _review_input(body),
    )
    db.session.commit()
    return _one(resume_id, user)


@bp.route("/resumes/<int:resume_id>/review", methods=["PUT"])
@token_required(bp, "coach")
@bp.arguments(ResumeReviewInputSchema)
@bp.response(200, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé, or not one you reviewed."),
    (
        409,
        "`invalid_status`: no review of yours of the current version; `correction_closed`: "
        "more than REVIEW_CORRECTION_HOURS since it was sent.",
    ),
    (422, "`validation_error`: summary and 1–5 scores required."),
)
def correct_review(body: dict[str, Any], resume_id: int) -> Any:
    """The coach corrects the review they sent of the current version, within
    REVIEW_CORRECTION_HOURS (`review.correctable_until`): the whole review is replaced, and the
    learner is notified of what changed. The same review again changes nothing."""
    user = current_user()
    start_write()
    resumes.correct_review(
        user,
        resume_id,
        _review_input(body),
    )
    db.session.commit()
    return _one(resume_id, user)


@bp.route("/resumes/<int:resume_id>/cancel", methods=["POST"])
@token_required(bp, "learner", "staff")
@bp.arguments(ResumeWithdrawSchema, required=False)
@bp.response(200, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé, or not yours."),
    (409, "`invalid_status`: already reviewed."),
    (422, "`validation_error`: the reason is too long."),
)
def cancel(body: dict[str, Any], resume_id: int) -> Any:
    """The learner (or staff) withdraws a résumé before its review: status `cancelled`; a coach
    who held it is told and has the room back. Repeating it answers the same; uploading a new
    version reopens it."""
    user = current_user()
    start_write()
    resume = resumes.withdraw(user, resume_id, body["reason"])
    db.session.commit()
    return resume_json(resumes.view(resume, user), user)


@bp.route("/resumes/<int:resume_id>/assign", methods=["POST"])
@token_required(bp, "staff")
@bp.arguments(ResumeAssignSchema)
@bp.response(200, ResumeSchema)
@_problems(
    (404, "`not_found`: no such résumé."),
    (409, "`invalid_status`: reviewed or cancelled."),
    (422, "`validation_error`: not an active coach."),
)
def assign(body: dict[str, Any], resume_id: int) -> Any:
    """Manual (re)assignment by staff, recorded with who and why; the coach gets an offer,
    pinned to them (a rebalance leaves it there)."""
    user = current_user()
    start_write()
    routing.assign_manually(user, resume_id, body["coach_id"], body.get("reason") or "", pin=True)
    db.session.commit()
    return _one(resume_id, user)


@bp.route("/resumes/<int:resume_id>/decisions")
@token_required(bp, "staff")
@bp.response(200, page_schema(RoutingDecisionSchema))
@_problems((404, "`not_found`: no such résumé."))
def decisions(resume_id: int) -> Any:
    """Every routing decision about a résumé, oldest first, with its components (the audit)."""
    user = current_user()
    resumes.get_visible(user, resume_id)
    items = [
        {
            "id": d.id,
            "at": d.at,
            "outcome": d.outcome,
            "coach": person(d.coach),
            "by": person(d.actor),
            "version": d.version_number,
            "reason": d.reason,
            "components": d.components,
        }
        for d in routing.decisions_for(resume_id)
    ]
    return {"items": items, "next_cursor": None}
