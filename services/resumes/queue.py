"""The staff view of the review queue and the figures of how it is going (GET /api/v1/queue and
GET /api/v1/stats), and the staff console's queue page and its moves (assign, unpin, move a
coach's reviews elsewhere, each in the audit log). A fixed number of queries per page, whatever
the data."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)

from services import audit, outbox, workhours
from services.access import require_staff
from services.accounts.operations import find_coach
from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import (
    Assignment,
    AssignmentStatus,
    Booking,
    Resume,
    ResumeStatus,
    ResumeVersion,
    Review,
    Role,
    RoutingDecision,
    User,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES, OPEN_STATUS_VALUES
from services.pagination import Page, check_limit, decode_keyset, encode_cursor, paginate
from services.resumes import routing
from services.resumes.operations import OPEN_STATUSES, log_event
from services.resumes.routing import open_counts
from services.resumes.views import StatusLabel, current_version, live_assignment, status_label
from services.validation import MAX_ID, is_id

IN_HANDS = (ResumeStatus.ASSIGNED, ResumeStatus.IN_REVIEW)
AGE_BUCKETS = (
    ("under_1d", dt.timedelta(0), dt.timedelta(days=1)),
    ("1d_3d", dt.timedelta(days=1), dt.timedelta(days=3)),
    ("3d_7d", dt.timedelta(days=3), dt.timedelta(days=7)),
    ("over_7d", dt.timedelta(days=7), None),
)


@dataclass(frozen=True)
class QueueItem:
    resume: Resume
    version: ResumeVersion
    learner: User
    reviewer: User | None
    assignment: Assignment | None
    routing_reason: str | None
    age: dt.timedelta
    overdue: bool
    status: StatusLabel  # the state in words, for the viewer


def queue(
    viewer: User,
    *,
    status: str | None = None,
    coach_id: int | None = None,
    overdue: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[QueueItem]:
    """The review queue, oldest first (by when the current version joined it). Without a status,
    the open ones. Raises Forbidden, ValidationFailed."""
    require_staff(viewer, "Only staff see the queue.")
    now = utcnow()
    query = select(Resume)
    if status:
        if status not in {s.value for s in ResumeStatus}:
            raise ValidationFailed.field("status", "Not a résumé status.")
        query = query.where(Resume.status == status)
    else:
        query = query.where(Resume.status.in_(OPEN_STATUSES))
    if coach_id is not None:
        query = query.where(Resume.reviewer_id == coach_id)
    if overdue:
        query = query.where(Resume.status.in_(IN_HANDS), Resume.due_at < now)
    page = paginate(
        query,
        [(Resume.queued_at, "asc"), (Resume.id, "asc")],
        limit=limit,
        cursor=cursor,
        key=lambda r: (r.queued_at, r.id),
    )
    return Page(items=queue_items(page.items, now, viewer), next_cursor=page.next_cursor)


def queue_items(resumes: list[Resume], now: dt.datetime, viewer: User) -> list[QueueItem]:
    if not resumes:
        return []
    ids = [r.id for r in resumes]
    versions = {
        (v.resume_id, v.number): v
        for v in db.session.scalars(select(ResumeVersion).where(ResumeVersion.resume_id.in_(ids)))
    }
    live = {
        a.resume_id: a
        for a in db.session.scalars(
            select(Assignment).where(
                Assignment.resume_id.in_(ids), Assignment.status.in_(LIVE_ASSIGNMENT_STATES)
            )
        )
    }
    latest = (
        select(RoutingDecision.resume_id, func.max(RoutingDecision.id).label("id"))
        .where(RoutingDecision.resume_id.in_(ids))
        .group_by(RoutingDecision.resume_id)
        .subquery()
    )
    rows = db.session.execute(
        select(RoutingDecision.resume_id, RoutingDecision.reason).join(
            latest, RoutingDecision.id == latest.c.id
        )
    ).all()
    reasons: dict[int, str] = {int(row[0]): str(row[1]) for row in rows}
    user_ids = {r.learner_id for r in resumes} | {r.reviewer_id for r in resumes if r.reviewer_id}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    # The review of each reviewed one's current version, for its outcome (only when some are).
    reviewed = [r.id for r in resumes if r.status == ResumeStatus.REVIEWED]
    outcomes: dict[int, Review] = {}
    if reviewed:
        for review in db.session.scalars(
            select(Review).where(Review.resume_id.in_(reviewed)).order_by(Review.id)
        ):
            outcomes[review.resume_id] = review
    # Ages count the clock its due time counts: its coach's own week, or the desk's hours.
    desk, own = workhours.clocks_for({r.reviewer_id for r in resumes if r.reviewer_id})
    items = []
    for r in resumes:
        version = versions[(r.id, r.current_version)]
        reviewer = users.get(r.reviewer_id) if r.reviewer_id else None
        current = outcomes.get(r.id)
        if current is not None and current.version_id != version.id:
            current = None  # an earlier version's: the current one is not reviewed
        items.append(
            QueueItem(
                resume=r,
                version=version,
                learner=users[r.learner_id],
                reviewer=reviewer,
                assignment=live.get(r.id),
                routing_reason=reasons.get(r.id),
                age=own.get(r.reviewer_id or 0, desk).elapsed(r.queued_at, now),
                overdue=bool(r.status in IN_HANDS and r.due_at is not None and r.due_at < now),
                status=status_label(
                    r.status,
                    viewer,
                    assignment=live.get(r.id),
                    coach=reviewer,
                    review=current,
                    version=version,
                ),
            )
        )
    return items


def backlog(now: dt.datetime | None = None) -> dict[str, Any]:
    """The open résumés by status and age, and how many are overdue (one aggregate query)."""
    return _backlog(now or utcnow())


# --- stats ----------------------------------------------------------------------------------------
#
# Every figure is an aggregate the database computes: a request reads a handful of rows back,
# whatever the number of résumés, reviews or sessions. ``quantile`` and ``hours`` stay the
# definition (nearest rank over hours rounded to 0.01); the SQL gives the same numbers. Turnaround
# reads Review.turnaround_us (stored when the review is recorded) from the index
# ix_review_created_turnaround alone: no join, and a time range is a range of that index.

QUANTILES = (0.5, 0.9)


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _rank(q: float, n: int) -> int:
    """The 1-based nearest rank of quantile ``q`` among ``n`` values (as ``quantile``)."""
    return max(1, math.ceil(q * n))


def hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _micro_hours(micros: int) -> float:
    return hours(dt.timedelta(microseconds=int(micros)))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True)
class Turnaround:
    reviews: int
    median_hours: float | None
    p90_hours: float | None


NO_REVIEWS = Turnaround(0, None, None)


def turnaround(since: dt.datetime) -> Turnaround:
    """Hours from upload to review of the reviews made since ``since``: count, median and p90
    (nearest rank)."""
    return _turnarounds([(since, None)])[0]


def turnaround_weekly(first: dt.date, weeks: int) -> dict[dt.date, Turnaround]:
    """As ``turnaround``, per week of the review: ``weeks`` weeks from the Monday ``first``
    (UTC), every week present."""
    starts = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    found = _turnarounds([(_at(s), _at(s + dt.timedelta(weeks=1))) for s in starts])
    return dict(zip(starts, found, strict=True))


def _turnarounds(ranges: list[tuple[dt.datetime, dt.datetime | None]]) -> list[Turnaround]:
    """The turnaround of the reviews made in each of the disjoint ranges [start, end) (end None:
    open), in one statement. PostgreSQL: one ``percentile_disc`` aggregate per range, each an
    index-only range scan. SQLite: the rows at the two ranks, found by a window over the same
    index. Either way the chosen value goes through ``hours`` here, so the figures are those of
    the Python definition."""
    within = [
        and_(Review.created_at >= start, *([Review.created_at < end] if end is not None else []))
        for start, end in ranges
    ]
    if _dialect() == "postgresql":
        parts = [
            select(
                literal(i).label("part"),
                func.count().label("n"),
                *(
                    func.percentile_disc(q).within_group(Review.turnaround_us).label(f"q{k}")
                    for k, q in enumerate(QUANTILES)
                ),
            ).where(condition)
            for i, condition in enumerate(within)
        ]
        query = parts[0] if len(parts) == 1 else union_all(*parts)
        found = {
            int(part): Turnaround(int(n), *(_micro_hours(v) for v in values))
            for part, n, *values in db.session.execute(query)
            if n
        }
        return [found.get(i, NO_REVIEWS) for i in range(len(ranges))]
    part = case(*((condition, i) for i, condition in enumerate(within)), else_=None)
    ranked = (
        select(
            part.label("part"),
            Review.turnaround_us.label("micros"),
            func.row_number()
            .over(partition_by=part, order_by=(Review.turnaround_us, Review.id))
            .label("rn"),
            func.count().over(partition_by=part).label("n"),
        )
        .where(or_(*within))
        .subquery()
    )
    wanted = []
    for q in QUANTILES:
        # ceil(q * n), in the same floating point as math.ceil(q * n)
        scaled = literal(q) * ranked.c.n
        whole = cast(scaled, Integer)
        wanted.append(ranked.c.rn == func.max(1, whole + case((scaled > whole, 1), else_=0)))
    at_rank: dict[int, dict[int, int]] = {}
    counts: dict[int, int] = {}
    for i, micros, rn, n in db.session.execute(
        select(ranked.c.part, ranked.c.micros, ranked.c.rn, ranked.c.n).where(or_(*wanted))
    ):
        at_rank.setdefault(int(i), {})[int(rn)] = int(micros)
        counts[int(i)] = int(n)
    return [
        Turnaround(n, *(_micro_hours(at_rank[i][_rank(q, n)]) for q in QUANTILES))
        if (n := counts.get(i, 0))
        else NO_REVIEWS
        for i in range(len(ranges))
    ]


def _older_than(
    now: dt.datetime, age: dt.timedelta, desk: workhours.Clock, own: dict[int, workhours.Clock]
) -> ColumnElement[dt.datetime] | dt.datetime:
    """The instant before which a résumé queued is ``age`` old in working time: by the desk's
    clock, or (a CASE on the reviewer) the own clock of a coach staff put on their own week."""
    kind = Resume.queued_at.type
    at = desk.before(now, age)
    if not own:
        return at
    return case(
        *(
            (Resume.reviewer_id == coach_id, literal(clock.before(now, age), kind))
            for coach_id, clock in own.items()
        ),
        else_=literal(at, kind),
    )


def _backlog(now: dt.datetime) -> dict[str, Any]:
    """By status, the open ones by age (working time, on the clock their due time counts), and
    the overdue ones: one pass over the résumés, grouped by status, each age bucket and the
    overdue count a filtered count beside it. Each bucket's bounds are instants computed here
    (``Clock.before``), so the database only compares."""
    desk, own = workhours.clocks_for(workhours.own_hours_coach_ids())
    ages = []
    for _, low, high in AGE_BUCKETS:
        condition = Resume.queued_at <= _older_than(now, low, desk, own)
        if high is not None:
            condition = and_(condition, Resume.queued_at > _older_than(now, high, desk, own))
        ages.append(func.count().filter(condition))
    overdue = func.count().filter(Resume.due_at < now)
    by_status = {s.value: 0 for s in ResumeStatus}
    by_age = dict.fromkeys((name for name, _, _ in AGE_BUCKETS), 0)
    late = 0
    for status, count, *counts in db.session.execute(
        select(Resume.status, func.count(), *ages, overdue).group_by(Resume.status)
    ):
        by_status[status] = int(count)
        if status in OPEN_STATUSES:
            for (name, _, _), n in zip(AGE_BUCKETS, counts, strict=False):
                by_age[name] += int(n)
        if status in IN_HANDS:
            late += int(counts[-1])
    return {
        "by_status": by_status,
        "by_age": [{"bucket": name, "count": n} for name, n in by_age.items()],
        "open": sum(by_status[s] for s in OPEN_STATUSES),
        "overdue": late,
    }


def stats(viewer: User, *, days: int = 90, weeks: int = 12) -> dict[str, Any]:
    """Turnaround (median, p90), backlog by status and age, load per coach, bookings per week and
    the no-show rate. Six aggregate queries, whatever the data. Raises Forbidden."""
    require_staff(viewer, "Only staff see the queue.")
    now = utcnow()
    overall = turnaround(now - dt.timedelta(days=days))

    counts = open_counts()
    coaches = db.session.execute(
        select(User.id, User.name, User.review_capacity)
        .where(User.role == Role.COACH, User.active.is_(True))
        .order_by(User.name)
    ).all()
    load = [
        {
            "coach": {"id": coach_id, "name": name},
            "open": counts.get(coach_id, 0),
            "capacity": capacity,
            "load_pct": round(100 * counts.get(coach_id, 0) / capacity, 1) if capacity else None,
        }
        for coach_id, name, capacity in coaches
    ]

    return {
        "generated_at": now,
        "turnaround": {
            "median_hours": overall.median_hours,
            "p90_hours": overall.p90_hours,
            "reviews": overall.reviews,
            "window_days": days,
        },
        "backlog": _backlog(now),
        "load": load,
        **_booking_stats(now, days=days, weeks=weeks),
    }


def week_start(at: dt.datetime) -> dt.date:
    day = at.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


HELD_STATUSES = ("confirmed", "completed", "no_show")


def _booking_stats(now: dt.datetime, *, days: int, weeks: int) -> dict[str, Any]:
    """Sessions per week (one count per week, each a range of ix_booking_status_start, in one
    statement) and the no-show rate."""
    first = week_start(now) - dt.timedelta(weeks=weeks - 1)
    starts = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    per_week = union_all(
        *(
            select(literal(i).label("week"), func.count().label("n")).where(
                Booking.status.in_(HELD_STATUSES),
                Booking.start_at >= _at(start),
                Booking.start_at < _at(start + dt.timedelta(weeks=1)),
            )
            for i, start in enumerate(starts)
        )
    )
    counted = {int(i): int(n) for i, n in db.session.execute(per_week)}
    outcomes: dict[str, int] = {
        status: int(count)
        for status, count in db.session.execute(
            select(Booking.status, func.count(Booking.id))
            .where(
                Booking.status.in_(("completed", "no_show")),
                Booking.start_at >= now - dt.timedelta(days=days),
                Booking.start_at <= now,
            )
            .group_by(Booking.status)
        )
    }
    held = int(outcomes.get("completed", 0)) + int(outcomes.get("no_show", 0))
    return {
        "bookings_per_week": [
            {"week_start": start, "count": counted.get(i, 0)} for i, start in enumerate(starts)
        ],
        "no_show_rate": round(int(outcomes.get("no_show", 0)) / held, 4) if held else None,
    }


# --- the staff console: the queue page and its moves ------------------------------------------

FAR_FUTURE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
SORTS = ("due", "oldest")


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None  # None: the open ones; "all": every status
    coach_id: int | None = None
    overdue: bool = False
    search: str | None = None
    sort: str = "due"  # "due": overdue first, then the soonest due, unrouted last; "oldest"


def _status() -> ColumnElement[str]:
    """The status column as the partial index ix_resume_open_due spells it: "+status" on SQLite
    (see services.models.resumes.OPEN_STATUS_SQLITE)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return literal_column("+resume.status", String())
    return Resume.status.expression


def _open_term() -> ColumnElement[bool]:
    """``status IN ('submitted', …)`` with literals, not bound parameters: the very term of the
    partial index ix_resume_open_due, which SQLite uses only when a query spells it so."""
    return _status().in_([literal_column(f"'{s}'") for s in OPEN_STATUS_VALUES])


def _queue_query(filters: QueueFilter, now: dt.datetime) -> Select[tuple[Resume]]:
    query = select(Resume)
    if filters.status == "all":
        pass
    elif filters.status:
        if filters.status not in {s.value for s in ResumeStatus}:
            raise ValidationFailed.field("status", "Not a résumé status.")
        if filters.status in OPEN_STATUS_VALUES:
            # the open term too (redundant), so the open queue's index serves it
            query = query.where(_status() == filters.status, _open_term())
        else:
            query = query.where(Resume.status == filters.status)
    else:
        query = query.where(_open_term())
    if filters.coach_id is not None:
        query = query.where(Resume.reviewer_id == filters.coach_id)
    if filters.overdue:
        query = query.where(Resume.status.in_(IN_HANDS), Resume.due_at < now)
    search = audit.one_line(filters.search, 100)
    if search:
        needle = f"%{search}%"
        learners = select(User.id).where(or_(User.name.ilike(needle), User.email.ilike(needle)))
        clauses: list[ColumnElement[bool]] = [
            Resume.target_role.ilike(needle),
            Resume.learner_id.in_(learners),
        ]
        if search.isdigit() and int(search) <= MAX_ID:
            clauses.append(Resume.id == int(search))
        query = query.where(or_(*clauses))
    return query


def _due_page(query: Select[tuple[Resume]], limit: int | None, cursor: str | None) -> Page[Resume]:
    """Keyset pages in the order (due_at or FAR_FUTURE, id): overdue first, then the soonest due,
    unrouted (no due time) last. Spelled as two index range scans on (due_at, id), the dated ones
    then the undated ones, instead of ``ORDER BY coalesce(due_at, …)``, which no plain index
    serves: every page reads about ``limit`` index entries, whatever the size of the
    The cursor is the same as ``paginate`` would make for that order. Raises ValidationFailed."""
    size = check_limit(limit)
    after_due: dt.datetime | None = None
    after_id: int | None = None
    if cursor:
        due, after_id = decode_keyset(cursor, [Resume.due_at, Resume.id])
        after_due = None if due == FAR_FUTURE else due
    rows: list[Resume] = []
    if after_id is None or after_due is not None:
        dated = query.where(Resume.due_at.is_not(None))
        if after_due is not None:
            dated = dated.where(
                Resume.due_at >= after_due, or_(Resume.due_at > after_due, Resume.id > after_id)
            )
        rows = list(db.session.scalars(dated.order_by(Resume.due_at, Resume.id).limit(size + 1)))
    if len(rows) <= size:
        undated = query.where(Resume.due_at.is_(None))
        if after_id is not None and after_due is None:
            undated = undated.where(Resume.id > after_id)
        rows += db.session.scalars(
            undated.order_by(Resume.due_at, Resume.id).limit(size + 1 - len(rows))
        )
    items = rows[:size]
    more = len(rows) > size and bool(items)
    last = items[-1] if more else None
    return Page(
        items=items,
        next_cursor=encode_cursor([last.due_at or FAR_FUTURE, last.id])
        if last is not None
        else None,
    )


def queue_page(
    viewer: User, filters: QueueFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[QueueItem]:
    """The console's queue: a fixed number of queries per page, each reading about one page of
    an index in the default order. Raises Forbidden, ValidationFailed."""
    require_staff(viewer)
    now = utcnow()
    query = _queue_query(filters, now)
    if filters.sort == "oldest":
        page = paginate(
            query,
            [(Resume.queued_at, "asc"), (Resume.id, "asc")],
            limit=limit,
            cursor=cursor,
            key=lambda r: (r.queued_at, r.id),
        )
    else:
        page = _due_page(query, limit, cursor)
    return Page(items=queue_items(page.items, now, viewer), next_cursor=page.next_cursor)


def assign(staff: User, resume_id: int, coach_id: int, reason: str) -> Resume:
    """Assign or reassign one résumé by hand, with a reason; the offer is pinned (a rebalance
    leaves it with this coach until staff unpin it), with that reason. Choosing the coach who
    holds it already pins it there. Raises Forbidden, NotFound, ValidationFailed,
    InvalidStatus."""
    require_staff(staff)
    why = audit.required_reason(reason)
    before = live_assignment(resume_id) if is_id(resume_id) else None
    from_id = before.coach_id if before else None
    resume = routing.assign_manually(staff, resume_id, coach_id, why, pin=True)
    if from_id != coach_id:
        audit.record(
            staff,
            "resume.reassign" if from_id else "resume.assign",
            "resume",
            resume.id,
            why,
            from_coach_id=from_id,
            to_coach_id=coach_id,
        )
    else:
        audit.record(staff, "resume.pin", "resume", resume.id, why, coach_id=coach_id)
    return resume


def unpin(staff: User, resume_id: int) -> bool:
    """Let a rebalance move this résumé's offer again. False when nothing was pinned.
    Raises Forbidden, NotFound."""
    require_staff(staff)
    unpinned = routing.unpin(staff, resume_id)
    if unpinned is None:
        return False
    audit.record(staff, "resume.unpin", "resume", resume_id, "", coach_id=unpinned.coach_id)
    return True


@dataclass(frozen=True)
class Move:
    resume_id: int
    to_coach_id: int | None
    reason: str


def move_all(staff: User, coach_id: int, reason: str) -> list[Move]:
    """Move every open review of one coach (offers and reviews in progress) elsewhere, the routing
    policy choosing each target among the other coaches; a résumé nobody can take becomes
    unassigned. Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(staff)
    why = audit.required_reason(reason)
    coach = find_coach(coach_id)
    routing.take_lock()
    now = utcnow()
    live = list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.coach_id == coach.id, Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
            .order_by(Assignment.due_at, Assignment.id)
        )
    )
    moves: list[Move] = []
    for assignment in live:
        resume = db.session.scalar(
            select(Resume).where(Resume.id == assignment.resume_id).with_for_update()
        )
        assert resume is not None
        version = current_version(resume)
        candidates = [c for c in routing.candidates_for(resume, now) if c.id != coach.id]
        choice = routing.choose(
            candidates,
            routing.resume_tags(resume, version),
            routing.last_reviewer(resume),
            job=routing.job_tags(version),
        )
        if choice.coach_id is not None:
            routing.assign_manually(
                staff,
                resume.id,
                choice.coach_id,
                f"moved from {coach.name}: {why}; policy: {choice.reason}",
            )
        else:
            assignment.status = AssignmentStatus.WITHDRAWN
            assignment.responded_at = now
            resume.status = ResumeStatus.UNASSIGNED
            resume.reviewer_id = None
            resume.due_at = None
            log_event(resume, "withdrawn", staff, f"Taken from {coach.name}: {why}")
            outbox.record(
                "resume.moved",
                resume_id=resume.id,
                from_assignment_id=assignment.id,
                to_assignment_id=None,
                back=False,
            )
            db.session.add(
                RoutingDecision(
                    resume_id=resume.id,
                    version_number=version.number,
                    at=now,
                    actor_id=staff.id,
                    outcome="unassigned",
                    coach_id=None,
                    reason=f"moved from {coach.name} by {staff.name}: {why}; {choice.reason}",
                    components={**choice.components, "policy": routing.POLICY, "why": why},
                )
            )
            db.session.flush()
        moves.append(Move(resume.id, choice.coach_id, choice.reason))
    audit.record(
        staff,
        "coach.move_all",
        "coach",
        coach.id,
        why,
        moved=[{"resume_id": m.resume_id, "to_coach_id": m.to_coach_id} for m in moves],
    )
    return moves
