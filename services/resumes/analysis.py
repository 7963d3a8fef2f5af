"""The automated checks of an uploaded version, run by the worker: prepare (read), run (parse in a
limited child process, no database), record (store the checks and hand the résumé on)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from services import outbox, skills, storage
from services.db import db, utcnow
from services.models import AnalysisStatus, Resume, ResumeStatus, ResumeVersion
from services.resumes import annotations as marks
from services.resumes import checks, extraction, files, jobmatch
from services.resumes.operations import log_event
from services.resumes.settings import Settings

# --- automated checks (worker) --------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisJob:
    version_id: int
    sha256: str  # the stored object to parse
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
    return AnalysisJob(
        version_id=version.id,
        sha256=version.sha256,
        kind=version.kind,
        reuse=reuse,
    )


def run_analysis(job: AnalysisJob) -> AnalysisOutcome:
    """The full parse, in a child process under time and memory limits, of a local copy of the
    stored file; no database. Raises storage.StorageUnavailable (the task tries again later)."""
    if job.reuse is not None:
        return AnalysisOutcome(job.reuse)
    settings = Settings.current()
    try:
        with storage.current().local_copy(job.sha256) as path:
            return AnalysisOutcome(
                extraction.extract(
                    path,
                    job.kind,
                    timeout=settings.parse_timeout,
                    memory_mb=settings.parse_memory_mb,
                )
            )
    except extraction.ExtractionFailed as exc:
        return AnalysisOutcome(None, exc.detail)
    except storage.ObjectMissing as exc:
        return AnalysisOutcome(None, exc.detail)


def record_analysis(job: AnalysisJob, outcome: AnalysisOutcome) -> bool:
    """Store the text and checks and hand the résumé to routing (or, for a file that could not be
    read, tell the learner). A no-op if another run recorded it first. Returns whether it was
    readable."""
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
    version.skills = skills.find(result.text)
    version.active_content = result.active_content
    version.preview_html = result.preview_html if version.kind == files.DOCX else None
    if version.job_description:
        version.job_skills = jobmatch.job_skills(version.job_description)
        version.job_match = jobmatch.analyse(
            result.text, version.job_description, resume.target_role
        )
    version.checks = checks.run(
        result.text,
        result.page_count,
        target_role=resume.target_role,
        kind=version.kind,
        active_content=result.active_content if version.kind == files.PDF else None,
    )
    passed = sum(1 for c in version.checks if c["passed"])
    if version.number == resume.current_version:
        marks.reanchor(version)  # the earlier versions' open comments, found again
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
