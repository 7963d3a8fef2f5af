"""The staff view of the review queue and the figures of how it is going (GET /api/v1/queue and
GET /api/v1/stats). A fixed number of queries per page, whatever the data."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Interval,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
)

from services.db import db, utcnow
from services.errors import Forbidden, ValidationFailed
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
from services.resumes import OPEN_STATUSES
from services.routing import open_counts

IN_HANDS = (ResumeStatus.ASSIGNED, ResumeStatus.IN_REVIEW)
AGE_BUCKETS = (
    ("under_1d", dt.timedelta(0), dt.timedelta(days=1)),
    ("1d_3d", dt.timedelta(days=1), dt.timedelta(days=3)),
    ("3d_7d", dt.timedelta(days=3), dt.timedelta(days=7)),
    ("over_7d", dt.timedelta(days=7), None),
)


def _require_staff(viewer: User) -> None:
    if viewer.role != Role.STAFF:
        raise Forbidden("Only staff see the queue.")


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
    _require_staff(viewer)
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
    return Page(items=_items(page.items, now), next_cursor=page.next_cursor)


def _items(resumes: list[Resume], now: dt.datetime) -> list[QueueItem]:
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
    return [
        QueueItem(
            resume=r,
            version=versions[(r.id, r.current_version)],
            learner=users[r.learner_id],
            reviewer=users.get(r.reviewer_id) if r.reviewer_id else None,
            assignment=live.get(r.id),
            routing_reason=reasons.get(r.id),
            age=now - r.queued_at,
            overdue=bool(r.status in IN_HANDS and r.due_at is not None and r.due_at < now),
        )
        for r in resumes
    ]


# --- stats ----------------------------------------------------------------------------------------
#
# Every figure is an aggregate the database computes: a request reads a handful of rows back,
# whatever the number of résumés, reviews or sessions. ``_quantile`` and ``_hours`` stay the
# definition (nearest rank over hours rounded to 0.01); the SQL gives the same numbers.

QUANTILES = (0.5, 0.9)


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _rank(q: float, n: int) -> int:
    """The 1-based nearest rank of quantile ``q`` among ``n`` values (as ``_quantile``)."""
    return max(1, math.ceil(q * n))


def _hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _sqlite_micros(column: Any) -> Any:
    """Exact microseconds since the epoch of a UTC time SQLite stores as
    'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format); julianday() would round."""
    return cast(func.strftime("%s", column), Integer) * 1_000_000 + cast(
        func.substr(column, 21, 6), Integer
    )


def week_bucket(column: Any) -> Any:
    """The Monday (UTC) of a time's week, in SQL: a timestamp on PostgreSQL, 'YYYY-MM-DD' text
    on SQLite (``_week_of`` reads either back as a date)."""
    if _dialect() == "postgresql":
        return func.date_trunc("week", func.timezone("UTC", column))
    weekday = (cast(func.strftime("%w", column), Integer) + 6) % 7  # Monday 0
    return func.date(column, literal("-") + cast(weekday, String) + literal(" days"))


def _week_of(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True)
class Turnaround:
    reviews: int
    median_hours: float | None
    p90_hours: float | None


def turnaround(since: dt.datetime, *, weekly: bool = False) -> dict[dt.date | None, Turnaround]:
    """Hours from upload to review of the reviews made since ``since``: count, median and p90
    (nearest rank), overall (key None) or per week of the review (key: its Monday, UTC).
    PostgreSQL: ``percentile_disc`` over the interval itself. SQLite: the rows at the two ranks,
    found by a window over exact microseconds. Either way the chosen row's interval goes through
    ``_hours`` here, so the figures are those of the Python definition."""
    gap = Review.created_at - ResumeVersion.uploaded_at
    group = week_bucket(Review.created_at) if weekly else None
    groups = [group] if group is not None else []
    if _dialect() == "postgresql":
        interval = type_coerce(gap, Interval())
        rows = db.session.execute(
            select(
                *groups,
                func.count(Review.id),
                *(func.percentile_disc(q).within_group(interval) for q in QUANTILES),
            )
            .join(ResumeVersion, Review.version_id == ResumeVersion.id)
            .where(Review.created_at >= since)
            .group_by(*groups)
        ).all()
        return {
            (_week_of(row[0]) if weekly else None): Turnaround(
                int(row[-3]),
                *(_hours(value) if value is not None else None for value in row[-2:]),
            )
            for row in rows
            if row[-3]
        }
    order = _sqlite_micros(Review.created_at) - _sqlite_micros(ResumeVersion.uploaded_at)
    ranked = (
        select(
            (group if group is not None else literal_column("NULL")).label("grp"),
            Review.created_at.label("reviewed"),
            ResumeVersion.uploaded_at.label("uploaded"),
            func.row_number().over(partition_by=group, order_by=(order, Review.id)).label("rn"),
            func.count(Review.id).over(partition_by=group).label("n"),
        )
        .join(ResumeVersion, Review.version_id == ResumeVersion.id)
        .where(Review.created_at >= since)
        .subquery()
    )
    wanted = []
    for q in QUANTILES:
        # ceil(q * n), in the same floating point as math.ceil(q * n)
        scaled = literal(q) * ranked.c.n
        whole = cast(scaled, Integer)
        wanted.append(ranked.c.rn == func.max(1, whole + case((scaled > whole, 1), else_=0)))
    found: dict[Any, dict[int, dt.timedelta]] = {}
    counts: dict[Any, int] = {}
    for grp, reviewed, uploaded, rn, n in db.session.execute(
        select(ranked.c.grp, ranked.c.reviewed, ranked.c.uploaded, ranked.c.rn, ranked.c.n).where(
            or_(*wanted)
        )
    ):
        found.setdefault(grp, {})[int(rn)] = reviewed - uploaded
        counts[grp] = int(n)
    return {
        (_week_of(grp) if weekly else None): Turnaround(
            n, *(_hours(found[grp][_rank(q, n)]) for q in QUANTILES)
        )
        for grp, n in counts.items()
    }


def stats(viewer: User, *, days: int = 90, weeks: int = 12) -> dict[str, Any]:
    """Turnaround (median, p90), backlog by status and age, load per coach, bookings per week and
    the no-show rate. About ten aggregate queries, whatever the data. Raises Forbidden."""
    _require_staff(viewer)
    now = utcnow()
    since = now - dt.timedelta(days=days)

    overall = turnaround(since).get(None, Turnaround(0, None, None))

    by_status = {s.value: 0 for s in ResumeStatus}
    for status, count in db.session.execute(
        select(Resume.status, func.count(Resume.id)).group_by(Resume.status)
    ):
        by_status[status] = int(count)
    age_columns = []
    for name, low, high in AGE_BUCKETS:
        condition = Resume.queued_at <= now - low
        if high is not None:
            condition = and_(condition, Resume.queued_at > now - high)
        age_columns.append(func.sum(case((condition, 1), else_=0)).label(name))
    overdue_column = func.sum(
        case((and_(Resume.status.in_(IN_HANDS), Resume.due_at < now), 1), else_=0)
    )
    ages = db.session.execute(
        select(*age_columns, overdue_column).where(Resume.status.in_(OPEN_STATUSES))
    ).one()
    by_age = [
        {"bucket": name, "count": int(ages[i] or 0)} for i, (name, _, _) in enumerate(AGE_BUCKETS)
    ]

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
        "backlog": {
            "by_status": by_status,
            "by_age": by_age,
            "open": sum(by_status[s] for s in OPEN_STATUSES),
            "overdue": int(ages[-1] or 0),
        },
        "load": load,
        **_booking_stats(now, days=days, weeks=weeks),
    }


def _week_start(at: dt.datetime) -> dt.date:
    day = at.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def _booking_stats(now: dt.datetime, *, days: int, weeks: int) -> dict[str, Any]:
    this_week = _week_start(now)
    first = this_week - dt.timedelta(weeks=weeks - 1)
    first_at = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    week = week_bucket(Booking.start_at)
    per_week: dict[dt.date, int] = {
        _week_of(bucket): int(count)
        for bucket, count in db.session.execute(
            select(week, func.count(Booking.id))
            .where(
                Booking.start_at >= first_at,
                Booking.start_at < first_at + dt.timedelta(weeks=weeks),
                Booking.status.in_(("confirmed", "completed", "no_show")),
            )
            .group_by(week)
        )
    }
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
            {
                "week_start": first + dt.timedelta(weeks=i),
                "count": per_week.get(first + dt.timedelta(weeks=i), 0),
            }
            for i in range(weeks)
        ],
        "no_show_rate": round(int(outcomes.get("no_show", 0)) / held, 4) if held else None,
    }
