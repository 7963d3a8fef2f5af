"""Résumés: upload and versions, who may see what, the automated checks, and the coach's side
(accept, decline, review). Routing itself lives in services/routing.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import Select, delete, exists, select, update

from services import audit, checks, extraction, files, localtime, outbox
from services.db import MAX_ID, begin_write, db, utcnow
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.models import (
    AnalysisStatus,
    Assignment,
    AssignmentStatus,
    ExclusionReason,
    Resume,
    ResumeEvent,
    ResumeExclusion,
    ResumeStatus,
    ResumeVersion,
    Review,
    ReviewDraft,
    ReviewOutcome,
    Role,
    RoutingDecision,
    User,
)
from services.models.resumes import CRITERIA, LIVE_ASSIGNMENT_STATES
from services.notifications import Message, base_url, handles, register_kind, staff_recipients
from services.pagination import Page, paginate
from services.rubric import OUTCOMES, in_a_sentence

OPEN_STATUSES = (
    ResumeStatus.SUBMITTED,
    ResumeStatus.ASSIGNED,
    ResumeStatus.IN_REVIEW,
    ResumeStatus.UNASSIGNED,
)
# A learner may send a new version unless a coach holds the current one.
NEW_VERSION_ALLOWED = (
    ResumeStatus.SUBMITTED,
    ResumeStatus.UNASSIGNED,
    ResumeStatus.REVIEWED,
    ResumeStatus.CANCELLED,
)
MAX_TARGET_ROLE = 120
MAX_NOTES = 2000
MAX_SUMMARY = 5000
MAX_COMMENTS = 20000
MAX_REASON = 1000
NUL_MESSAGE = "Remove the NUL character from this text."

register_kind(
    "resume_checked",
    "Automated checks ready",
    email_template="resume_checked",
    roles=(Role.LEARNER,),
    description="The automated checks of an uploaded résumé are ready.",
)
register_kind(
    "resume_unreadable",
    "Résumé could not be read",
    email_template="resume_unreadable",
    roles=(Role.LEARNER,),
    description="An uploaded file could not be read and needs a new version.",
)
register_kind(
    "review_due_soon",
    "Review due soon",
    email_template="resume_due_soon",
    roles=(Role.COACH,),
    description="A résumé you are reviewing is close to its due time.",
)
register_kind(
    "resume_withdrawn",
    "Résumé withdrawn",
    email_template="resume_withdrawn",
    roles=(Role.COACH,),
    description="A résumé offered to you or in your review was withdrawn before the review.",
)
register_kind(
    "resume_review_corrected",
    "Review corrected",
    email_template="resume_review_corrected",
    roles=(Role.LEARNER,),
    description="A coach corrected a review they had sent you.",
)
register_kind(
    "resume_offer_expired",
    "Review offer expired",
    email_template="resume_offer_expired",
    roles=(Role.COACH,),
    description="A résumé offered to you was not accepted in time and went to someone else.",
)


class ReviewInProgress(Conflict):
    code = "review_in_progress"


class InvalidStatus(Conflict):
    code = "invalid_status"


class OfferExpired(Conflict):
    code = "offer_expired"


class CorrectionClosed(Conflict):
    code = "correction_closed"


@dataclass(frozen=True)
class Submission:
    target_role: str
    notes: str = ""


@dataclass(frozen=True)
class ReviewInput:
    summary: str
    scores: dict[str, int] = field(default_factory=dict)
    comments: str = ""
    outcome: str | None = None


@dataclass(frozen=True)
class DraftInput:
    """What a coach has typed so far: any part may be missing."""

    scores: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    comments: str = ""
    outcome: str | None = None


@dataclass(frozen=True)
class Settings:
    upload_dir: str
    max_upload_bytes: int
    accept_window: dt.timedelta
    due_in: dt.timedelta
    parse_timeout: float
    parse_memory_mb: int
    correction_window: dt.timedelta

    @classmethod
    def current(cls) -> Settings:
        cfg = current_app.config
        return cls(
            upload_dir=str(cfg["UPLOAD_DIR"]),
            max_upload_bytes=int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024,
            accept_window=dt.timedelta(hours=float(cfg.get("RESUME_ACCEPT_HOURS", 24))),
            due_in=dt.timedelta(hours=float(cfg.get("RESUME_DUE_HOURS", 72))),
            parse_timeout=float(cfg.get("RESUME_PARSE_TIMEOUT_SECONDS", 30)),
            parse_memory_mb=int(cfg.get("RESUME_PARSE_MEMORY_MB", 512)),
            correction_window=dt.timedelta(hours=float(cfg.get("REVIEW_CORRECTION_HOURS", 24))),
        )


# --- history --------------------------------------------------------------------------------------


def log_event(resume: Resume, event: str, actor: User | None = None, detail: str = "") -> None:
    db.session.add(
        ResumeEvent(
            resume_id=resume.id,
            event=event,
            actor_id=actor.id if actor else None,
            detail=detail,
            at=utcnow(),
        )
    )


# --- upload ---------------------------------------------------------------------------------------


def _clean_submission(submission: Submission) -> Submission:
    errors: dict[str, list[str]] = {}
    role = " ".join((submission.target_role or "").split())
    if not role:
        errors["target_role"] = ["Name the role you are applying for, e.g. “ML engineer”."]
    elif len(role) > MAX_TARGET_ROLE:
        errors["target_role"] = [f"Use at most {MAX_TARGET_ROLE} characters."]
    notes = (submission.notes or "").strip()
    if len(notes) > MAX_NOTES:
        errors["notes"] = [f"Use at most {MAX_NOTES} characters."]
    for name, value in (("target_role", role), ("notes", notes)):
        if "\x00" in value:
            errors[name] = [NUL_MESSAGE]
    if errors:
        raise ValidationFailed("Some fields are missing or not valid.", errors)
    return Submission(target_role=role, notes=notes)


def _add_version(
    resume: Resume, stored: files.StoredFile, number: int, uploader: User
) -> ResumeVersion:
    version = ResumeVersion(
        resume_id=resume.id,
        number=number,
        filename=stored.filename,
        kind=stored.kind,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=uploader.id,
        uploaded_at=utcnow(),
    )
    db.session.add(version)
    db.session.flush()
    outbox.enqueue_after_commit("resumes.analyse", version.id)
    return version


def submit(learner: User, stream: BinaryIO, filename: str | None, submission: Submission) -> Resume:
    """Store a new résumé (version 1), status ``submitted``; checks and routing follow in a worker.

    Raises Forbidden, ValidationFailed (and files.FileRejected), files.FileTooLarge,
    files.UnsupportedFileType. Nothing is stored unless everything is valid."""
    if learner.role != Role.LEARNER:
        raise Forbidden("Only learners upload résumés.")
    submission = _clean_submission(submission)
    settings = Settings.current()
    stored = files.receive(
        stream, filename, upload_dir=settings.upload_dir, max_bytes=settings.max_upload_bytes
    )
    begin_write()
    now = utcnow()
    resume = Resume(
        learner_id=learner.id,
        target_role=submission.target_role,
        notes=submission.notes,
        status=ResumeStatus.SUBMITTED,
        current_version=1,
        queued_at=now,
        created_at=now,
    )
    db.session.add(resume)
    db.session.flush()
    _add_version(resume, stored, 1, learner)
    log_event(resume, "submitted", learner, f"Version 1: {stored.filename}")
    return resume


def submit_version(
    learner: User, resume_id: int, stream: BinaryIO, filename: str | None, notes: str | None = None
) -> Resume:
    """A new version of the learner's résumé; routed again (to the last reviewer if they can).

    Raises NotFound, ReviewInProgress, ValidationFailed, files.FileTooLarge,
    files.UnsupportedFileType."""
    begin_write()
    resume = _owned(learner, resume_id, lock=True)
    if resume.status not in NEW_VERSION_ALLOWED:
        raise ReviewInProgress(
            "A coach is reviewing the current version. Upload the new one when the review is done."
        )
    if notes is not None:
        notes = _clean_submission(Submission(target_role=resume.target_role, notes=notes)).notes
    settings = Settings.current()
    stored = files.receive(
        stream, filename, upload_dir=settings.upload_dir, max_bytes=settings.max_upload_bytes
    )
    number = resume.current_version + 1
    _add_version(resume, stored, number, learner)
    resume.current_version = number
    resume.status = ResumeStatus.SUBMITTED
    resume.reviewer_id = None
    resume.due_at = None
    resume.queued_at = utcnow()
    if notes is not None:
        resume.notes = notes
    log_event(resume, "new_version", learner, f"Version {number}: {stored.filename}")
    db.session.flush()
    return resume


# --- reading --------------------------------------------------------------------------------------


def _coach_sees(coach_id: int) -> Any:
    return exists().where(
        Assignment.resume_id == Resume.id,
        Assignment.coach_id == coach_id,
        Assignment.status.in_(
            [AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED, AssignmentStatus.COMPLETED]
        ),
    )


def visible_to(user: User) -> Select[tuple[Resume]]:
    """Learner: own; coach: offered to them, in their review, or reviewed by them; staff: all."""
    query = select(Resume)
    if user.role == Role.STAFF:
        return query
    if user.role == Role.COACH:
        return query.where(_coach_sees(user.id))
    return query.where(Resume.learner_id == user.id)


def get_visible(user: User, resume_id: int, *, lock: bool = False) -> Resume:
    """The résumé if ``user`` may see it. Raises NotFound (also when it is not theirs)."""
    if not 0 < resume_id <= MAX_ID:
        raise NotFound("There is no such résumé, or it is not yours to see.")
    query = visible_to(user).where(Resume.id == resume_id)
    if lock:
        query = query.with_for_update(of=Resume)
    resume = db.session.scalar(query)
    if resume is None:
        raise NotFound("There is no such résumé, or it is not yours to see.")
    return resume


@dataclass(frozen=True)
class NoLongerYours:
    """A résumé a coach was offered (or reviewing) and no longer holds, and why: ``moved`` (staff
    or a rebalance gave it to another coach), ``withdrawn`` (cancelled before the review),
    ``declined`` or ``expired``."""

    resume: Resume
    assignment: Assignment
    why: str
    at: dt.datetime


def no_longer_yours(coach: User, resume_id: int) -> NoLongerYours | None:
    """Why ``coach`` no longer sees this résumé, when they were offered it once (their old
    "Résumé to review" still links to it); None when it was never theirs, or still is."""
    if coach.role != Role.COACH or not 0 < resume_id <= MAX_ID:
        return None
    last = db.session.scalar(
        select(Assignment)
        .where(Assignment.resume_id == resume_id, Assignment.coach_id == coach.id)
        .order_by(Assignment.id.desc())
        .limit(1)
    )
    if last is None or last.status in (*LIVE_ASSIGNMENT_STATES, AssignmentStatus.COMPLETED):
        return None
    resume = last.resume
    why = str(last.status)
    if last.status == AssignmentStatus.WITHDRAWN:
        passed_on = db.session.scalar(
            select(Assignment.id)
            .where(
                Assignment.resume_id == resume_id,
                Assignment.id > last.id,
                Assignment.coach_id != coach.id,
            )
            .limit(1)
        )
        cancelled = resume.status == ResumeStatus.CANCELLED and passed_on is None
        why = "withdrawn" if cancelled else "moved"
    return NoLongerYours(resume, last, why, last.responded_at or last.offered_at)


def latest_visible_of(viewer: User, learner_id: int) -> Resume | None:
    """The learner's newest résumé that ``viewer`` may open (a coach: one sent to them for
    review), or None. It says nothing of résumés the viewer may not see."""
    return db.session.scalar(
        visible_to(viewer)
        .where(Resume.learner_id == learner_id)
        .order_by(Resume.created_at.desc(), Resume.id.desc())
        .limit(1)
    )


def _owned(learner: User, resume_id: int, *, lock: bool = False) -> Resume:
    resume = get_visible(learner, resume_id, lock=lock)
    if resume.learner_id != learner.id:
        raise Forbidden("Only the learner who uploaded a résumé may change it.")
    return resume


def list_visible(
    user: User, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
) -> Page[Resume]:
    """Newest first. Raises ValidationFailed (bad status or cursor)."""
    query = visible_to(user)
    if status:
        if status not in {s.value for s in ResumeStatus}:
            raise ValidationFailed.field(
                "status", f"Use one of: {', '.join(s.value for s in ResumeStatus)}."
            )
        query = query.where(Resume.status == status)
    return paginate(
        query,
        [(Resume.created_at, "desc"), (Resume.id, "desc")],
        limit=limit,
        cursor=cursor,
        key=lambda r: (r.created_at, r.id),
    )


def current_version(resume: Resume) -> ResumeVersion:
    version = db.session.scalar(
        select(ResumeVersion).where(
            ResumeVersion.resume_id == resume.id, ResumeVersion.number == resume.current_version
        )
    )
    assert version is not None
    return version


def live_assignment(resume_id: int) -> Assignment | None:
    return db.session.scalar(
        select(Assignment).where(
            Assignment.resume_id == resume_id, Assignment.status.in_(LIVE_ASSIGNMENT_STATES)
        )
    )


def review_of_current(resume: Resume) -> Review | None:
    return db.session.scalar(
        select(Review)
        .join(ResumeVersion, Review.version_id == ResumeVersion.id)
        .where(Review.resume_id == resume.id, ResumeVersion.number == resume.current_version)
        .order_by(Review.id.desc())
        .limit(1)
    )


def reviews(resume: Resume) -> list[Review]:
    return list(
        db.session.scalars(
            select(Review).where(Review.resume_id == resume.id).order_by(Review.id.desc())
        )
    )


def file_of(user: User, resume_id: int, number: int | None = None) -> tuple[Path, ResumeVersion]:
    """The stored bytes of the current (or a given) version. Raises NotFound."""
    resume = get_visible(user, resume_id)
    number = number or resume.current_version
    if not 0 < number <= MAX_ID:
        raise NotFound("There is no such version of this résumé.")
    version = db.session.scalar(
        select(ResumeVersion).where(
            ResumeVersion.resume_id == resume.id, ResumeVersion.number == number
        )
    )
    if version is None:
        raise NotFound("There is no such version of this résumé.")
    root = files.storage_root(Settings.current().upload_dir)
    path = files.object_path(root, version.sha256)
    if not path.is_file():
        raise NotFound("The file of this version is missing from storage.")
    return path, version


# --- automated checks (worker) --------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisJob:
    version_id: int
    path: str
    kind: str
    reuse: extraction.Extraction | None  # the same bytes were parsed before


@dataclass(frozen=True)
class AnalysisOutcome:
    result: extraction.Extraction | None
    error: str | None = None


def prepare_analysis(version_id: int) -> AnalysisJob | None:
    """What to parse for a pending version (reads only); None if there is nothing to do."""
    version = db.session.get(ResumeVersion, version_id)
    if version is None or version.analysis_status != AnalysisStatus.PENDING:
        return None
    twin = db.session.scalar(
        select(ResumeVersion)
        .where(
            ResumeVersion.sha256 == version.sha256,
            ResumeVersion.analysis_status == AnalysisStatus.DONE,
            ResumeVersion.id != version.id,
        )
        .limit(1)
    )
    reuse = None
    if twin is not None and twin.text is not None:  # content-addressed: parse once
        reuse = extraction.Extraction(
            text=twin.text,
            page_count=twin.page_count,
            active_content=list(twin.active_content or []),
            preview_html=twin.preview_html,
        )
    root = files.storage_root(Settings.current().upload_dir)
    return AnalysisJob(
        version_id=version.id,
        path=str(files.object_path(root, version.sha256)),
        kind=version.kind,
        reuse=reuse,
    )


def run_analysis(job: AnalysisJob) -> AnalysisOutcome:
    """The full parse, in a child process under time and memory limits; no database."""
    if job.reuse is not None:
        return AnalysisOutcome(job.reuse)
    settings = Settings.current()
    try:
        return AnalysisOutcome(
            extraction.extract(
                Path(job.path),
                job.kind,
                timeout=settings.parse_timeout,
                memory_mb=settings.parse_memory_mb,
            )
        )
    except extraction.ExtractionFailed as exc:
        return AnalysisOutcome(None, exc.detail)


def record_analysis(job: AnalysisJob, outcome: AnalysisOutcome) -> bool:
    """Store the text and checks and hand the résumé to routing (or, for a file that could not be
    read, tell the learner). A no-op if another run recorded it first. Returns whether it was
    readable."""
    begin_write()
    version = db.session.get(ResumeVersion, job.version_id)
    if version is None:
        return False
    resume = db.session.get(Resume, version.resume_id)
    assert resume is not None
    result = outcome.result
    if result is None:
        return _analysis_failed(resume, version, outcome.error or "The file could not be read.")
    claimed = db.session.execute(
        update(ResumeVersion)
        .where(
            ResumeVersion.id == version.id,
            ResumeVersion.analysis_status == AnalysisStatus.PENDING,
        )
        .values(analysis_status=AnalysisStatus.DONE, analysed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return False  # another run finished first
    db.session.refresh(version)
    db.session.refresh(resume)
    version.text = result.text
    version.page_count = result.page_count
    version.word_count = len(result.text.split())
    version.skills = checks.skills_found(result.text)
    version.active_content = result.active_content
    version.preview_html = result.preview_html if version.kind == files.DOCX else None
    version.checks = checks.run(
        result.text,
        result.page_count,
        target_role=resume.target_role,
        kind=version.kind,
        active_content=result.active_content if version.kind == files.PDF else None,
    )
    passed = sum(1 for c in version.checks if c["passed"])
    if version.number == resume.current_version:
        log_event(resume, "checked", None, f"{passed} of {len(version.checks)} checks passed")
        outbox.record("resume.checked", resume_id=resume.id, version_id=version.id)
        if resume.status in (ResumeStatus.SUBMITTED, ResumeStatus.UNASSIGNED):
            outbox.enqueue_after_commit("resumes.route", resume.id)
    db.session.flush()
    return True


def analyse(version_id: int) -> bool:
    """Parse one uploaded version, store its checks, hand it to routing; all in this transaction
    (the worker task commits between the steps instead, see workers/resumes.py)."""
    job = prepare_analysis(version_id)
    if job is None:
        return False
    return record_analysis(job, run_analysis(job))


def _analysis_failed(resume: Resume, version: ResumeVersion, detail: str) -> bool:
    claimed = db.session.execute(
        update(ResumeVersion)
        .where(
            ResumeVersion.id == version.id,
            ResumeVersion.analysis_status == AnalysisStatus.PENDING,
        )
        .values(
            analysis_status=AnalysisStatus.FAILED,
            analysed_at=utcnow(),
            analysis_error=detail,
            checks=checks.unreadable(detail),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return False
    if version.number == resume.current_version and resume.status in (
        ResumeStatus.SUBMITTED,
        ResumeStatus.UNASSIGNED,
    ):
        # An unreadable file never reaches a coach: the learner is told and sends a new version.
        resume.status = ResumeStatus.CANCELLED
        log_event(resume, "unreadable", None, detail)
        outbox.record("resume.unreadable", resume_id=resume.id, version_id=version.id)
    db.session.flush()
    return False


# --- the coach's side -----------------------------------------------------------------------------


def _coach_assignment(coach: User, resume_id: int) -> tuple[Resume, Assignment]:
    if coach.role != Role.COACH:
        raise Forbidden("Only the assigned coach may do this.")
    begin_write()
    resume = get_visible(coach, resume_id, lock=True)
    assignment = db.session.scalar(
        select(Assignment)
        .where(
            Assignment.resume_id == resume.id,
            Assignment.coach_id == coach.id,
            Assignment.status.in_(LIVE_ASSIGNMENT_STATES),
        )
        .with_for_update()
    )
    if assignment is None:
        raise InvalidStatus(
            f"This résumé is {resume.status.replace('_', ' ')}; it is not waiting for you."
        )
    return resume, assignment


def accept(coach: User, resume_id: int) -> Resume:
    """The assigned coach takes the review: ``in_review``. Idempotent for an accepted one.

    Raises NotFound, Forbidden, InvalidStatus, OfferExpired."""
    resume, assignment = _coach_assignment(coach, resume_id)
    if assignment.status == AssignmentStatus.ACCEPTED:
        return resume
    now = utcnow()
    if assignment.expires_at <= now:
        raise OfferExpired("The time to accept this offer has passed; it goes to someone else.")
    taken = db.session.execute(
        update(Assignment)
        .where(Assignment.id == assignment.id, Assignment.status == AssignmentStatus.OFFERED)
        .values(status=AssignmentStatus.ACCEPTED, responded_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        raise InvalidStatus("This offer changed meanwhile; reload and try again.")
    db.session.refresh(assignment)
    resume.status = ResumeStatus.IN_REVIEW
    log_event(resume, "accepted", coach)
    db.session.flush()
    return resume


def decline(coach: User, resume_id: int, reason: str) -> Resume:
    """The assigned coach hands the résumé back with a reason; it is routed to someone else.

    Raises NotFound, Forbidden, ValidationFailed, InvalidStatus."""
    reason = " ".join((reason or "").split())
    if "\x00" in reason:
        raise ValidationFailed.field("reason", NUL_MESSAGE)
    if not reason:
        raise ValidationFailed.field("reason", "Say why you decline, for the staff who follow up.")
    if len(reason) > MAX_REASON:
        raise ValidationFailed.field("reason", f"Use at most {MAX_REASON} characters.")
    resume, assignment = _coach_assignment(coach, resume_id)
    now = utcnow()
    assignment.status = AssignmentStatus.DECLINED
    assignment.responded_at = now
    assignment.decline_reason = reason
    exclude(resume.id, coach.id, ExclusionReason.DECLINED)
    resume.status = ResumeStatus.SUBMITTED
    resume.reviewer_id = None
    resume.due_at = None
    log_event(resume, "declined", coach, reason)
    db.session.flush()
    outbox.enqueue_after_commit("resumes.route", resume.id)
    outbox.enqueue_after_commit("resumes.drain")
    return resume


def withdraw(actor: User, resume_id: int, reason: str = "") -> Resume:
    """The learner (or staff) withdraws a résumé before its review: ``cancelled``. A coach who
    holds it is told and has the room back. Idempotent for a cancelled one; a new version
    reopens it. Raises NotFound, Forbidden, ValidationFailed, InvalidStatus."""
    if actor.role not in (Role.LEARNER, Role.STAFF):
        raise Forbidden("Only the learner or staff may withdraw a résumé.")
    reason = " ".join((reason or "").split())
    if "\x00" in reason:
        raise ValidationFailed.field("reason", NUL_MESSAGE)
    if len(reason) > MAX_REASON:
        raise ValidationFailed.field("reason", f"Use at most {MAX_REASON} characters.")
    begin_write()
    resume = get_visible(actor, resume_id, lock=True)
    if resume.status == ResumeStatus.CANCELLED:
        return resume
    if resume.status not in OPEN_STATUSES:
        raise InvalidStatus("This résumé has been reviewed; there is nothing to withdraw.")
    live = live_assignment(resume.id)
    if live is not None:
        live.status = AssignmentStatus.WITHDRAWN
        live.responded_at = utcnow()
    resume.status = ResumeStatus.CANCELLED
    resume.reviewer_id = None
    resume.due_at = None
    log_event(resume, "cancelled", actor, reason)
    if actor.role == Role.STAFF:
        audit.record(actor, "resume.cancel", "resume", resume.id, reason)
    db.session.flush()
    if live is not None:
        outbox.record("resume.withdrawn", resume_id=resume.id, assignment_id=live.id)
        outbox.enqueue_after_commit("resumes.drain")  # the coach has room for a waiting one
    return resume


def exclude(resume_id: int, coach_id: int, reason: str) -> None:
    present = db.session.scalar(
        select(ResumeExclusion.id).where(
            ResumeExclusion.resume_id == resume_id,
            ResumeExclusion.coach_id == coach_id,
            ResumeExclusion.reason == reason,
        )
    )
    if present is None:
        db.session.add(ResumeExclusion(resume_id=resume_id, coach_id=coach_id, reason=reason))


def _clean_review(review: ReviewInput) -> tuple[str, dict[str, int], str, str]:
    errors: dict[str, list[str]] = {}
    summary = (review.summary or "").strip()
    if not summary:
        errors["summary"] = ["Write a summary of your review."]
    elif len(summary) > MAX_SUMMARY:
        errors["summary"] = [f"Use at most {MAX_SUMMARY} characters."]
    comments = (review.comments or "").strip()
    if len(comments) > MAX_COMMENTS:
        errors["comments"] = [f"Use at most {MAX_COMMENTS} characters."]
    for name, text_value in (("summary", summary), ("comments", comments)):
        if "\x00" in text_value:
            errors[name] = [NUL_MESSAGE]
    scores: dict[str, int] = {}
    if not review.scores:
        errors["scores"] = [f"Score at least one of: {', '.join(CRITERIA)} (1 to 5)."]
    for name, value in (review.scores or {}).items():
        if name not in CRITERIA:
            errors[f"scores.{name}"] = [f"Not a criterion; use {', '.join(CRITERIA)}."]
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors[f"scores.{name}"] = ["Use a whole number from 1 to 5."]
        else:
            scores[name] = value
    outcome = review.outcome
    if outcome is not None and outcome not in {o.value for o in ReviewOutcome}:
        errors["outcome"] = [f"Use one of: {', '.join(o.value for o in ReviewOutcome)}."]
    if errors:
        raise ValidationFailed("Some fields of the review are missing or not valid.", errors)
    if outcome is None:  # derived from the scores when the coach does not say
        lowest = min(scores.values())
        outcome = (
            ReviewOutcome.CHANGES_REQUIRED
            if lowest <= 2
            else ReviewOutcome.APPROVED
            if lowest >= 4
            else ReviewOutcome.CHANGES_SUGGESTED
        )
    return summary, scores, comments, str(outcome)


def submit_review(
    coach: User, resume_id: int, review: ReviewInput, *, require_accepted: bool = False
) -> Resume:
    """The assigned coach's review: ``reviewed``, and the learner is told. An offer not yet
    accepted is accepted first, unless ``require_accepted`` (the review page: its rubric is live
    only once the coach has accepted). The coach's draft of it is deleted.

    Raises NotFound, Forbidden, ValidationFailed, InvalidStatus."""
    summary, scores, comments, outcome = _clean_review(review)
    resume, assignment = _coach_assignment(coach, resume_id)
    now = utcnow()
    if assignment.status == AssignmentStatus.OFFERED:
        if require_accepted:
            raise InvalidStatus("Accept the offer first; then the review is yours to write.")
        assignment.responded_at = now
        log_event(resume, "accepted", coach)
    assignment.status = AssignmentStatus.COMPLETED
    assignment.completed_at = now
    row = Review(
        resume_id=resume.id,
        version_id=assignment.version_id,
        assignment_id=assignment.id,
        coach_id=coach.id,
        summary=summary,
        comments=comments,
        outcome=outcome,
        created_at=now,
        turnaround_us=Review.turnaround_of(now, assignment.version.uploaded_at),
        **scores,
    )
    db.session.add(row)
    resume.status = ResumeStatus.REVIEWED
    resume.reviewer_id = coach.id
    log_event(resume, "reviewed", coach, outcome.replace("_", " "))
    _discard_draft(assignment.version_id, coach.id)
    db.session.flush()
    outbox.record("resume.reviewed", resume_id=resume.id, review_id=row.id)
    outbox.enqueue_after_commit("resumes.drain")  # the coach has room again
    return resume


# --- correcting a sent review ---------------------------------------------------------------------


def correctable_until(review: Review) -> dt.datetime:
    return review.created_at + Settings.current().correction_window


def can_correct(coach: User, review: Review | None, *, now: dt.datetime | None = None) -> bool:
    """Whether ``coach`` may still correct ``review`` (theirs, within the correction window)."""
    return (
        review is not None
        and review.coach_id == coach.id
        and (now or utcnow()) < correctable_until(review)
    )


def _own_review(coach: User, resume: Resume) -> Review:
    review = review_of_current(resume)
    if review is None or review.coach_id != coach.id:
        raise InvalidStatus("There is no review of yours of this version to correct.")
    return review


def correct_review(coach: User, resume_id: int, review: ReviewInput) -> Resume:
    """The coach corrects the review they sent of the current version, within
    REVIEW_CORRECTION_HOURS of sending it; the learner is told what changed. A correction that
    changes nothing changes nothing (and tells no one). The coach's draft of it is deleted.

    Raises NotFound, Forbidden, ValidationFailed, InvalidStatus, CorrectionClosed."""
    summary, scores, comments, outcome = _clean_review(review)
    if coach.role != Role.COACH:
        raise Forbidden("Only the coach who wrote a review may correct it.")
    begin_write()
    resume = get_visible(coach, resume_id, lock=True)
    row = _own_review(coach, resume)
    now = utcnow()
    if not can_correct(coach, row, now=now):
        hours = Settings.current().correction_window / dt.timedelta(hours=1)
        raise CorrectionClosed(
            f"A review can be corrected for {hours:g} hours after it is sent; that time has "
            "passed. Write to the learner instead."
        )
    wanted: dict[str, Any] = {name: scores.get(name) for name in CRITERIA}
    wanted |= {"summary": summary, "comments": comments, "outcome": outcome}
    changed = [name for name, value in wanted.items() if getattr(row, name) != value]
    _discard_draft(row.version_id, coach.id)
    if not changed:
        db.session.flush()
        return resume
    for name, value in wanted.items():
        setattr(row, name, value)
    row.corrected_at = now
    log_event(resume, "review_corrected", coach, f"changed {in_a_sentence(changed)}")
    db.session.flush()
    outbox.record("resume.review_corrected", resume_id=resume.id, review_id=row.id, changed=changed)
    return resume


# --- drafts ---------------------------------------------------------------------------------------


def _draft_version(coach: User, resume: Resume) -> int:
    """The version ``coach`` may keep a draft for: the one whose review they hold (accepted), or
    the one whose review they sent and may still correct. Raises InvalidStatus."""
    live = live_assignment(resume.id)
    if live is not None and live.coach_id == coach.id:
        if live.status != AssignmentStatus.ACCEPTED:
            raise InvalidStatus("Accept the offer first; then the review is yours to write.")
        return live.version_id
    review = review_of_current(resume)
    if review is not None and can_correct(coach, review):
        return review.version_id
    raise InvalidStatus("This résumé is not waiting for your review.")


def _clean_draft(draft: DraftInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    scores: dict[str, int] = {}
    for name, value in (draft.scores or {}).items():
        if value in (None, ""):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if name not in CRITERIA:
            errors[f"scores.{name}"] = [f"Not a criterion; use {', '.join(CRITERIA)}."]
        elif isinstance(value, bool) or not 1 <= number <= 5 or str(number) != str(value):
            errors[f"scores.{name}"] = ["Use a whole number from 1 to 5."]
        else:
            scores[name] = number
    summary, comments = draft.summary or "", draft.comments or ""
    for name, value, most in (
        ("summary", summary, MAX_SUMMARY),
        ("comments", comments, MAX_COMMENTS),
    ):
        if "\x00" in value:
            errors[name] = [NUL_MESSAGE]
        elif len(value) > most:
            errors[name] = [f"Use at most {most} characters."]
    outcome = draft.outcome or None
    if outcome is not None and outcome not in {o.value for o in ReviewOutcome}:
        errors["outcome"] = [f"Use one of: {', '.join(o.value for o in ReviewOutcome)}."]
    if errors:
        raise ValidationFailed("The draft could not be saved.", errors)
    return {"scores": scores, "summary": summary, "comments": comments, "outcome": outcome}


def save_draft(coach: User, resume_id: int, draft: DraftInput) -> ReviewDraft:
    """Keep what the coach has typed of the review (or of its correction), replacing the last
    draft. Raises NotFound, Forbidden, ValidationFailed, InvalidStatus."""
    if coach.role != Role.COACH:
        raise Forbidden("Only the coach reviewing a résumé keeps a draft of the review.")
    values = _clean_draft(draft)
    begin_write()
    resume = get_visible(coach, resume_id, lock=True)  # one writer per résumé at a time
    version_id = _draft_version(coach, resume)
    row = draft_of(coach, version_id)
    if row is None:
        row = ReviewDraft(version_id=version_id, coach_id=coach.id)
        db.session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    db.session.flush()
    return row


def draft_of(coach: User, version_id: int) -> ReviewDraft | None:
    return db.session.scalar(
        select(ReviewDraft).where(
            ReviewDraft.version_id == version_id, ReviewDraft.coach_id == coach.id
        )
    )


def _discard_draft(version_id: int, coach_id: int) -> None:
    db.session.execute(
        delete(ReviewDraft).where(
            ReviewDraft.version_id == version_id, ReviewDraft.coach_id == coach_id
        )
    )


# --- notifications --------------------------------------------------------------------------------


def _link(path: str) -> str:
    return f"{base_url()}{path}"


def _local(at: dt.datetime | None, user: User) -> str:
    """A time as the recipient reads it: their time zone, their clock."""
    return localtime.for_user(at, user) if at is not None else ""


@handles("resume.checked")
def _checked(payload: dict[str, Any]) -> list[Message]:
    resume = db.session.get(Resume, payload["resume_id"])
    version = db.session.get(ResumeVersion, payload["version_id"])
    if resume is None or version is None or not version.checks:
        return []
    passed = sum(1 for c in version.checks if c["passed"])
    return [
        Message(
            user=resume.learner,
            kind="resume_checked",
            title="Automated checks are ready",
            body=f"{passed} of {len(version.checks)} checks passed for “{version.filename}”.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={"resume": resume, "version": version, "passed": passed},
        )
    ]


@handles("resume.unreadable")
def _unreadable(payload: dict[str, Any]) -> list[Message]:
    resume = db.session.get(Resume, payload["resume_id"])
    version = db.session.get(ResumeVersion, payload["version_id"])
    if resume is None or version is None:
        return []
    return [
        Message(
            user=resume.learner,
            kind="resume_unreadable",
            title="We could not read your résumé",
            body=version.analysis_error or "Upload it again as a new version.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={"resume": resume, "version": version},
        )
    ]


@handles("resume.assigned")
def _assigned(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    resume = assignment.resume
    return [
        Message(
            user=assignment.coach,
            kind="resume_assigned",
            title=f"Résumé to review: {resume.target_role}",
            body=f"{resume.learner.name}'s résumé (version {assignment.version.number}) is offered "
            f"to you. Accept it by {_local(assignment.expires_at, assignment.coach)}, or decline "
            "with a reason.",
            link=_link(f"/coach/reviews/{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "expires_local": _local(assignment.expires_at, assignment.coach),
                "due_local": _local(assignment.due_at, assignment.coach),
            },
        )
    ]


@handles("resume.reviewed")
def _reviewed(payload: dict[str, Any]) -> list[Message]:
    review = db.session.get(Review, payload["review_id"])
    resume = db.session.get(Resume, payload["resume_id"])
    if review is None or resume is None:
        return []
    return [
        Message(
            user=resume.learner,
            kind="resume_reviewed",
            title="Your résumé was reviewed",
            body=f"{review.coach.name if review.coach else 'Your coach'} reviewed your résumé: "
            f"{review.outcome.replace('_', ' ')}.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={
                "resume": resume,
                "review": review,
                "coach_name": review.coach.name if review.coach else "Your coach",
            },
        )
    ]


@handles("resume.review_corrected")
def _review_corrected(payload: dict[str, Any]) -> list[Message]:
    review = db.session.get(Review, payload["review_id"])
    resume = db.session.get(Resume, payload["resume_id"])
    if review is None or resume is None:
        return []
    coach_name = review.coach.name if review.coach else "Your coach"
    changed = [str(n) for n in payload.get("changed") or []]
    return [
        Message(
            user=resume.learner,
            kind="resume_review_corrected",
            title="Your review was corrected",
            body=f"{coach_name} corrected the review of your résumé "
            f"(changed {in_a_sentence(changed) or 'details'}). "
            f"Outcome: {OUTCOMES.get(review.outcome, review.outcome).lower()}.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={"resume": resume, "review": review, "coach_name": coach_name},
        )
    ]


@handles("resume.unassigned")
def _unassigned(payload: dict[str, Any]) -> list[Message]:
    resume = db.session.get(Resume, payload["resume_id"])
    if resume is None:
        return []
    reason = str(payload.get("reason") or "")
    return [
        Message(
            user=staff,
            kind="resume_unassigned",
            title=f"No reviewer for résumé #{resume.id}",
            body=f"{resume.learner.name}'s résumé ({resume.target_role}) could not be routed: "
            f"{reason}. It is routed automatically when capacity frees, or assign it now.",
            link=_link(f"/staff/queue?status=unassigned#resume-{resume.id}"),
            context={"resume": resume, "reason": reason},
        )
        for staff in staff_recipients()
    ]


@handles("resume.due_soon")
def _due_soon(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None or assignment.status not in LIVE_ASSIGNMENT_STATES:
        return []
    resume = assignment.resume
    return [
        Message(
            user=assignment.coach,
            kind="review_due_soon",
            title=f"Review due soon: {resume.target_role}",
            body=f"The review of {resume.learner.name}'s résumé is due soon.",
            link=_link(f"/coach/reviews/{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "due_local": _local(assignment.due_at, assignment.coach),
            },
        )
    ]


@handles("resume.overdue")
def _overdue(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    resume = assignment.resume
    return [
        Message(
            user=staff,
            kind="review_overdue",
            title=f"Review overdue: résumé #{resume.id}",
            body=f"{assignment.coach.name} has not finished the review of "
            f"{resume.learner.name}'s résumé, due {_local(assignment.due_at, staff)}.",
            link=_link(f"/staff/queue?overdue=true#resume-{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "due_local": _local(assignment.due_at, staff),
                "to_coach": False,
            },
        )
        for staff in staff_recipients()
    ] + [
        Message(
            user=assignment.coach,
            kind="review_overdue",
            title=f"Your review is overdue: {resume.target_role}",
            body=f"The review of {resume.learner.name}'s résumé was due "
            f"{_local(assignment.due_at, assignment.coach)}; staff were told.",
            link=_link(f"/coach/reviews/{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "due_local": _local(assignment.due_at, assignment.coach),
                "to_coach": True,
            },
        )
    ]


@handles("resume.withdrawn")
def _withdrawn(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    return [
        Message(
            user=assignment.coach,
            kind="resume_withdrawn",
            title=f"Résumé withdrawn: {assignment.resume.target_role}",
            body=f"{assignment.resume.learner.name}'s résumé was withdrawn before the review; "
            "you need do nothing more with it.",
            link=_link("/coach/reviews"),
            context={"resume": assignment.resume},
        )
    ]


@handles("resume.moved")
def _moved(payload: dict[str, Any]) -> list[Message]:
    """Staff (or a rebalance) moved a résumé: the coach who lost it is told it moved; a coach who
    got back a version they held before is told it is back (their first "Résumé to review"
    still leads to it), never offered it a second time."""
    resume = db.session.get(Resume, payload["resume_id"])
    if resume is None:
        return []
    before = _assignment(payload.get("from_assignment_id"))
    after = _assignment(payload.get("to_assignment_id"))
    link = _link(f"/coach/reviews/{resume.id}")
    messages = []
    if before is not None and (after is None or after.coach_id != before.coach_id):
        messages.append(
            Message(
                user=before.coach,
                kind="resume_moved",
                title=f"Résumé moved to another coach: {resume.target_role}",
                body=f"Staff moved {resume.learner.name}'s résumé to another coach; you need do "
                "nothing more with it.",
                link=link,
                context={"resume": resume, "back": False},
            )
        )
    if after is not None and payload.get("back") and after.status in LIVE_ASSIGNMENT_STATES:
        messages.append(
            Message(
                user=after.coach,
                kind="resume_moved",
                title=f"Résumé back with you: {resume.target_role}",
                body=f"Staff gave you back {resume.learner.name}'s résumé (version "
                f"{after.version.number}), which you were offered before.",
                link=link,
                context={
                    "resume": resume,
                    "back": True,
                    "expires_local": _local(after.expires_at, after.coach),
                    "due_local": _local(after.due_at, after.coach),
                },
            )
        )
    return messages


def _assignment(assignment_id: Any) -> Assignment | None:
    return db.session.get(Assignment, assignment_id) if isinstance(assignment_id, int) else None


@handles("resume.offer_expired")
def _offer_expired(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    return [
        Message(
            user=assignment.coach,
            kind="resume_offer_expired",
            title="A review offer expired",
            body=f"The offer of {assignment.resume.learner.name}'s résumé was not accepted in "
            "time and went to someone else.",
            link=_link("/coach/reviews"),
            context={"resume": assignment.resume},
        )
    ]


# --- status labels: what a résumé's state means to the one reading it ----------------------------


@dataclass(frozen=True)
class StatusLabel:
    """A résumé's state as a person reads it. ``code`` names the state (and the badge's style),
    ``text`` says it, ``tone`` is how it looks: ``neutral``, ``waiting``, ``active``, ``good``,
    ``attention`` (someone must act) or ``bad``; ``next_step`` is what the viewer does next, if
    anything."""

    code: str
    text: str
    tone: str
    next_step: str | None = None


_OUTCOME_TEXT = {
    ReviewOutcome.APPROVED: "approved",
    ReviewOutcome.CHANGES_SUGGESTED: "changes suggested",
    ReviewOutcome.CHANGES_REQUIRED: "changes requested",
}


def status_label(
    status: str,
    viewer: User,
    *,
    assignment: Assignment | None = None,
    coach: User | None = None,
    review: Review | None = None,
    version: ResumeVersion | None = None,
) -> StatusLabel:
    """The one place résumé states are put into words (every page and the dashboards use it).

    ``assignment`` is the live offer or review, ``coach`` the coach holding it, ``review`` and
    ``version`` the review and the current version; times are in the viewer's zone."""
    learner = viewer.role == Role.LEARNER
    who = "" if coach is None else "you" if coach.id == viewer.id else coach.name
    if status == ResumeStatus.ASSIGNED:
        text = f"Offered to {who}" if who else "Offered to a coach"
        if assignment is not None and assignment.status == AssignmentStatus.OFFERED:
            text += f", accept by {_local(assignment.expires_at, viewer)}"
        step = "Accept it or decline it" if who == "you" else None
        return StatusLabel("offered", text, "waiting", step)
    if status == ResumeStatus.IN_REVIEW:
        text = f"In review with {who}" if who else "In review"
        step = "Write the review" if who == "you" else None
        return StatusLabel("in_review", text, "active", step)
    if status == ResumeStatus.REVIEWED:
        outcome = review.outcome if review is not None else None
        if outcome == ReviewOutcome.CHANGES_REQUIRED:
            if learner:
                return StatusLabel(
                    "changes_requested",
                    "Reviewed — changes requested: upload a new version",
                    "attention",
                    "Upload a new version",
                )
            return StatusLabel("changes_requested", "Reviewed — changes requested", "attention")
        if outcome == ReviewOutcome.CHANGES_SUGGESTED:
            return StatusLabel(
                "changes_suggested",
                "Reviewed — changes suggested",
                "good",
                "Read the review" if learner else None,
            )
        if outcome == ReviewOutcome.APPROVED:
            return StatusLabel("approved", "Reviewed — approved", "good")
        return StatusLabel("reviewed", "Reviewed", "good")
    if status == ResumeStatus.UNASSIGNED:
        return StatusLabel(
            "unassigned", "Waiting for a coach", "attention" if not learner else "waiting"
        )
    analysis = version.analysis_status if version is not None else None
    if status == ResumeStatus.CANCELLED:
        if analysis == AnalysisStatus.FAILED:
            return StatusLabel(
                "unreadable",
                "Could not be read: upload a new version" if learner else "Could not be read",
                "bad",
                "Upload a new version" if learner else None,
            )
        return StatusLabel("cancelled", "Cancelled", "neutral")
    if analysis == AnalysisStatus.PENDING:
        return StatusLabel("submitted", "Submitted — running the checks", "waiting")
    return StatusLabel("submitted", "Submitted — finding a coach", "waiting")


# --- read models (batched: a fixed number of queries per page, whatever its size) -----------------


@dataclass(frozen=True)
class HistoryItem:
    at: dt.datetime
    event: str
    by: User | None
    detail: str


@dataclass(frozen=True)
class ResumeView:
    resume: Resume
    version: ResumeVersion
    versions: list[ResumeVersion]
    learner: User
    reviewer: User | None
    review: Review | None  # of the current version
    reviews: list[Review]  # every version's, newest first
    assignment: Assignment | None  # the live offer or review
    history: list[HistoryItem]
    decision: RoutingDecision | None  # the latest routing decision (staff read why)
    status: StatusLabel  # the state in words, for the viewer


# What a learner reads for events whose detail is meant for coaches and staff.
_LEARNER_DETAIL = {
    "declined": "The coach passed it on; it goes to another coach.",
    "offer_expired": "The offer lapsed; it goes to another coach.",
    "withdrawn": "Staff moved it to another coach.",
    "reassigned": "",
    "assigned_by_staff": "",
    "escalated": "Staff were told the review is late.",
}


def views(resumes: Sequence[Resume], viewer: User) -> list[ResumeView]:
    """Everything a page or the API shows about each résumé, in a fixed number of queries."""
    if not resumes:
        return []
    ids = [r.id for r in resumes]
    versions: dict[int, list[ResumeVersion]] = {i: [] for i in ids}
    for version in db.session.scalars(
        select(ResumeVersion)
        .where(ResumeVersion.resume_id.in_(ids))
        .order_by(ResumeVersion.resume_id, ResumeVersion.number)
    ):
        versions[version.resume_id].append(version)
    all_reviews: dict[int, list[Review]] = {i: [] for i in ids}
    for review in db.session.scalars(
        select(Review).where(Review.resume_id.in_(ids)).order_by(Review.id.desc())
    ):
        all_reviews[review.resume_id].append(review)
    events: dict[int, list[ResumeEvent]] = {i: [] for i in ids}
    for event in db.session.scalars(
        select(ResumeEvent).where(ResumeEvent.resume_id.in_(ids)).order_by(ResumeEvent.id)
    ):
        events[event.resume_id].append(event)
    live = {
        a.resume_id: a
        for a in db.session.scalars(
            select(Assignment).where(
                Assignment.resume_id.in_(ids), Assignment.status.in_(LIVE_ASSIGNMENT_STATES)
            )
        )
    }
    decisions: dict[int, RoutingDecision] = {}
    if viewer.role == Role.STAFF:
        for decision in db.session.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.resume_id.in_(ids))
            .order_by(RoutingDecision.id)
        ):
            decisions[decision.resume_id] = decision
    user_ids = {r.learner_id for r in resumes} | {r.reviewer_id for r in resumes if r.reviewer_id}
    user_ids |= {e.actor_id for es in events.values() for e in es if e.actor_id}
    user_ids |= {v.coach_id for vs in all_reviews.values() for v in vs if v.coach_id}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    result = []
    for resume in resumes:
        by_number = {v.number: v for v in versions[resume.id]}
        version = by_number[resume.current_version]
        current_review = next(
            (rv for rv in all_reviews[resume.id] if rv.version_id == version.id), None
        )
        history = [
            HistoryItem(
                at=e.at,
                event=e.event,
                by=users.get(e.actor_id) if e.actor_id else None,
                detail=_LEARNER_DETAIL.get(e.event, e.detail)
                if viewer.role == Role.LEARNER
                else e.detail,
            )
            for e in events[resume.id]
        ]
        result.append(
            ResumeView(
                resume=resume,
                version=version,
                versions=versions[resume.id],
                learner=users[resume.learner_id],
                reviewer=users.get(resume.reviewer_id) if resume.reviewer_id else None,
                review=current_review,
                reviews=all_reviews[resume.id],
                assignment=live.get(resume.id),
                history=history,
                decision=decisions.get(resume.id),
                status=status_label(
                    resume.status,
                    viewer,
                    assignment=live.get(resume.id),
                    coach=users.get(resume.reviewer_id) if resume.reviewer_id else None,
                    review=current_review,
                    version=version,
                ),
            )
        )
    return result


def view(resume: Resume, viewer: User) -> ResumeView:
    return views([resume], viewer)[0]
