"""Résumés: the learner's document and its versions, its history, the routing decisions and offers
that assign it to a coach, exclusions, and the review itself."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow
from services.models.accounts import User

# The rubric's criteria (services/rubric.py), one column each on Review.
from services.rubric import CRITERIA as CRITERIA
from services.rubric import LABELS, OUTCOMES


class ResumeStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # accepted, not yet routed (or waiting to be routed again)
    ASSIGNED = "assigned"  # offered to a coach, not yet accepted
    IN_REVIEW = "in_review"
    REVIEWED = "reviewed"
    UNASSIGNED = "unassigned"  # no reviewer could take it; staff must act (or capacity frees)
    CANCELLED = "cancelled"


class AssignmentStatus(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # staff moved it elsewhere, or the résumé was cancelled


LIVE_ASSIGNMENT_STATES = (AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)


class ReviewOutcome(enum.StrEnum):
    APPROVED = "approved"
    CHANGES_SUGGESTED = "changes_suggested"
    CHANGES_REQUIRED = "changes_required"


assert set(OUTCOMES) == set(ReviewOutcome), "services/rubric.py OUTCOMES must name every outcome"


def _in(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in values)


# The open statuses (services.resumes.OPEN_STATUSES), spelled as SQL for partial indexes. A query
# uses such an index on SQLite only when its WHERE holds this very term with these literals. On
# SQLite the term reads "+status": the unary plus keeps the planner from answering it with
# ix_resume_status_queued and a sort instead (it has no statistics to know better).
OPEN_STATUS_VALUES = ("submitted", "assigned", "in_review", "unassigned")
OPEN_STATUS_SQL = f"status IN ({_in(OPEN_STATUS_VALUES)})"
OPEN_STATUS_SQLITE = f"+{OPEN_STATUS_SQL}"


class Resume(Model):
    """One learner's résumé for one target role; its file comes in versions."""

    __tablename__ = "resume"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(ResumeStatus)})", name="status"),
        Index("ix_resume_status_queued", "status", "queued_at", "id"),
        # The staff queue's default order (due soonest first, unrouted last), open résumés only.
        Index(
            "ix_resume_open_due",
            "due_at",
            "id",
            postgresql_where=text(OPEN_STATUS_SQL),
            sqlite_where=text(OPEN_STATUS_SQLITE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    target_role: Mapped[str] = mapped_column(String(120))
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ResumeStatus.SUBMITTED)
    current_version: Mapped[int] = mapped_column(default=1)
    # The coach holding the live offer or review (denormalised from the live assignment).
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    due_at: Mapped[dt.datetime | None]
    # When the current version joined the queue: the queue and the drain go oldest first by it.
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    versions: Mapped[list[ResumeVersion]] = relationship(
        back_populates="resume",
        order_by="ResumeVersion.number",
        cascade="all, delete-orphan",
    )
    events: Mapped[list[ResumeEvent]] = relationship(
        back_populates="resume",
        order_by="ResumeEvent.id",
        cascade="all, delete-orphan",
    )


class AnalysisStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ResumeVersion(Model):
    """One uploaded file. The bytes live content-addressed on disk under ``sha256``."""

    __tablename__ = "resume_version"
    __table_args__ = (
        UniqueConstraint("resume_id", "number"),
        CheckConstraint("kind IN ('pdf', 'docx')", name="kind"),
        CheckConstraint(f"analysis_status IN ({_in(AnalysisStatus)})", name="analysis_status"),
        CheckConstraint("size > 0", name="size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"))
    number: Mapped[int]
    # The learner's name for the file, sanitised: display metadata only, never a path.
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    analysis_status: Mapped[str] = mapped_column(String(16), default=AnalysisStatus.PENDING)
    analysed_at: Mapped[dt.datetime | None]
    analysis_error: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None]
    word_count: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(Text)
    checks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Skill tags found in the text (routing matches them against coach expertise).
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Active PDF content found by the full parse (JavaScript, launch actions, embedded files).
    active_content: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A DOCX as HTML for the coach, sanitised (services.resumes.extraction.clean_preview); None for
    # a PDF, or when it could not be converted or is too big (the text is shown instead).
    preview_html: Mapped[str | None] = mapped_column(Text)
    # The job this version is aimed at (pasted, or extracted from a PDF/DOCX), its skill tags,
    # and the gap analysis against it (services.resumes.jobmatch); None without a job.
    job_description: Mapped[str | None] = mapped_column(Text)
    job_skills: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    job_match: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    resume: Mapped[Resume] = relationship(back_populates="versions")


class ResumeEvent(Model):
    """The status timeline: one row per thing that happened, never edited."""

    __tablename__ = "resume_event"
    __table_args__ = (Index("ix_resume_event_resume_at", "resume_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")

    resume: Mapped[Resume] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class RoutingLock(Model):
    """One row, updated first by every routing transaction: routing decisions never interleave, so
    capacity and balance hold with many workers (PostgreSQL row lock; SQLite's writer lock)."""

    __tablename__ = "routing_lock"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    taken_at: Mapped[dt.datetime | None]


class RoutingDecision(Model):
    """The audit of one assignment decision (by the policy or by staff), with every component."""

    __tablename__ = "routing_decision"
    __table_args__ = (
        CheckConstraint("outcome IN ('offered', 'unassigned', 'manual')", name="outcome"),
        Index("ix_routing_decision_resume_at", "resume_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"))
    version_number: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(16))
    coach_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    components: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    coach: Mapped[User | None] = relationship(foreign_keys=[coach_id])


class Assignment(Model):
    """An offer of one résumé version to one coach: accepted within the window, or it expires."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(AssignmentStatus)})", name="status"),
        # At most one live offer or review per résumé, whatever races happen.
        Index(
            "uq_assignment_live_resume",
            "resume_id",
            unique=True,
            postgresql_where=text("status IN ('offered', 'accepted')"),
            sqlite_where=text("status IN ('offered', 'accepted')"),
        ),
        Index("ix_assignment_coach_status", "coach_id", "status"),
        Index("ix_assignment_status_expires", "status", "expires_at"),
        Index("ix_assignment_status_due", "status", "due_at"),
        Index("ix_assignment_status_warn", "status", "warn_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("resume_version.id", ondelete="CASCADE"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_decision.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.OFFERED)
    offered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]  # the accept window
    due_at: Mapped[dt.datetime]
    warn_at: Mapped[dt.datetime]  # 75 % of the way to the due time: the coach is reminded
    responded_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    warned_at: Mapped[dt.datetime | None]  # the coach was told the due time is near
    escalated_at: Mapped[dt.datetime | None]  # staff were told the due time passed
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # Staff chose this coach by hand: a rebalance leaves the offer where it is until unpinned.
    pinned_at: Mapped[dt.datetime | None]
    pinned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    pin_reason: Mapped[str | None] = mapped_column(Text)

    resume: Mapped[Resume] = relationship()
    version: Mapped[ResumeVersion] = relationship()
    coach: Mapped[User] = relationship(foreign_keys=[coach_id])
    decision: Mapped[RoutingDecision | None] = relationship()
    pinned_by: Mapped[User | None] = relationship(foreign_keys=[pinned_by_id])


class Review(Model):
    """A coach's review of one résumé version: five scores 1–5, a summary, comments, an outcome."""

    __tablename__ = "review"
    __table_args__ = (
        *(
            CheckConstraint(f"{name} IS NULL OR {name} BETWEEN 1 AND 5", name=name)
            for name in CRITERIA
        ),
        CheckConstraint(f"outcome IN ({_in(ReviewOutcome)})", name="outcome"),
        # The staff figures' turnaround percentiles: the reviews of a time window, read in order
        # of review time with their turnaround beside it, from the index alone.
        Index("ix_review_created_turnaround", "created_at", "turnaround_us"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("resume_version.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id", ondelete="CASCADE"), unique=True
    )
    coach_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    impact: Mapped[int | None]
    clarity: Mapped[int | None]
    ml_relevance: Mapped[int | None]
    formatting: Mapped[int | None]
    ats_readiness: Mapped[int | None]
    summary: Mapped[str] = mapped_column(Text)
    comments: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Microseconds from the version's upload to this review (created_at - version.uploaded_at),
    # stored when the review is recorded: the staff figures rank it without a join.
    turnaround_us: Mapped[int] = mapped_column(BigInteger)
    # When the coach last corrected the sent review (within REVIEW_CORRECTION_HOURS of created_at).
    corrected_at: Mapped[dt.datetime | None]
    # What became of the earlier versions' open annotations by the time this review was sent
    # (services.resumes.annotations.publish): {"total", "addressed", "carried", "open"}; None
    # when there were none.
    earlier_comments: Mapped[dict[str, int] | None] = mapped_column(JSON)

    coach: Mapped[User | None] = relationship()
    version: Mapped[ResumeVersion] = relationship()

    @staticmethod
    def turnaround_of(reviewed: dt.datetime, uploaded: dt.datetime) -> int:
        """The ``turnaround_us`` of a review made at ``reviewed`` of a version uploaded at
        ``uploaded``: whole microseconds, exact."""
        return (reviewed - uploaded) // dt.timedelta(microseconds=1)

    @property
    def scores(self) -> dict[str, int]:
        return {name: value for name in CRITERIA if (value := getattr(self, name)) is not None}

    @property
    def labelled_scores(self) -> list[tuple[str, int]]:
        """(the criterion as people read it, the score), in the rubric's order."""
        return [(LABELS[name], value) for name, value in self.scores.items()]

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)


class ReviewDraft(Model):
    """What a coach has typed of a review and not sent yet: one per résumé version and coach,
    saved as they type, so it survives a reload, a sign-out or another device. Also the draft of
    a correction to a sent review. Deleted when the review (or its correction) is sent."""

    __tablename__ = "review_draft"
    __table_args__ = (UniqueConstraint("version_id", "coach_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("resume_version.id", ondelete="CASCADE"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # Criterion -> 1..5, only those the coach has chosen.
    scores: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")
    comments: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(24))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExclusionReason(enum.StrEnum):
    DECLINED = "declined"
    EXPIRED = "expired"


class ResumeExclusion(Model):
    """A coach who must not be offered this résumé again (declined it, or let an offer expire)."""

    __tablename__ = "resume_exclusion"
    __table_args__ = (
        UniqueConstraint("resume_id", "coach_id", "reason"),
        CheckConstraint("reason IN ('declined', 'expired')", name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CoachConflict(Model):
    """A staff-set conflict of interest: this coach never reviews this learner's résumés."""

    __tablename__ = "coach_conflict"
    __table_args__ = (UniqueConstraint("learner_id", "coach_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
