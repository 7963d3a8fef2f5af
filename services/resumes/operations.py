"""Résumés: upload and versions, the coach's side (accept, decline, review), corrections of a sent
review, drafts, and withdrawal. Reading lives in views, routing in routing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import delete, select, update

from services import audit, outbox, storage, workhours
from services.db import db, utcnow
from services.errors import Forbidden, ValidationFailed
from services.models import (
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
    User,
)
from services.models.resumes import CRITERIA, LIVE_ASSIGNMENT_STATES
from services.resumes import annotations as marks
from services.resumes import files, jobmatch
from services.resumes.errors import CorrectionClosed, InvalidStatus, OfferExpired, ReviewInProgress
from services.resumes.settings import Settings
from services.resumes.views import (
    correctable_until,
    get_visible,
    live_assignment,
    review_of_current,
)
from services.rubric import in_a_sentence

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


@dataclass(frozen=True)
class Submission:
    target_role: str
    notes: str = ""
    # The job the résumé is aimed at, pasted (services.resumes.jobmatch); optional.
    job_description: str | None = None


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
    try:
        job = jobmatch.clean_text(submission.job_description)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        job = None
    if errors:
        raise ValidationFailed("Some fields are missing or not valid.", errors)
    return Submission(target_role=role, notes=notes, job_description=job)


def _add_version(
    resume: Resume,
    stored: files.StoredFile,
    number: int,
    uploader: User,
    job_description: str | None = None,
) -> ResumeVersion:
    version = ResumeVersion(
        job_description=job_description,
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


def job_text(submission: Submission, job_file: tuple[BinaryIO, str | None] | None) -> str | None:
    """The job description: the pasted text, or the text of the uploaded PDF/DOCX (parsed in a
    child process: call it before the write transaction, not inside it). Raises
    ValidationFailed, files.FileRejected and its kin."""
    if job_file is None:
        return submission.job_description
    if submission.job_description:
        raise ValidationFailed.field(
            "job_description", "Paste the job description or upload its file, not both."
        )
    return jobmatch.text_of_file(*job_file)


def receive(
    learner: User,
    stream: BinaryIO,
    filename: str | None,
    submission: Submission | None = None,
    *,
    resume_id: int | None = None,
) -> files.StoredFile:
    """Check an upload and keep it in storage: before the write transaction, since storing can take
    a while (an S3 round trip) and no lock is held through it. The refusals the write would give
    are checked first, so a refused upload keeps nothing: the learner's role, ``submission`` (a
    new résumé) or, for a new version of ``resume_id``, that its review is not under way. The
    write checks them again under its lock; what a write that then fails leaves in storage is an
    orphan the sweep removes (never a row pointing at nothing).

    Raises Forbidden, NotFound, ReviewInProgress, ValidationFailed (and files.FileRejected),
    files.FileTooLarge, files.UnsupportedFileType, storage.StorageUnavailable."""
    if learner.role != Role.LEARNER:
        raise Forbidden("Only learners upload résumés.")
    if submission is not None:
        _clean_submission(submission)
    if resume_id is not None:
        _may_add_version(_owned(learner, resume_id))
    return files.receive(
        stream,
        filename,
        store=storage.current(),
        max_bytes=Settings.current().max_upload_bytes,
    )


def submit(learner: User, stored: files.StoredFile, submission: Submission) -> Resume:
    """A new résumé (version 1) of the file ``receive`` kept, status ``submitted``; checks and
    routing follow in a worker. A job description sent as a file is read into
    ``submission.job_description`` first (``job_text``).

    Raises Forbidden, ValidationFailed."""
    if learner.role != Role.LEARNER:
        raise Forbidden("Only learners upload résumés.")
    submission = _clean_submission(submission)
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
    _add_version(resume, stored, 1, learner, submission.job_description)
    log_event(resume, "submitted", learner, f"Version 1: {stored.filename}")
    return resume


def _may_add_version(resume: Resume) -> None:
    if resume.status not in NEW_VERSION_ALLOWED:
        raise ReviewInProgress(
            "A coach is reviewing the current version. Upload the new one when the review is done."
        )


def submit_version(
    learner: User,
    resume_id: int,
    stored: files.StoredFile,
    notes: str | None = None,
    job_description: str | None = None,
) -> Resume:
    """A new version of the learner's résumé, of the file ``receive`` kept; routed again (to the
    last reviewer if they can). It is held against ``job_description`` if given, else the job of
    the version before.

    Raises NotFound, Forbidden, ReviewInProgress, ValidationFailed."""
    resume = _owned(learner, resume_id, lock=True)
    _may_add_version(resume)
    if notes is not None:
        notes = _clean_submission(Submission(target_role=resume.target_role, notes=notes)).notes
    job = jobmatch.clean_text(job_description)
    number = resume.current_version + 1
    if job is None:
        before = db.session.scalar(
            select(ResumeVersion.job_description).where(
                ResumeVersion.resume_id == resume.id,
                ResumeVersion.number == resume.current_version,
            )
        )
        job = before
    _add_version(resume, stored, number, learner, job)
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


def _owned(learner: User, resume_id: int, *, lock: bool = False) -> Resume:
    resume = get_visible(learner, resume_id, lock=lock)
    if resume.learner_id != learner.id:
        raise Forbidden("Only the learner who uploaded a résumé may change it.")
    return resume


# --- the coach's side -----------------------------------------------------------------------------


def _coach_assignment(coach: User, resume_id: int) -> tuple[Resume, Assignment]:
    if coach.role != Role.COACH:
        raise Forbidden("Only the assigned coach may do this.")
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
    only once the coach has accepted). The coach's draft of it is deleted; their draft comments
    on the version are published with it.

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
        # Working hours on the clock its due time counted: the coach's own week where staff
        # chose it, else the desk's (the wall clock until staff set hours).
        turnaround_us=workhours.clock_for(coach.id).elapsed(assignment.version.uploaded_at, now)
        // dt.timedelta(microseconds=1),
        **scores,
    )
    db.session.add(row)
    db.session.flush()
    marks.publish(coach, resume, assignment.version_id, row)
    resume.status = ResumeStatus.REVIEWED
    resume.reviewer_id = coach.id
    log_event(resume, "reviewed", coach, outcome.replace("_", " "))
    _discard_draft(assignment.version_id, coach.id)
    db.session.flush()
    outbox.record("resume.reviewed", resume_id=resume.id, review_id=row.id)
    outbox.enqueue_after_commit("resumes.drain")  # the coach has room again
    return resume


# --- correcting a sent review ---------------------------------------------------------------------


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
