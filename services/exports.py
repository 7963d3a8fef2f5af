"""CSV exports for staff: the review queue and every session, streamed (one batch in memory at a
time) and audited once their last line is out.

A streamed answer's body runs after the view has returned, in a session other than the one that
loaded the signed-in user (web.streaming). So the exports take the staff member's id, not the
User, and read everything in the session current when they run; and an export is audited by
``record_export`` only once its last line is out."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from services import audit
from services.access import require_staff
from services.booking import admin
from services.db import db
from services.errors import Forbidden
from services.models import User
from services.resumes import queue
from services.validation import is_id

EXPORT_BATCH = 200  # the largest page paginate() allows
QUEUE_COLUMNS = (
    "id",
    "status",
    "target_role",
    "learner",
    "learner_email",
    "reviewer",
    "version",
    "filename",
    "queued_at",
    "age_hours",
    "due_at",
    "overdue",
    "routing_reason",
)
BOOKING_COLUMNS = (
    "id",
    "status",
    "type",
    "start",
    "end",
    "coach",
    "learner",
    "learner_email",
    "created_at",
    "cancelled_at",
    "cancel_reason",
)


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    # Neutralise spreadsheet formulas (CSV injection): a leading =, +, - or @ becomes text.
    safe = [
        f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
        for v in values
    ]
    csv.writer(buffer).writerow(safe)
    return buffer.getvalue()


def _iso(at: dt.datetime | None) -> str:
    return at.isoformat() if at else ""


def _forget(objects: list[Any]) -> None:
    """Drop one exported batch from the session, so memory stays flat over a long export."""
    for obj in objects:
        if obj in db.session:
            db.session.expunge(obj)


def _staff(staff_id: int) -> User:
    """The staff member, loaded in the current session. Raises Forbidden."""
    user = db.session.get(User, staff_id) if is_id(staff_id) else None
    if user is None:
        raise Forbidden("Only staff use the console.")
    require_staff(user)
    return user


def export_queue(staff_id: int, filters: queue.QueueFilter) -> Iterator[str]:
    """The queue as CSV, header first, one CSV record per item yielded, read in keyset batches of
    EXPORT_BATCH in the current session. Raises Forbidden (on the first item)."""
    staff = _staff(staff_id)
    yield _csv_line(list(QUEUE_COLUMNS))
    cursor: str | None = None
    while True:
        page = queue.queue_page(staff, filters, limit=EXPORT_BATCH, cursor=cursor)
        for item in page.items:
            r = item.resume
            yield _csv_line(
                [
                    r.id,
                    r.status,
                    r.target_role,
                    item.learner.name,
                    item.learner.email,
                    item.reviewer.name if item.reviewer else "",
                    item.version.number,
                    item.version.filename,
                    _iso(r.queued_at),
                    round(item.age.total_seconds() / 3600, 2),
                    _iso(r.due_at),
                    "yes" if item.overdue else "no",
                    item.routing_reason or "",
                ]
            )
        _forget(
            [x for item in page.items for x in (item.resume, item.version, item.assignment) if x]
        )
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def export_bookings(staff_id: int, filters: admin.SessionFilter) -> Iterator[str]:
    """Every session as CSV, like ``export_queue``. Raises Forbidden (on the first item)."""
    staff = _staff(staff_id)
    yield _csv_line(list(BOOKING_COLUMNS))
    cursor: str | None = None
    while True:
        page = admin.sessions(staff, filters, limit=EXPORT_BATCH, cursor=cursor)
        for b in page.items:
            yield _csv_line(
                [
                    b.id,
                    b.status,
                    b.interview_type.slug,
                    _iso(b.start_at),
                    _iso(b.end_at),
                    b.coach.name,
                    b.learner.name,
                    b.learner.email,
                    _iso(b.created_at),
                    _iso(b.cancelled_at),
                    b.cancel_reason or "",
                ]
            )
        _forget(page.items)
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def record_export(staff_id: int, what: str, filters: Any, rows: int) -> None:
    """Audit a finished export ("queue" or "bookings") of ``rows`` rows, with its filters: call it
    after its last line, in a write transaction. Raises Forbidden."""
    staff = _staff(staff_id)
    plain = {
        k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in vars(filters).items()
    }
    audit.record(staff, f"export.{what}", "export", None, "", filters=plain, rows=rows)
