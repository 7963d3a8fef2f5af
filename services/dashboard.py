"""What's next, at a glance: what each role's dashboard shows, gathered in a fixed handful of
queries (none per row), from plain arguments.

- A learner: their next session (and whether it can still be moved or cancelled), their other
  upcoming sessions, their résumés with each one's state and next step, recent session feedback.
- A coach: the offers awaiting them (accept soonest first), the reviews in their hands (due
  soonest first), today's sessions in their own time zone, and the sessions that still need an
  outcome or feedback.
- Staff: queue health (unassigned, overdue, offers pending, open), failed emails, and the
  interview-type coverage warnings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from services import booking, localtime, notifications, resumes
from services.access import require_staff
from services.booking import interview_types
from services.booking.interview_types import Coverage
from services.db import db, utcnow
from services.errors import Forbidden
from services.models import (
    Assignment,
    AssignmentStatus,
    Booking,
    BookingStatus,
    LearnerSuspension,
    Resume,
    ResumeStatus,
    ResumeVersion,
    Role,
    User,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES
from services.resumes import queue

# How many résumés a learner's dashboard lists (newest first); the rest are on the résumé page.
LEARNER_RESUMES = 5
# Sessions a coach's dashboard looks back over for a missing outcome or feedback.
LOOK_BACK = dt.timedelta(days=30)
RECENT_FEEDBACK = dt.timedelta(days=30)


# --- learners -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextSession:
    booking: Booking
    # Until when the learner may move or cancel it themselves (the type's cutoff).
    cutoff: dt.datetime
    changeable: bool
    reschedules_left: int
    started: bool  # under way now


@dataclass(frozen=True)
class LearnerDashboard:
    next_session: NextSession | None
    later_sessions: list[Booking]  # the other upcoming ones, soonest first
    resumes: list[resumes.ResumeView]  # newest first, at most LEARNER_RESUMES
    more_resumes: bool
    feedback: list[Booking]  # sessions with the coach's feedback, newest first (30 days)
    suspension: LearnerSuspension | None


def for_learner(learner: User, now: dt.datetime | None = None) -> LearnerDashboard:
    """A learner's dashboard. Raises Forbidden for anyone else."""
    if learner.role != Role.LEARNER:
        raise Forbidden("Only learners have a learner's dashboard.")
    now = now or utcnow()
    upcoming = list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.learner_id == learner.id,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.end_at > now,
            )
            .options(joinedload(Booking.coach), joinedload(Booking.interview_type))
            .order_by(Booking.start_at, Booking.id)
        ).unique()
    )
    next_session = None
    if upcoming:
        first = upcoming[0]
        cutoff = first.start_at - dt.timedelta(hours=first.interview_type.cancel_cutoff_hours)
        next_session = NextSession(
            booking=first,
            cutoff=cutoff,
            changeable=now < cutoff,
            reschedules_left=max(0, booking.policy().max_reschedules - first.reschedule_count),
            started=first.start_at <= now,
        )
    feedback = list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.learner_id == learner.id,
                Booking.status == BookingStatus.COMPLETED,
                Booking.start_at >= now - RECENT_FEEDBACK,
                Booking.feedback.has(),
            )
            .options(joinedload(Booking.coach), joinedload(Booking.interview_type))
            .order_by(Booking.start_at.desc(), Booking.id.desc())
            .limit(3)
        ).unique()
    )
    rows = list(
        db.session.scalars(
            select(Resume)
            .where(Resume.learner_id == learner.id)
            .order_by(Resume.created_at.desc(), Resume.id.desc())
            .limit(LEARNER_RESUMES + 1)
        )
    )
    return LearnerDashboard(
        next_session=next_session,
        later_sessions=upcoming[1:],
        resumes=resumes.views(rows[:LEARNER_RESUMES], learner),
        more_resumes=len(rows) > LEARNER_RESUMES,
        feedback=feedback,
        suspension=booking.active_suspension(learner.id, now),
    )


# --- coaches --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    resume: Resume
    version: ResumeVersion
    learner: User
    assignment: Assignment
    status: resumes.StatusLabel
    overdue: bool


@dataclass(frozen=True)
class CoachDashboard:
    offers: list[ReviewItem]  # waiting for the coach to accept, the soonest to lapse first
    reviews: list[ReviewItem]  # accepted, due soonest first
    today: list[Booking]  # today's sessions in the coach's zone, in order (any outcome)
    next_session: Booking | None  # the first one after today
    to_record: list[Booking]  # started, still "confirmed": completed or no-show?
    to_write: list[Booking]  # completed, no feedback yet
    day: dt.date  # "today" in the coach's zone
    now: dt.datetime

    def joinable(self, session: Booking) -> bool:
        """Still on (confirmed and not over): its meeting link is worth showing."""
        return session.status == BookingStatus.CONFIRMED and session.end_at > self.now


def for_coach(coach: User, now: dt.datetime | None = None) -> CoachDashboard:
    """A coach's dashboard. Raises Forbidden for anyone else."""
    if coach.role != Role.COACH:
        raise Forbidden("Only coaches have a coach's dashboard.")
    now = now or utcnow()
    live = list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.coach_id == coach.id, Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
            .options(
                joinedload(Assignment.resume).joinedload(Resume.learner),
                joinedload(Assignment.version),
            )
            .order_by(Assignment.expires_at, Assignment.due_at, Assignment.id)
        ).unique()
    )
    items = [
        ReviewItem(
            resume=a.resume,
            version=a.version,
            learner=a.resume.learner,
            assignment=a,
            status=resumes.status_label(
                ResumeStatus.ASSIGNED
                if a.status == AssignmentStatus.OFFERED
                else ResumeStatus.IN_REVIEW,
                coach,
                assignment=a,
                coach=coach,
                version=a.version,
            ),
            overdue=a.due_at < now,
        )
        for a in live
    ]
    offers = [i for i in items if i.assignment.status == AssignmentStatus.OFFERED]
    reviews = sorted(
        (i for i in items if i.assignment.status == AssignmentStatus.ACCEPTED),
        key=lambda i: (i.assignment.due_at, i.assignment.id),
    )

    zone = localtime.zone(coach.timezone)
    day = now.astimezone(zone).date()
    day_start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(
        dt.UTC
    )
    sessions = list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.coach_id == coach.id,
                Booking.status.in_(
                    (BookingStatus.CONFIRMED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW)
                ),
                Booking.start_at >= min(now - LOOK_BACK, day_start),
                Booking.start_at < day_end,
            )
            .options(
                joinedload(Booking.learner),
                joinedload(Booking.interview_type),
                selectinload(Booking.feedback),
            )
            .order_by(Booking.start_at, Booking.id)
        ).unique()
    )
    next_session = db.session.scalars(
        select(Booking)
        .where(
            Booking.coach_id == coach.id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.start_at >= day_end,
        )
        .options(joinedload(Booking.learner), joinedload(Booking.interview_type))
        .order_by(Booking.start_at, Booking.id)
        .limit(1)
    ).first()
    return CoachDashboard(
        offers=offers,
        reviews=reviews,
        today=[b for b in sessions if b.start_at >= day_start],
        next_session=next_session,
        to_record=[
            b for b in sessions if b.status == BookingStatus.CONFIRMED and b.start_at <= now
        ],
        to_write=[
            b for b in sessions if b.status == BookingStatus.COMPLETED and b.feedback is None
        ],
        day=day,
        now=now,
    )


# --- staff ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffDashboard:
    open: int
    unassigned: int
    overdue: int
    offers_pending: int  # offered to a coach, not accepted yet
    failed_emails: int
    suspensions: int  # learners whose booking is paused now
    coverage: Coverage

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.unassigned
            or self.overdue
            or self.failed_emails
            or self.coverage.idle_coaches
            or self.coverage.uncovered_types
        )


def for_staff(viewer: User, now: dt.datetime | None = None) -> StaffDashboard:
    """Queue health and what needs staff. Raises Forbidden."""
    require_staff(viewer)
    now = now or utcnow()
    backlog = queue.backlog(now)
    suspensions = (
        db.session.scalar(
            select(func.count(LearnerSuspension.id)).where(
                LearnerSuspension.lifted_at.is_(None),
                LearnerSuspension.starts_at <= now,
                LearnerSuspension.ends_at > now,
            )
        )
        or 0
    )
    return StaffDashboard(
        open=backlog["open"],
        unassigned=backlog["by_status"][ResumeStatus.UNASSIGNED],
        overdue=backlog["overdue"],
        offers_pending=backlog["by_status"][ResumeStatus.ASSIGNED],
        failed_emails=notifications.count_failed(),
        suspensions=int(suspensions),
        coverage=interview_types.coverage(),
    )
