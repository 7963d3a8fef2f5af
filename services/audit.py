"""The audit log: staff actions and people's changes to their own accounts (``staff_action``,
append-only) and routing decisions (``routing_decision``, written by routing), read together
newest first, filterable, keyset-paged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, literal, or_, select, union_all

from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import RoutingDecision, StaffAction, User
from services.pagination import (
    Page,
    check_limit,
    cursor_pattern,
    decode_cursor,
    encode_cursor,
)

SOURCES = ("staff", "routing")


def one_line(text: str | None, limit: int = 1000) -> str:
    """``text`` as one line: no NUL, runs of whitespace as one space, at most ``limit``
    characters (a reason, a name, a search term)."""
    return " ".join((text or "").replace("\x00", "").split())[:limit]


def required_reason(reason: str | None, limit: int = 1000) -> str:
    """A staff action's reason, cleaned (one line, no NUL); raises ValidationFailed when empty:
    every such action says why, for this log."""
    cleaned = one_line(reason, limit)
    if not cleaned:
        raise ValidationFailed.field("reason", "Say why, for the audit log.")
    return cleaned


def record(
    actor: User,
    action: str,
    subject_type: str,
    subject_id: int | None,
    reason: str = "",
    **detail: Any,
) -> StaffAction:
    """Append one staff action, or a change someone made to their own account (same
    transaction as the change it describes)."""
    entry = StaffAction(
        at=utcnow(),
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        reason=one_line(reason),
        detail=detail,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    source: str | None = None  # "staff" or "routing"
    action: str | None = None  # a staff action, or a routing outcome (offered, unassigned, manual)
    actor_id: int | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    source: str
    id: int
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    action: str
    subject_type: str
    subject_id: int | None
    reason: str
    detail: dict[str, Any]


CURSOR_PATTERN = cursor_pattern("[0-9]{1,18}", f"(?:{'|'.join(SOURCES)})", "[0-9]{1,18}")
"""The audit log's cursor: (time, source, id) of the last entry served."""


def _encode(at: dt.datetime, source: str, entry_id: int) -> str:
    return encode_cursor([at, source, entry_id])


def _decode(cursor: str) -> tuple[dt.datetime, str, int]:
    at, source, entry_id = decode_cursor(cursor, [dt.datetime, str, int])
    if source not in SOURCES:
        raise ValidationFailed.field("cursor", "This cursor is not valid.")
    return at, source, entry_id


def entries(
    filters: AuditFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[AuditEntry]:
    """Newest first. Two queries per page whatever the size of the log. Raises ValidationFailed."""
    size = check_limit(limit)
    staff_q = select(
        StaffAction.at.label("at"),
        literal("staff").label("source"),
        StaffAction.id.label("id"),
    )
    routing_q = select(
        RoutingDecision.at.label("at"),
        literal("routing").label("source"),
        RoutingDecision.id.label("id"),
    )
    if filters.action:
        staff_q = staff_q.where(StaffAction.action == filters.action)
        routing_q = routing_q.where(RoutingDecision.outcome == filters.action)
    if filters.actor_id:
        staff_q = staff_q.where(StaffAction.actor_id == filters.actor_id)
        routing_q = routing_q.where(RoutingDecision.actor_id == filters.actor_id)
    if filters.subject_type:
        staff_q = staff_q.where(StaffAction.subject_type == filters.subject_type)
        if filters.subject_type != "resume":
            routing_q = routing_q.where(literal(False))
    if filters.subject_id:
        staff_q = staff_q.where(StaffAction.subject_id == filters.subject_id)
        routing_q = routing_q.where(RoutingDecision.resume_id == filters.subject_id)
    if filters.since:
        staff_q = staff_q.where(StaffAction.at >= filters.since)
        routing_q = routing_q.where(RoutingDecision.at >= filters.since)
    if filters.until:
        staff_q = staff_q.where(StaffAction.at < filters.until)
        routing_q = routing_q.where(RoutingDecision.at < filters.until)
    if filters.text:
        needle = f"%{filters.text.strip()[:100]}%"
        staff_q = staff_q.where(StaffAction.reason.ilike(needle))
        routing_q = routing_q.where(RoutingDecision.reason.ilike(needle))
    parts = []
    if filters.source in (None, "staff"):
        parts.append(staff_q)
    if filters.source in (None, "routing"):
        parts.append(routing_q)
    if not parts:
        return Page(items=[], next_cursor=None)
    log = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    query = select(log.c.at, log.c.source, log.c.id)
    if cursor:
        at, source, entry_id = _decode(cursor)
        # (at desc, source asc, id desc) strictly after the cursor
        query = query.where(
            or_(
                log.c.at < at,
                and_(log.c.at == at, log.c.source > source),
                and_(log.c.at == at, log.c.source == source, log.c.id < entry_id),
            )
        )
    keys = db.session.execute(
        query.order_by(log.c.at.desc(), log.c.source.asc(), log.c.id.desc()).limit(size + 1)
    ).all()
    more = len(keys) > size
    keys = keys[:size]
    staff_ids = [k.id for k in keys if k.source == "staff"]
    routing_ids = [k.id for k in keys if k.source == "routing"]
    found: dict[tuple[str, int], AuditEntry] = {}
    if staff_ids:
        for a in db.session.scalars(select(StaffAction).where(StaffAction.id.in_(staff_ids))):
            found[("staff", a.id)] = AuditEntry(
                "staff",
                a.id,
                a.at,
                a.actor_id,
                a.actor_name,
                a.action,
                a.subject_type,
                a.subject_id,
                a.reason,
                dict(a.detail or {}),
            )
    if routing_ids:
        rows = db.session.execute(
            select(RoutingDecision, User.name)
            .outerjoin(User, User.id == RoutingDecision.actor_id)
            .where(RoutingDecision.id.in_(routing_ids))
        ).all()
        for d, actor_name in rows:
            found[("routing", d.id)] = AuditEntry(
                "routing",
                d.id,
                d.at,
                d.actor_id,
                actor_name or "routing policy",
                d.outcome,
                "resume",
                d.resume_id,
                d.reason,
                {"coach_id": d.coach_id, "version": d.version_number, **(d.components or {})},
            )
    items = [found[(k.source, k.id)] for k in keys]
    next_cursor = None
    if more and items:
        last = items[-1]
        next_cursor = _encode(last.at, last.source, last.id)
    return Page(items=items, next_cursor=next_cursor)
