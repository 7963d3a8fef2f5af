"""Résumés: upload (PDF or DOCX, the type sniffed from the content), versions, the coach's accept,
decline and review, and staff's manual assignment. Routing happens in a worker."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from services import resumes, skills
from services.models import Annotation, ResumeStatus, ReviewOutcome, User
from services.resumes import ResumeView, files, jobmatch, routing
from services.resumes import annotations as marks
from services.rubric import CRITERIA, RUBRIC
from services.validation import MAX_ID
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
from web.downloads import version_file
from web.problems import problem_doc
from web.transactions import writing

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
STORAGE_DOWN = (
    "`storage_unavailable`: file storage is not answering, so nothing was saved; try again shortly."
)


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


class EarlierCommentsSchema(Schema):
    total = fields.Integer(required=True)
    addressed = fields.Integer(required=True, metadata={"description": "Resolved or closed."})
    carried = fields.Integer(required=True, metadata={"description": "Carried over to it."})
    open = fields.Integer(required=True, metadata={"description": "Still open on their version."})


class ResumeReviewSchema(Schema):
    id = fields.Integer(attribute="review.id", required=True)
    version = fields.Integer(required=True)
    summary = fields.String(attribute="review.summary", required=True)
    scores = fields.Nested(ReviewScoresSchema, attribute="review.scores", required=True)
    comments = fields.String(attribute="review.comments", required=True)
    outcome = fields.String(
        attribute="review.outcome",
        required=True,
        validate=validate.OneOf([o.value for o in ReviewOutcome]),
    )
    reviewer = fields.Nested(PersonSchema, attribute="review.coach", required=True, allow_none=True)
    created_at = fields.AwareDateTime(attribute="review.created_at", required=True)
    corrected_at = fields.AwareDateTime(
        attribute="review.corrected_at",
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
    earlier_comments = fields.Nested(
        EarlierCommentsSchema,
        attribute="review.earlier_comments",
        required=True,
        allow_none=True,
        metadata={
            "description": "What became of the earlier versions' open comments by the time this "
            "review was sent; null when there were none."
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
    analysis = fields.String(
        attribute="analysis_status",
        required=True,
        metadata={"description": "pending, done or failed"},
    )
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
    skill = fields.String(
        required=True,
        validate=validate.OneOf(list(skills.BY_ID)),
        metadata={"description": "The skill's id in the one skill vocabulary."},
    )
    name = fields.String(required=True, metadata={"description": "The skill's name, as shown."})
    hard = fields.Boolean(
        required=True, metadata={"description": "A hard (technical) skill; else a soft one."}
    )


class JobMatchedSkillSchema(JobSkillSchema):
    where = fields.List(
        fields.String(validate=validate.OneOf(list(jobmatch.PLACES.values()))),
        required=True,
        validate=validate.Length(min=1, max=len(jobmatch.PLACES)),
        metadata={
            "description": "Where the résumé shows it: in an experience bullet, a project, the "
            "skills section, elsewhere (in that order)."
        },
    )


class JobTitleSchema(Schema):
    job_title = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The job's title as the description gives it; null if none."},
    )
    named = fields.Boolean(
        required=True, metadata={"description": "The résumé names it (seniority aside)."}
    )
    close = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "A close title the résumé names instead, or null."},
    )
    advice = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "What to change when it is not named, or null."},
    )


def _count(description: str) -> fields.Integer:
    return fields.Integer(
        required=True, validate=validate.Range(min=0), metadata={"description": description}
    )


class JobCountsSchema(Schema):
    hard_matched = _count("Hard skills of the job the résumé shows.")
    hard_total = _count("Hard skills the job names.")
    soft_matched = _count("Soft skills of the job the résumé shows.")
    soft_total = _count("Soft skills the job names.")


class JobMatchSchema(Schema):
    """The gap analysis of the current version against its job description: a breakdown, never
    one score."""

    matched = fields.List(
        fields.Nested(JobMatchedSkillSchema),
        required=True,
        metadata={"description": "The job's skills the résumé shows, in the job's order."},
    )
    missing = fields.List(
        fields.Nested(JobSkillSchema),
        required=True,
        metadata={"description": "The job's skills the résumé does not show, hard ones first."},
    )
    counts = fields.Nested(JobCountsSchema, required=True)
    title = fields.Nested(JobTitleSchema, required=True)
    advice = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(max=jobmatch.MAX_ADVICE),
        metadata={"description": "What to add or make visible, most important first."},
    )
    note = fields.String(required=True, metadata={"description": "Against keyword stuffing."})


class ResumeSchema(Schema):
    id = fields.Integer(attribute="resume.id", required=True)
    status = fields.String(
        attribute="resume.status",
        required=True,
        validate=validate.OneOf([s.value for s in ResumeStatus]),
    )
    target_role = fields.String(attribute="resume.target_role", required=True)
    notes = fields.String(attribute="resume.notes", required=True)
    filename = fields.String(
        attribute="version.filename",
        required=True,
        metadata={"description": "The current version's file name (display only)."},
    )
    size = fields.Integer(
        attribute="version.size",
        required=True,
        metadata={"description": "Bytes of the current version."},
    )
    content_type = fields.String(
        attribute="version.content_type",
        required=True,
        metadata={"description": "Sniffed, not declared."},
    )
    version = fields.Integer(
        attribute="version.number", required=True, metadata={"description": "The current version."}
    )
    versions = fields.List(fields.Nested(ResumeVersionSchema), required=True)
    created_at = fields.AwareDateTime(attribute="resume.created_at", required=True)
    due_at = fields.AwareDateTime(attribute="resume.due_at", required=True, allow_none=True)
    offer_expires_at = fields.AwareDateTime(
        required=True,
        allow_none=True,
        metadata={"description": "While assigned: when the coach's offer lapses."},
    )
    learner = fields.Nested(PersonSchema, required=True)
    reviewer = fields.Nested(PersonSchema, required=True, allow_none=True)
    checks = fields.List(
        fields.Nested(ResumeCheckSchema),
        attribute="version.checks",
        required=True,
        allow_none=True,
        metadata={"description": "null until the worker has run the automated checks."},
    )
    active_content = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Active PDF content found (JavaScript, launch actions…)."},
    )
    review = fields.Nested(
        ResumeReviewSchema, attribute="shown_review", required=True, allow_none=True
    )
    history = fields.List(fields.Nested(ResumeHistorySchema), required=True)
    routing_reason = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Staff only: why the last routing decision went as it did."},
    )
    job_description = fields.String(
        attribute="version.job_description",
        required=True,
        allow_none=True,
        validate=validate.Length(max=jobmatch.MAX_JOB_CHARS),
        metadata={
            "description": "The current version's job description (pasted, or the text of the "
            "file sent as `job_file`), or null."
        },
    )
    job_match = fields.Nested(
        JobMatchSchema,
        attribute="version.job_match",
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


def _one(resume_id: int, viewer: User) -> ResumeView:
    return resumes.view(resumes.get_visible(viewer, resume_id), viewer)


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
    (503, STORAGE_DOWN),
)
def upload(form: dict[str, Any]) -> Any:
    """Upload a résumé (multipart). Answers at once with status `submitted`; a worker then runs
    the automated checks and routes it to a coach."""
    user = current_user()
    storage = form["file"]
    submission = resumes.Submission(
        target_role=form["target_role"],
        notes=form.get("notes") or "",
        job_description=form.get("job_description"),
    )
    job_file = form.get("job_file")
    # The job's file is parsed before the write begins: no lock is held through it.
    job = resumes.job_text(submission, (job_file.stream, job_file.filename) if job_file else None)
    # The file is kept in storage before the write begins, too (resumes.receive).
    stored = resumes.receive(user, storage.stream, storage.filename, submission)
    with writing():
        resume = resumes.submit(user, stored, dataclasses.replace(submission, job_description=job))
    return (
        resumes.view(resume, user),
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
        "items": resumes.views(page.items, user),
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
@_problems(
    (404, "`not_found`: no such résumé or version, or not yours to see."),
    (503, "`storage_unavailable`: file storage is not answering; try again shortly."),
)
def download(args: dict[str, Any], resume_id: int) -> Any:
    """The original file, as an attachment, never rendered as one of our pages."""
    opened, version = resumes.file_of(current_user(), resume_id, args["version"])
    return version_file(opened, version)


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
    (503, STORAGE_DOWN),
)
def upload_version(form: dict[str, Any], resume_id: int) -> Any:
    """A new version of the learner's résumé; versions are kept, and it is routed again (to the
    coach who reviewed the last one when they have room)."""
    user = current_user()
    storage = form["file"]
    stored = resumes.receive(user, storage.stream, storage.filename, resume_id=resume_id)
    with writing():
        resume = resumes.submit_version(
            user, resume_id, stored, form.get("notes"), form.get("job_description")
        )
    return resumes.view(resume, user)


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
    with writing():
        resumes.accept(user, resume_id)
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
    with writing():
        resume = resumes.decline(user, resume_id, body["reason"])
    return resumes.view(resume, user)


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
    with writing():
        resumes.submit_review(
            user,
            resume_id,
            _review_input(body),
        )
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
    with writing():
        resumes.correct_review(
            user,
            resume_id,
            _review_input(body),
        )
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
    with writing():
        resume = resumes.withdraw(user, resume_id, body["reason"])
    return resumes.view(resume, user)


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
    with writing():
        routing.assign_manually(
            user, resume_id, body["coach_id"], body.get("reason") or "", pin=True
        )
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


# --- annotations ----------------------------------------------------------------------------------

_fraction = validate.Range(min=0, max=1)


class AnnotationQuoteSchema(Schema):
    """A text-quote selector: the exact text, with a little text before and after it."""

    exact = Text(required=True, validate=validate.Length(min=1, max=marks.MAX_EXACT))
    prefix = Text(load_default="", validate=validate.Length(max=marks.MAX_CONTEXT))
    suffix = Text(load_default="", validate=validate.Length(max=marks.MAX_CONTEXT))


class AnnotationPositionSchema(Schema):
    """A text-position selector: character offsets in the version's extracted text."""

    start = fields.Integer(required=True)
    end = fields.Integer(required=True)


class AnnotationPointSchema(Schema):
    x = fields.Float(required=True, validate=_fraction, metadata={"description": "0: left edge."})
    y = fields.Float(required=True, validate=_fraction, metadata={"description": "0: top edge."})


_RECT = fields.List(
    fields.Float(validate=_fraction),
    validate=validate.Length(equal=4),
    metadata={"description": "[x, y, width, height], fractions of the page from its top left."},
)


class AnnotationInputSchema(Schema):
    kind = fields.String(
        load_default="text",
        validate=validate.OneOf(["text", "pin"]),
        metadata={"description": "text: on the quoted text; pin: on a point of a PDF's page."},
    )
    body = Text(
        required=True,
        validate=validate.Length(min=1, max=marks.MAX_BODY),
        metadata={"description": "What is wrong, and why."},
    )
    suggestion = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=marks.MAX_SUGGESTION),
        metadata={"description": "A suggested rewrite."},
    )
    criterion = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(list(CRITERIA)),
        metadata={"description": "The rubric criterion the comment is about."},
    )
    quote = fields.Nested(
        AnnotationQuoteSchema,
        load_default=None,
        metadata={"description": "For kind text (required): the selected text."},
    )
    start = JsonInteger(
        load_default=None,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "Where the viewer found the quote, as a hint between repeats."},
    )
    page = JsonInteger(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "A PDF's page (1 first): required for a pin."},
    )
    rects = fields.List(
        _RECT,
        load_default=list,
        validate=validate.Length(max=marks.MAX_RECTS),
        metadata={"description": "For text on a PDF page: the selection's rectangles."},
    )
    point = fields.Nested(
        AnnotationPointSchema, load_default=None, metadata={"description": "For a pin."}
    )


class AnnotationTargetSchema(Schema):
    quote = fields.Nested(AnnotationQuoteSchema, required=True, allow_none=True)
    position = fields.Nested(AnnotationPositionSchema, required=True, allow_none=True)
    page = fields.Integer(required=True, allow_none=True)
    rects = fields.List(_RECT, required=True)
    point = fields.Nested(AnnotationPointSchema, required=True, allow_none=True)


class AnnotationReanchorSchema(Schema):
    version = fields.Integer(
        required=True, metadata={"description": "The later version it was looked for in."}
    )
    match = fields.String(
        required=True,
        validate=validate.OneOf(["exact", "approximate", "missing"]),
        metadata={"description": "missing: the text changed; probably addressed, check."},
    )
    position = fields.Nested(AnnotationPositionSchema, required=True, allow_none=True)
    exact = fields.String(
        required=True, allow_none=True, metadata={"description": "The text found there."}
    )
    score = fields.Float(
        required=True, allow_none=True, metadata={"description": "How alike, 0 to 1."}
    )


class AnnotationReplySchema(Schema):
    id = fields.Integer(required=True)
    author = fields.Nested(PersonSchema, required=True, allow_none=True)
    body = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)


class AnnotationSchema(Schema):
    id = fields.Integer(required=True)
    version = fields.Integer(required=True, attribute="version.number")
    kind = fields.String(required=True, validate=validate.OneOf(["text", "pin", "note"]))
    status = fields.String(
        required=True,
        validate=validate.OneOf(["draft", "open", "resolved", "carried"]),
        metadata={
            "description": "draft: sent with the review (its coach alone sees it); carried: "
            "carried over to a later version (see carried_from there)."
        },
    )
    resolution = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(["done", "resolved", "addressed"]),
        metadata={
            "description": "done: by the learner; resolved: by the coach; addressed: closed by "
            "the coach reviewing a later version."
        },
    )
    criterion = fields.String(required=True, allow_none=True)
    body = fields.String(required=True)
    suggestion = fields.String(required=True, allow_none=True)
    target = fields.Nested(AnnotationTargetSchema, required=True)
    coach = fields.Nested(PersonSchema, required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    published_at = fields.AwareDateTime(required=True, allow_none=True)
    resolved_at = fields.AwareDateTime(required=True, allow_none=True)
    resolved_by = fields.Nested(PersonSchema, required=True, allow_none=True)
    carried_from = fields.Integer(
        required=True,
        allow_none=True,
        attribute="carried_from_id",
        metadata={"description": "The earlier annotation's id."},
    )
    reanchor = fields.Nested(
        AnnotationReanchorSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Where it was found again in a later version, if one came."},
    )
    replies = fields.List(fields.Nested(AnnotationReplySchema), required=True)


class AnnotationReplyInputSchema(Schema):
    body = Text(required=True, validate=validate.Length(min=1, max=marks.MAX_REPLY))


def annotation_input(body: dict[str, Any]) -> marks.AnnotationInput:
    quote = body.get("quote") or {}
    point = body.get("point") or {}
    return marks.AnnotationInput(
        kind=body["kind"],
        body=body["body"],
        suggestion=body.get("suggestion"),
        criterion=body.get("criterion"),
        exact=quote.get("exact", ""),
        prefix=quote.get("prefix", ""),
        suffix=quote.get("suffix", ""),
        start=body.get("start"),
        page=body.get("page"),
        rects=body.get("rects") or [],
        x=point.get("x"),
        y=point.get("y"),
    )


_ANNOTATIONS = "/resumes/<int:resume_id>/versions/<int:number>/annotations"


@bp.route(_ANNOTATIONS)
@token_required(bp)
@bp.response(200, page_schema(AnnotationSchema))
@_problems((404, "`not_found`: no such résumé or version, or not yours to see."))
def list_annotations(resume_id: int, number: int) -> Any:
    """The comments on one version, in the order they sit in the text, with their threads: the
    owner and staff read the sent ones, the coach also their drafts."""
    _, rows = marks.for_version(current_user(), resume_id, number)
    return {"items": rows, "next_cursor": None}


@bp.route(_ANNOTATIONS, methods=["POST"])
@token_required(bp, "coach")
@bp.arguments(AnnotationInputSchema)
@bp.response(201, AnnotationSchema)
@_problems(
    (404, "`not_found`: no such résumé or version, or not yours to see."),
    (
        409,
        "`invalid_status`: you do not hold the accepted review of this version, or its text is "
        "not extracted yet.",
    ),
    (
        422,
        "`validation_error`: a field is missing or invalid; the quote is not in the version's "
        "text; a pin without a page and point, or on a DOCX.",
    ),
)
def create_annotation(body: dict[str, Any], resume_id: int, number: int) -> Any:
    """The coach holding the accepted review comments on the quoted text (anchored in the
    version's text; refused when it is not there) or pins a point of a PDF's page. A draft until
    the review is sent (`POST /resumes/{id}/review`), which publishes it."""
    user = current_user()
    with writing():
        row = marks.create(user, resume_id, number, annotation_input(body))
    location = f"/api/v1/resumes/{resume_id}/versions/{number}/annotations"
    return row, 201, {"Location": location}


@bp.route(f"{_ANNOTATIONS}/<int:annotation_id>/replies", methods=["POST"])
@token_required(bp, "learner", "coach")
@bp.arguments(AnnotationReplyInputSchema)
@bp.response(201, AnnotationSchema)
@_problems(
    (404, "`not_found`: no such sent comment, or you are not its learner or coach."),
    (409, "`invalid_status`: it was carried over to a later version."),
    (422, "`validation_error`: the reply is empty or too long."),
)
def reply_to_annotation(
    body: dict[str, Any], resume_id: int, number: int, annotation_id: int
) -> Any:
    """The learner (or the comment's coach) replies in its thread; the other is notified.
    Answers the annotation with its thread."""
    user = current_user()
    with writing():
        marks.reply(user, resume_id, number, annotation_id, body["body"])
    return _annotation(user, resume_id, number, annotation_id), 201


@bp.route(f"{_ANNOTATIONS}/<int:annotation_id>/resolve", methods=["POST"])
@token_required(bp, "learner", "coach")
@bp.response(200, AnnotationSchema)
@_problems(
    (404, "`not_found`: no such sent comment, or you are not its learner or coach."),
    (409, "`invalid_status`: it was carried over to a later version."),
)
def resolve_annotation(resume_id: int, number: int, annotation_id: int) -> Any:
    """The learner marks the comment done, or its coach resolves it; again changes nothing."""
    user = current_user()
    with writing():
        marks.resolve(user, resume_id, number, annotation_id)
    return _annotation(user, resume_id, number, annotation_id)


def _annotation(user: User, resume_id: int, number: int, annotation_id: int) -> Annotation:
    _, rows = marks.for_version(user, resume_id, number)
    return next(r for r in rows if r.id == annotation_id)
