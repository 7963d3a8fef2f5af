"""The staff view of the review queue and the figures of how it is going (GET /api/v1/queue and
GET /api/v1/stats). A fixed number of queries per page, whatever the data."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)

from services.access import require_staff
from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import (
    Assignment,
    Booking,
    Resume,
    ResumeStatus,
    ResumeVersion,
    Review,
    Role,
    RoutingDecision,
    User,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES
from services.pagination import Page, paginate
from services.resumes.operations import OPEN_STATUSES
from services.resumes.routing import open_counts
from services.resumes.views import StatusLabel, status_label

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
                age=now - r.queued_at,
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


def _backlog(now: dt.datetime) -> dict[str, Any]:
    """By status, the open ones by age, and the overdue ones: one pass over the résumés, grouped
    by status, each age bucket and the overdue count a filtered count beside it."""
    ages = []
    for _, low, high in AGE_BUCKETS:
        condition = Resume.queued_at <= now - low
        if high is not None:
            condition = and_(condition, Resume.queued_at > now - high)
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
