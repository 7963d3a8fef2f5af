"""Reading résumés: who may see what, the current version and the live offer, a résumé's state in
words (status labels), and the batched read models pages and the API show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, select

from services import localtime, storage
from services.db import db
from services.errors import NotFound, ValidationFailed
from services.models import (
    AnalysisStatus,
    Assignment,
    AssignmentStatus,
    Resume,
    ResumeEvent,
    ResumeStatus,
    ResumeVersion,
    Review,
    ReviewOutcome,
    Role,
    RoutingDecision,
    User,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES
from services.pagination import Page, paginate
from services.resumes.settings import Settings
from services.validation import is_id

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
    if not is_id(resume_id):
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
    if coach.role != Role.COACH or not is_id(resume_id):
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


def file_of(
    user: User, resume_id: int, number: int | None = None
) -> tuple[storage.Opened, ResumeVersion]:
    """The stored bytes of the current (or a given) version, opened (the caller closes the
    stream). Raises NotFound (storage.ObjectMissing among them), storage.StorageUnavailable."""
    resume = get_visible(user, resume_id)
    number = number or resume.current_version
    if not is_id(number):
        raise NotFound("There is no such version of this résumé.")
    version = db.session.scalar(
        select(ResumeVersion).where(
            ResumeVersion.resume_id == resume.id, ResumeVersion.number == number
        )
    )
    if version is None:
        raise NotFound("There is no such version of this résumé.")
    return storage.current().open(version.sha256), version


def local_time(at: dt.datetime | None, user: User) -> str:
    """A time as the recipient reads it: their time zone, their clock."""
    return localtime.for_user(at, user) if at is not None else ""


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
            text += f", accept by {local_time(assignment.expires_at, viewer)}"
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


def correctable_until(review: Review) -> dt.datetime:
    """Until when its coach may correct a review: REVIEW_CORRECTION_HOURS after it was sent."""
    return review.created_at + Settings.current().correction_window


@dataclass(frozen=True)
class ReviewView:
    """A version's review as it is shown: with the version's number and its correction window."""

    review: Review
    version: int

    @property
    def correctable_until(self) -> dt.datetime:
        return correctable_until(self.review)


@dataclass(frozen=True)
class ResumeView:
    """A résumé as one viewer reads it (the API's ResumeSchema dumps it as it is)."""

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

    @property
    def offer_expires_at(self) -> dt.datetime | None:
        """While the résumé is offered to a coach: when the offer lapses."""
        offered = self.assignment is not None and self.assignment.status == "offered"
        return self.assignment.expires_at if offered and self.assignment else None

    @property
    def active_content(self) -> list[str]:
        return list(self.version.active_content or [])

    @property
    def shown_review(self) -> ReviewView | None:
        return ReviewView(self.review, self.version.number) if self.review else None

    @property
    def routing_reason(self) -> str | None:
        """Why the last routing decision went as it did (loaded for staff only)."""
        return self.decision.reason if self.decision else None


# What a learner reads for events whose detail is meant for coaches and staff.
_LEARNER_DETAIL = {
    "declined": "The coach passed it on; it goes to another coach.",
    "offer_expired": "The offer lapsed; it goes to another coach.",
    "withdrawn": "Staff moved it to another coach.",
    "reassigned": "",
    "assigned_by_staff": "",
    "escalated": "Staff were told the review is late.",
    "due_moved": "The due time moved with the desk's working hours.",
    "handed_off": "The coach is away; it goes to another coach.",
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
