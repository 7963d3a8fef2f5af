"""Routing a résumé to the best reviewer, and keeping the queue moving.

The policy (``choose``) is a pure function of the candidates:
1. hard filters: active, not on time off, not excluded (declined or let this résumé expire before,
   or a staff-set conflict with the learner), and room left under capacity;
2. continuity: a new version goes to the coach who reviewed the last one, when eligible;
3. the best skill-fit band (tags of the target role and of the skills found in the text, matched
   against the coach's expertise; 0, 1, 2, or 3 and more matches);
4. the most spare capacity, in per cent;
5. the longest since the last assignment (never assigned first), then the lowest id.
Every component is stored on a ``RoutingDecision``, with a sentence staff can read.

Concurrency: every routing transaction first updates the single ``routing_lock`` row, so decisions
never interleave (PostgreSQL row lock; on SQLite the first write takes the database's writer lock,
so everything the transaction reads afterwards is current). Unassigned résumés are taken oldest
first with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so no two workers take the same one
and none waits on a row a request holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select, update

from services import audit, outbox, skills, workhours
from services.access import require_staff
from services.db import db, utcnow
from services.errors import NotFound, ValidationFailed
from services.models import (
    AnalysisStatus,
    Assignment,
    AssignmentStatus,
    AvailabilityException,
    CoachConflict,
    ExclusionReason,
    Resume,
    ResumeExclusion,
    ResumeStatus,
    ResumeVersion,
    Review,
    Role,
    RoutingDecision,
    RoutingLock,
    User,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES
from services.resumes.errors import InvalidStatus
from services.resumes.operations import exclude, log_event
from services.resumes.settings import Settings
from services.resumes.views import current_version, live_assignment
from services.validation import is_id

POLICY = "filters > continuity > skill band > spare capacity % > longest idle"
WARN_FRACTION = 0.75
MAX_BAND = 3
# The order in which exclusions are tested and named in a reason.
EXCLUSION_ORDER = ("time off", "declined", "expired", "conflict", "full")
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    expertise: frozenset[str]
    capacity: int
    open: int
    last_assigned_at: dt.datetime | None
    excluded: str | None = None  # one of EXCLUSION_ORDER, or None when eligible

    def matched(self, tags: set[str]) -> list[str]:
        return sorted(self.expertise & tags)

    def band(self, tags: set[str]) -> int:
        return min(len(self.expertise & tags), MAX_BAND)

    @property
    def spare(self) -> Fraction:
        return (
            Fraction(self.capacity - self.open, self.capacity) if self.capacity > 0 else Fraction(0)
        )

    def describe(self, tags: set[str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "matched": self.matched(tags),
            "band": self.band(tags),
            "open": self.open,
            "capacity": self.capacity,
            "spare_pct": round(float(self.spare) * 100, 1),
            "last_assigned_at": self.last_assigned_at.isoformat()
            if self.last_assigned_at
            else None,
        }


@dataclass(frozen=True)
class Choice:
    coach_id: int | None
    reason: str
    components: dict[str, Any]


def _excluded_text(excluded: Counter[str]) -> str | None:
    total = sum(excluded.values())
    if not total:
        return None
    parts = [f"{excluded[name]} {name}" for name in EXCLUSION_ORDER if excluded[name]]
    return f"{total} excluded: {', '.join(parts)}"


def choose(
    candidates: Sequence[Candidate],
    tags: set[str],
    last_reviewer: tuple[int, int] | None = None,
    *,
    job: dict[str, list[str]] | None = None,
) -> Choice:
    """Pick the coach for one résumé. ``last_reviewer`` is (coach id, version they reviewed);
    ``job`` maps each tag the job description adds to the job's skills behind it (they are in
    ``tags`` too), so the reason can say which matches came from the job."""
    excluded = Counter(c.excluded for c in candidates if c.excluded)
    eligible = [c for c in candidates if not c.excluded]
    excluded_text = _excluded_text(excluded)
    components: dict[str, Any] = {
        "policy": POLICY,
        "tags": sorted(tags),
        "considered": len(candidates),
        "eligible": len(eligible),
        "excluded": {name: excluded[name] for name in EXCLUSION_ORDER if excluded[name]},
        "continuity": None,
        "coach": None,
        "alternatives": [],
    }
    continuity_coach = None
    if last_reviewer is not None:
        coach_id, number = last_reviewer
        continuity_coach = next((c for c in eligible if c.id == coach_id), None)
        components["continuity"] = {
            "coach_id": coach_id,
            "version": number,
            "applied": continuity_coach is not None,
        }
    if not eligible:
        reason = "no eligible coach" if candidates else "no active coaches"
        return Choice(None, "; ".join(p for p in (reason, excluded_text) if p), components)
    ranked = sorted(
        eligible,
        key=lambda c: (-c.band(tags), -c.spare, c.last_assigned_at or _NEVER, c.id),
    )
    chosen = continuity_coach or ranked[0]
    components["coach"] = chosen.describe(tags)
    components["alternatives"] = [c.describe(tags) for c in ranked if c.id != chosen.id][:3]
    matched = chosen.matched(tags)
    parts = [
        f"matched {', '.join(matched)}" if matched else "no skill match",
        f"{chosen.open} of {chosen.capacity} open",
    ]
    from_job = [tag for tag in matched if job and tag in job]
    if job:
        components["job_tags"] = sorted(job)
    if from_job:
        behind = sorted({name for tag in from_job for name in (job or {})[tag]})
        parts.insert(
            1, f"matched {', '.join(from_job)} from the job description ({', '.join(behind)})"
        )
    if continuity_coach is not None and last_reviewer is not None:
        parts.append(f"reviewed v{last_reviewer[1]}")
    if excluded_text:
        parts.append(excluded_text)
    return Choice(chosen.id, "; ".join(parts), components)


# --- loading the candidates -----------------------------------------------------------------------


def open_counts() -> dict[int, int]:
    """Live offers and reviews per coach."""
    rows = db.session.execute(
        select(Assignment.coach_id, func.count(Assignment.id))
        .where(Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
        .group_by(Assignment.coach_id)
    )
    return {int(coach_id): int(count) for coach_id, count in rows}


def _last_assigned() -> dict[int, dt.datetime]:
    rows = db.session.execute(
        select(Assignment.coach_id, func.max(Assignment.offered_at)).group_by(Assignment.coach_id)
    )
    # MAX() over a UTC column comes back naive on SQLite; it is UTC.
    return {
        coach_id: (at if at.tzinfo else at.replace(tzinfo=dt.UTC))
        if isinstance(at, dt.datetime)
        else dt.datetime.fromisoformat(str(at)).replace(tzinfo=dt.UTC)
        for coach_id, at in rows
        if at is not None
    }


def on_time_off(now: dt.datetime) -> set[int]:
    """Coaches whose dated time off (an unavailable exception) covers ``now``."""
    return set(
        db.session.scalars(
            select(AvailabilityException.coach_id).where(
                AvailabilityException.available.is_(False),
                AvailabilityException.start_at <= now,
                AvailabilityException.end_at > now,
            )
        )
    )


def candidates_for(resume: Resume, now: dt.datetime) -> list[Candidate]:
    """Every active coach, with the first hard filter that excludes them (if any)."""
    coaches = db.session.scalars(
        select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.id)
    ).all()
    counts = open_counts()
    last = _last_assigned()
    leave = on_time_off(now)
    exclusions = {
        (coach_id, reason)
        for coach_id, reason in db.session.execute(
            select(ResumeExclusion.coach_id, ResumeExclusion.reason).where(
                ResumeExclusion.resume_id == resume.id
            )
        )
    }
    conflicts = set(
        db.session.scalars(
            select(CoachConflict.coach_id).where(CoachConflict.learner_id == resume.learner_id)
        )
    )
    result = []
    for coach in coaches:
        open_now = counts.get(coach.id, 0)
        tests = {
            "time off": coach.id in leave,
            "declined": (coach.id, ExclusionReason.DECLINED) in exclusions,
            "expired": (coach.id, ExclusionReason.EXPIRED) in exclusions,
            "conflict": coach.id in conflicts,
            "full": open_now >= coach.review_capacity,
        }
        reason = next((name for name in EXCLUSION_ORDER if tests[name]), None)
        result.append(
            Candidate(
                id=coach.id,
                name=coach.name,
                expertise=frozenset(tag.lower() for tag in coach.expertise or []),
                capacity=coach.review_capacity,
                open=open_now,
                last_assigned_at=last.get(coach.id),
                excluded=reason,
            )
        )
    return result


def resume_tags(resume: Resume, version: ResumeVersion) -> set[str]:
    """The expertise a reviewer needs: the target role's, the résumé's skills', and the job
    description's skills' (when the version carries one)."""
    return (
        skills.role_tags(resume.target_role)
        | skills.tags(version.skills or [])
        | set(job_tags(version))
    )


def job_tags(version: ResumeVersion) -> dict[str, list[str]]:
    """Each expertise tag the version's job description calls for, with the job's hard skills
    (names) behind it. Soft skills (communication, teamwork, ...) are in nearly every job ad: they
    would tie every coach with behavioral expertise, so they do not steer routing (the gap
    analysis still shows them)."""
    found: dict[str, list[str]] = {}
    for skill_id in version.job_skills or []:
        term = skills.BY_ID.get(skill_id)
        if term is None or not term.hard:
            continue
        for tag in term.tags:
            found.setdefault(tag, []).append(term.name)
    return found


def last_reviewer(resume: Resume) -> tuple[int, int] | None:
    row = db.session.execute(
        select(Review.coach_id, ResumeVersion.number)
        .join(ResumeVersion, Review.version_id == ResumeVersion.id)
        .where(Review.resume_id == resume.id, Review.coach_id.is_not(None))
        .order_by(Review.id.desc())
        .limit(1)
    ).first()
    return (int(row[0]), int(row[1])) if row else None


# --- the routing transaction ----------------------------------------------------------------------


def take_lock() -> None:
    """Serialise routing decisions; call first in the transaction (see the module docstring)."""
    result = db.session.execute(
        update(RoutingLock)
        .where(RoutingLock.id == 1)
        .values(taken_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:  # a database made without the migration's row
        db.session.add(RoutingLock(id=1, taken_at=utcnow()))
        db.session.flush()


@dataclass(frozen=True)
class Deadlines:
    """An offer's accept window, 75 % warning and due time, in working hours (its coach's clock)."""

    expires_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime

    @classmethod
    def of(cls, clock: workhours.Clock, offered_at: dt.datetime, settings: Settings) -> Deadlines:
        return cls(
            expires_at=clock.add(offered_at, settings.accept_window),
            warn_at=clock.add(offered_at, settings.due_in * WARN_FRACTION),
            due_at=clock.add(offered_at, settings.due_in),
        )


def _move_due_times(actor: User | None, why: str, coach_id: int | None = None) -> int:
    """Every open offer's deadlines (of ``coach_id`` only, when given) again from its offer time,
    each by its coach's clock; a history entry on each résumé whose deadlines moved. Returns how
    many moved."""
    settings = Settings.current()
    moved = 0
    query = select(Assignment).where(Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
    if coach_id is not None:
        query = query.where(Assignment.coach_id == coach_id)
    live = db.session.scalars(query).all()
    desk, own = workhours.clocks_for({a.coach_id for a in live})
    for assignment in live:
        clock = own.get(assignment.coach_id, desk)
        deadlines = Deadlines.of(clock, assignment.offered_at, settings)
        if (assignment.due_at, assignment.warn_at) == (deadlines.due_at, deadlines.warn_at) and (
            assignment.status != AssignmentStatus.OFFERED
            or assignment.expires_at == deadlines.expires_at
        ):
            continue
        assignment.due_at, assignment.warn_at = deadlines.due_at, deadlines.warn_at
        if assignment.status == AssignmentStatus.OFFERED:
            assignment.expires_at = deadlines.expires_at
        assignment.resume.due_at = deadlines.due_at
        log_event(assignment.resume, "due_moved", actor, f"Due time moved: {why}")
        moved += 1
    db.session.flush()
    return moved


def move_due_times(actor: User, reason: str = "") -> int:
    """After the working hours changed: every open offer's deadlines again from its offer time,
    each by its coach's clock (the desk's, or their own week where staff chose it), and one audit
    entry saying how many moved. Returns that number."""
    moved = _move_due_times(actor, "the working hours changed")
    audit.record(actor, "desk_hours_changed", "desk", None, reason, moved_due_times=moved)
    db.session.flush()
    return moved


def coach_hours_changed(coach: User) -> int:
    """A coach on their own clock changed their weekly hours or time off: their open offers'
    deadlines move by it (each résumé's history and, when any moved, the audit log say so).
    Nothing for a coach on the desk's clock. Returns how many moved."""
    if coach.role != Role.COACH or not coach.deadlines_own_hours:
        return 0
    moved = _move_due_times(coach, "the coach's own hours changed", coach.id)
    if moved:
        audit.record(coach, "coach_hours_changed", "coach", coach.id, "", moved_due_times=moved)
        db.session.flush()
    return moved


def change_desk_hours(actor: User, data: workhours.ScheduleInput, reason: str = "") -> int:
    """Staff set the desk's working hours and holidays (and which coaches count their own week
    instead); open offers' deadlines move with them (each résumé's history and the audit log say
    so). Returns how many moved. Raises ValidationFailed, Forbidden."""
    require_staff(actor)
    workhours.save_schedule(data)
    return move_due_times(actor, reason)


def _offer(
    resume: Resume,
    version: ResumeVersion,
    coach: User,
    decision: RoutingDecision,
    settings: Settings,
    now: dt.datetime,
    *,
    announce: bool = True,
) -> Assignment:
    """Offer the version to the coach; ``announce``: tell them "Résumé to review" (not for one
    they held before, see ``assign_manually``)."""
    deadlines = Deadlines.of(workhours.clock_for(coach.id), now, settings)
    due = deadlines.due_at
    assignment = Assignment(
        resume_id=resume.id,
        version_id=version.id,
        coach_id=coach.id,
        decision_id=decision.id,
        status=AssignmentStatus.OFFERED,
        offered_at=now,
        expires_at=deadlines.expires_at,
        due_at=due,
        warn_at=deadlines.warn_at,
    )
    db.session.add(assignment)
    resume.status = ResumeStatus.ASSIGNED
    resume.reviewer_id = coach.id
    resume.due_at = due
    log_event(resume, "assigned", None, f"Offered to {coach.name}")
    db.session.flush()
    if announce:
        outbox.record("resume.assigned", resume_id=resume.id, assignment_id=assignment.id)
    return assignment


def _route_locked(resume: Resume, now: dt.datetime) -> RoutingDecision | None:
    if resume.status not in (ResumeStatus.SUBMITTED, ResumeStatus.UNASSIGNED):
        return None
    if live_assignment(resume.id) is not None:
        return None
    version = current_version(resume)
    if version.analysis_status != AnalysisStatus.DONE:
        return None  # the checks run first; a failed file never reaches a coach
    choice = choose(
        candidates_for(resume, now),
        resume_tags(resume, version),
        last_reviewer(resume),
        job=job_tags(version),
    )
    if choice.coach_id is None and resume.status == ResumeStatus.UNASSIGNED:
        return None  # still nobody: staff were told already
    decision = RoutingDecision(
        resume_id=resume.id,
        version_number=version.number,
        at=now,
        outcome="offered" if choice.coach_id else "unassigned",
        coach_id=choice.coach_id,
        reason=choice.reason,
        components=choice.components,
    )
    db.session.add(decision)
    db.session.flush()
    if choice.coach_id is None:
        resume.status = ResumeStatus.UNASSIGNED
        resume.reviewer_id = None
        resume.due_at = None
        log_event(resume, "unassigned", None, "No reviewer is free yet; staff were told.")
        db.session.flush()
        outbox.record(
            "resume.unassigned",
            resume_id=resume.id,
            decision_id=decision.id,
            reason=choice.reason,
        )
        return decision
    coach = db.session.get(User, choice.coach_id)
    assert coach is not None
    _offer(resume, version, coach, decision, Settings.current(), now)
    return decision


def route(resume_id: int) -> RoutingDecision | None:
    """Route one résumé that waits for a reviewer; a no-op otherwise (safe to run twice)."""
    take_lock()
    resume = db.session.scalar(select(Resume).where(Resume.id == resume_id).with_for_update())
    if resume is None:
        return None
    return _route_locked(resume, utcnow())


def has_room() -> bool:
    """Whether any active coach has room under capacity (cheap guard for the drain)."""
    counts = open_counts()
    coaches = db.session.execute(
        select(User.id, User.review_capacity).where(User.role == Role.COACH, User.active.is_(True))
    )
    return any(counts.get(coach_id, 0) < capacity for coach_id, capacity in coaches)


def drain(batch: int = 100) -> int:
    """Route ``unassigned`` résumés oldest first (a ``submitted`` one has its routing job in the
    outbox, which the relay hands over if it was lost). Returns how many got a coach."""
    take_lock()
    now = utcnow()
    if not has_room():
        return 0
    waiting = db.session.scalars(
        select(Resume)
        .where(Resume.status == ResumeStatus.UNASSIGNED)
        .order_by(Resume.queued_at, Resume.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    routed = 0
    for resume in waiting:
        decision = _route_locked(resume, now)
        if decision is not None and decision.coach_id is not None:
            routed += 1
    return routed


def expire_offers(batch: int = 100) -> int:
    """Offers not accepted within the window expire and are routed again (the coach is excluded
    from this résumé). Safe to run twice."""
    take_lock()
    now = utcnow()
    resumes = db.session.scalars(
        select(Resume)
        .join(Assignment, Assignment.resume_id == Resume.id)
        .where(Assignment.status == AssignmentStatus.OFFERED, Assignment.expires_at <= now)
        .order_by(Assignment.expires_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=Resume)
    ).all()
    expired = 0
    for resume in resumes:
        assignment = db.session.scalar(
            select(Assignment)
            .where(
                Assignment.resume_id == resume.id,
                Assignment.status == AssignmentStatus.OFFERED,
                Assignment.expires_at <= now,
            )
            .with_for_update()
        )
        if assignment is None:
            continue
        assignment.status = AssignmentStatus.EXPIRED
        assignment.responded_at = now
        exclude(resume.id, assignment.coach_id, ExclusionReason.EXPIRED)
        resume.status = ResumeStatus.SUBMITTED
        resume.reviewer_id = None
        resume.due_at = None
        log_event(resume, "offer_expired", None, f"{assignment.coach.name} did not accept in time")
        db.session.flush()
        outbox.record("resume.offer_expired", resume_id=resume.id, assignment_id=assignment.id)
        _route_locked(resume, now)
        expired += 1
    return expired


# Time off this long or longer hands a coach's open offers to others.
HAND_OFF_TIME_OFF = dt.timedelta(days=1)


def hand_off_time_off(batch: int = 100) -> int:
    """Offers (not yet accepted) held by a coach now on time off of a day or more go to other
    coaches, who are routed as usual (a coach on time off is never a candidate). Safe to run
    twice."""
    take_lock()
    now = utcnow()
    away = {
        coach_id
        for coach_id, start, end in db.session.execute(
            select(
                AvailabilityException.coach_id,
                AvailabilityException.start_at,
                AvailabilityException.end_at,
            ).where(
                AvailabilityException.available.is_(False),
                AvailabilityException.start_at <= now,
                AvailabilityException.end_at > now,
            )
        )
        if end - start >= HAND_OFF_TIME_OFF
    }
    if not away:
        return 0
    resumes = db.session.scalars(
        select(Resume)
        .join(Assignment, Assignment.resume_id == Resume.id)
        .where(Assignment.status == AssignmentStatus.OFFERED, Assignment.coach_id.in_(away))
        .order_by(Assignment.offered_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=Resume)
    ).all()
    handed = 0
    for resume in resumes:
        assignment = db.session.scalar(
            select(Assignment)
            .where(Assignment.resume_id == resume.id, Assignment.status == AssignmentStatus.OFFERED)
            .with_for_update()
        )
        if assignment is None:
            continue
        assignment.status = AssignmentStatus.WITHDRAWN
        assignment.responded_at = now
        resume.status = ResumeStatus.SUBMITTED
        resume.reviewer_id = None
        resume.due_at = None
        log_event(resume, "handed_off", None, f"{assignment.coach.name} is on time off")
        db.session.flush()
        _route_locked(resume, now)
        handed += 1
    return handed


def scan_due(batch: int = 500) -> tuple[int, int]:
    """Warn coaches at 75 % of the due time, escalate to staff on breach; each once per offer.
    Returns (warned, escalated). Safe to run twice."""
    take_lock()
    now = utcnow()
    live = Assignment.status.in_(LIVE_ASSIGNMENT_STATES)
    warn_ids = db.session.scalars(
        select(Assignment.id)
        .where(live, Assignment.warned_at.is_(None), Assignment.warn_at <= now)
        .where(Assignment.due_at > now)
        .order_by(Assignment.warn_at)
        .limit(batch)
    ).all()
    late_ids = db.session.scalars(
        select(Assignment.id)
        .where(live, Assignment.escalated_at.is_(None), Assignment.due_at <= now)
        .order_by(Assignment.due_at)
        .limit(batch)
    ).all()
    warned = escalated = 0
    for assignment_id in warn_ids:
        if _stamp(assignment_id, "warned_at", now):
            outbox.record("resume.due_soon", assignment_id=assignment_id)
            warned += 1
    for assignment_id in late_ids:
        if _stamp(assignment_id, "escalated_at", now):
            assignment = db.session.get(Assignment, assignment_id)
            assert assignment is not None
            log_event(assignment.resume, "escalated", None, "The review passed its due time.")
            outbox.record("resume.overdue", assignment_id=assignment_id)
            escalated += 1
    db.session.flush()
    return warned, escalated


def _stamp(assignment_id: int, column: str, now: dt.datetime) -> bool:
    attribute = getattr(Assignment, column)
    result = db.session.execute(
        update(Assignment)
        .where(Assignment.id == assignment_id, attribute.is_(None))
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


# --- staff ----------------------------------------------------------------------------------------


def assign_manually(
    staff: User, resume_id: int, coach_id: int, reason: str = "", *, pin: bool = False
) -> Resume:
    """Staff (re)assign a résumé to a coach of their choice, recorded with who and why; an offer
    like any other. ``pin``: staff chose this coach themselves, so a rebalance leaves it there
    (``unpin`` lets it move again). A coach who loses the résumé is told it moved; a coach who
    gets back the very version they held before is told it is back, not offered it anew.
    Raises Forbidden, NotFound, ValidationFailed, InvalidStatus."""
    require_staff(staff, "Only staff assign résumés by hand.")
    reason = " ".join((reason or "").replace("\x00", "").split())[:1000]
    take_lock()
    resume = (
        db.session.scalar(select(Resume).where(Resume.id == resume_id).with_for_update())
        if is_id(resume_id)
        else None
    )
    if resume is None:
        raise NotFound("There is no such résumé.")
    if resume.status in (ResumeStatus.REVIEWED, ResumeStatus.CANCELLED):
        raise InvalidStatus(f"This résumé is {resume.status}; there is nothing to assign.")
    coach = db.session.get(User, coach_id) if is_id(coach_id) else None
    if coach is None or coach.role != Role.COACH or not coach.active:
        raise ValidationFailed.field("coach_id", "Choose an active coach.")
    now = utcnow()
    live = live_assignment(resume.id)
    if live is not None and live.coach_id == coach.id:
        if pin:
            _pin(live, staff, reason, now)
        return resume
    if live is not None:
        live.status = AssignmentStatus.WITHDRAWN
        live.responded_at = now
        log_event(resume, "withdrawn", staff, f"Taken from {live.coach.name}")
        db.session.flush()
    version = current_version(resume)
    candidate = next(c for c in candidates_for(resume, now) if c.id == coach.id)
    tags = resume_tags(resume, version)
    matched = candidate.matched(tags)
    parts = [
        f"assigned by {staff.name}" + (f": {reason}" if reason else ""),
        f"matched {', '.join(matched)}" if matched else "no skill match",
        f"{candidate.open} of {candidate.capacity} open",
    ]
    if candidate.excluded:
        parts.append(f"overrides: {candidate.excluded}")
    decision = RoutingDecision(
        resume_id=resume.id,
        version_number=version.number,
        at=now,
        actor_id=staff.id,
        outcome="manual",
        coach_id=coach.id,
        reason="; ".join(parts),
        components={
            "policy": "manual",
            "by": {"id": staff.id, "name": staff.name},
            "why": reason,
            "tags": sorted(tags),
            "coach": candidate.describe(tags),
            "overrides": candidate.excluded,
        },
    )
    db.session.add(decision)
    db.session.flush()
    held_before = held_version_before(resume.id, version.id, coach.id)
    offer = _offer(
        resume, version, coach, decision, Settings.current(), now, announce=not held_before
    )
    if pin:
        _pin(offer, staff, reason, now)
    log_event(resume, "reassigned" if live else "assigned_by_staff", staff, reason)
    db.session.flush()
    if live is not None or held_before:
        outbox.record(
            "resume.moved",
            resume_id=resume.id,
            from_assignment_id=live.id if live is not None else None,
            to_assignment_id=offer.id,
            back=held_before,
        )
    return resume


def held_version_before(resume_id: int, version_id: int, coach_id: int) -> bool:
    """Whether staff (or a rebalance) took this very version from this coach before: they were
    offered it then, so getting it back is news of a move, not a new "Résumé to review"."""
    return (
        db.session.scalar(
            select(Assignment.id)
            .where(
                Assignment.resume_id == resume_id,
                Assignment.version_id == version_id,
                Assignment.coach_id == coach_id,
                Assignment.status == AssignmentStatus.WITHDRAWN,
            )
            .limit(1)
        )
        is not None
    )


def _pin(assignment: Assignment, staff: User, reason: str, now: dt.datetime) -> None:
    assignment.pinned_at = now
    assignment.pinned_by_id = staff.id
    assignment.pin_reason = reason
    db.session.flush()


def unpin(staff: User, resume_id: int) -> Assignment | None:
    """Let a rebalance move the résumé's live offer again; the unpinned assignment, or None when
    nothing was pinned. Raises Forbidden, NotFound."""
    require_staff(staff, "Only staff unpin résumés.")
    take_lock()
    if not is_id(resume_id) or db.session.get(Resume, resume_id) is None:
        raise NotFound("There is no such résumé.")
    live = live_assignment(resume_id)
    if live is None or live.pinned_at is None:
        return None
    live.pinned_at = None
    live.pinned_by_id = None
    live.pin_reason = None
    db.session.flush()
    return live


def add_conflict(staff: User, learner_id: int, coach_id: int, reason: str = "") -> CoachConflict:
    """A conflict of interest: the coach never gets this learner's résumés by routing.
    Raises Forbidden, ValidationFailed."""
    require_staff(staff, "Only staff set conflicts.")
    learner = db.session.get(User, learner_id)
    coach = db.session.get(User, coach_id)
    if learner is None or learner.role != Role.LEARNER:
        raise ValidationFailed.field("learner_id", "Choose a learner.")
    if coach is None or coach.role != Role.COACH:
        raise ValidationFailed.field("coach_id", "Choose a coach.")
    existing = db.session.scalar(
        select(CoachConflict).where(
            CoachConflict.learner_id == learner_id, CoachConflict.coach_id == coach_id
        )
    )
    if existing is not None:
        return existing
    conflict = CoachConflict(
        learner_id=learner_id, coach_id=coach_id, reason=reason, created_by_id=staff.id
    )
    db.session.add(conflict)
    db.session.flush()
    return conflict


def decisions_for(resume_id: int) -> list[RoutingDecision]:
    return list(
        db.session.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.resume_id == resume_id)
            .order_by(RoutingDecision.id)
        )
    )
