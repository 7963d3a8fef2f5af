"""The booking wing as staff run it: every session (listed, filtered, cancelled with override),
and the suspensions of booking (listed, lifted early). Every action is written to the audit log
(services.audit) in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from services import audit, outbox
from services.access import require_staff
from services.booking import operations
from services.db import db, utcnow
from services.errors import Conflict, NotFound, ValidationFailed
from services.models import Booking, LearnerSuspension, User
from services.models.booking import VISIBLE
from services.pagination import Page, paginate
from services.validation import is_id

# --- sessions ------------------------------------------------------------------------------------


def cancel_booking(staff: User, booking_id: int, reason: str) -> Booking:
    """Cancel any session, inside the cutoff too (override). Raises Forbidden, NotFound,
    ValidationFailed, InvalidState."""
    require_staff(staff)
    why = audit.required_reason(reason)
    now = utcnow()
    before = db.session.get(Booking, booking_id) if is_id(booking_id) else None
    if before is None:
        raise NotFound("There is no such booking.")
    was = before.status
    cancelled = operations.cancel(booking_id, staff.id, reason=why, now=now)
    if was != cancelled.status:
        cutoff = cancelled.start_at - dt.timedelta(
            hours=cancelled.interview_type.cancel_cutoff_hours
        )
        audit.record(staff, "booking.cancel", "booking", cancelled.id, why, override=now >= cutoff)
    return cancelled


@dataclass(frozen=True)
class SessionFilter:
    status: str | None = None
    coach_id: int | None = None
    learner: str | None = None
    start_from: dt.datetime | None = None
    start_to: dt.datetime | None = None


def _sessions_query(filters: SessionFilter) -> Select[tuple[Booking]]:
    query = select(Booking).where(Booking.status.in_(VISIBLE))
    if filters.status:
        if filters.status not in VISIBLE:
            raise ValidationFailed.field("status", f"Use one of {', '.join(VISIBLE)}.")
        query = query.where(Booking.status == filters.status)
    if filters.coach_id:
        query = query.where(Booking.coach_id == filters.coach_id)
    if filters.learner:
        needle = f"%{audit.one_line(filters.learner, 100)}%"
        query = query.where(
            Booking.learner_id.in_(
                select(User.id).where(or_(User.name.ilike(needle), User.email.ilike(needle)))
            )
        )
    if filters.start_from:
        query = query.where(Booking.start_at >= filters.start_from)
    if filters.start_to:
        query = query.where(Booking.start_at < filters.start_to)
    return query


def sessions(
    viewer: User, filters: SessionFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[Booking]:
    """All bookings, soonest first, with filters. Raises Forbidden, ValidationFailed."""
    require_staff(viewer)
    query = _sessions_query(filters).options(
        selectinload(Booking.coach),
        selectinload(Booking.learner),
        selectinload(Booking.interview_type),
    )
    return paginate(
        query,
        [(Booking.start_at, "asc"), (Booking.id, "asc")],
        limit=limit,
        cursor=cursor,
        key=lambda b: (b.start_at, b.id),
    )


# --- suspensions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuspensionRow:
    suspension: LearnerSuspension
    lifted_by: User | None
    active: bool


def suspensions(
    actor: User,
    *,
    active_only: bool = False,
    cursor: str | None = None,
    now: dt.datetime | None = None,
) -> Page[SuspensionRow]:
    """Suspensions of booking, newest first, keyset-paged; with who lifted each. Raises
    ValidationFailed (a bad cursor)."""
    require_staff(actor)
    now = now or utcnow()
    query = select(LearnerSuspension).options(selectinload(LearnerSuspension.learner))
    if active_only:
        query = query.where(
            LearnerSuspension.lifted_at.is_(None),
            LearnerSuspension.starts_at <= now,
            LearnerSuspension.ends_at > now,
        )
    page = paginate(
        query,
        [(LearnerSuspension.created_at, "desc"), (LearnerSuspension.id, "desc")],
        limit=None,
        cursor=cursor,
        key=lambda s: (s.created_at, s.id),
    )
    lifter_ids = {s.lifted_by_id for s in page.items if s.lifted_by_id is not None}
    lifters = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(lifter_ids)))}
        if lifter_ids
        else {}
    )
    rows = [
        SuspensionRow(
            suspension=s,
            lifted_by=lifters.get(s.lifted_by_id) if s.lifted_by_id is not None else None,
            active=s.lifted_at is None and s.starts_at <= now < s.ends_at,
        )
        for s in page.items
    ]
    return Page(items=rows, next_cursor=page.next_cursor)


def lift_suspension(
    actor: User, suspension_id: int, reason: str, *, now: dt.datetime | None = None
) -> LearnerSuspension:
    """Staff lift a running suspension early (``booking.lift_suspension``, as the API does), with
    a reason, an audit entry and an in-app notice to the learner. Raises Forbidden, NotFound,
    ValidationFailed, Conflict (already lifted or over)."""
    require_staff(actor)
    why = audit.required_reason(reason)
    now = now or utcnow()
    current = operations.find_suspension(suspension_id)
    if current.lifted_at is not None:
        raise Conflict("This suspension was already lifted.")
    if current.ends_at <= now:
        raise Conflict("This suspension is already over.")
    suspension = operations.lift_suspension(suspension_id, actor.id, why, now=now)
    audit.record(
        actor,
        "suspension.lift",
        "suspension",
        suspension.id,
        why,
        learner_id=suspension.learner_id,
        ends_at=suspension.ends_at.isoformat(),
    )
    outbox.record("booking.suspension_lifted", suspension_id=suspension.id)
    return suspension
