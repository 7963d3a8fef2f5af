"""The transactional outbox: events and jobs recorded in the session, handed to Celery after commit.

A service calls ``record()`` (or ``enqueue_after_commit()``) inside the transaction that makes the
change. Nothing reaches the broker unless that transaction commits; a rollback drops it; the relay
(a beat job) hands over whatever a dead process or a stopped broker left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from flask import Flask, current_app, has_app_context
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from services.db import db, utcnow
from services.models import Delivery, DeliveryStatus, OutboxEvent

log = logging.getLogger(__name__)

Dispatcher = Callable[[str, tuple[Any, ...]], None]
_PENDING = "outbox_after_commit"
_EXTENSION = "outbox.dispatcher"


def set_dispatcher(app: Flask, dispatcher: Dispatcher | None) -> None:
    """Install how jobs reach the workers (by task name); the web app and the workers set one."""
    app.extensions[_EXTENSION] = dispatcher


def _current_dispatcher() -> Dispatcher | None:
    if not has_app_context():
        return None
    dispatcher: Dispatcher | None = current_app.extensions.get(_EXTENSION)
    return dispatcher


def enqueue_after_commit(task_name: str, *args: Any) -> None:
    """Run the task ``task_name(*args)`` once the current transaction has committed."""
    db.session.info.setdefault(_PENDING, []).append((task_name, args))


def record(kind: str, **payload: Any) -> OutboxEvent:
    """Record a domain event in the current transaction; it is processed after the commit."""
    event = OutboxEvent(kind=kind, payload=payload)
    db.session.add(event)
    db.session.flush()
    enqueue_after_commit("outbox.process", event.id)
    return event


@sa_event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    jobs = session.info.pop(_PENDING, [])
    if not jobs:
        return
    dispatcher = _current_dispatcher()
    if dispatcher is None:
        log.info("no dispatcher installed; the relay will hand over %d job(s)", len(jobs))
        return
    for task_name, args in jobs:
        try:
            dispatcher(task_name, args)
        except Exception:  # the broker may be down: the relay will hand it over later
            log.warning("could not hand %s%r to the broker; the relay will", task_name, args)


@sa_event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)


def relay_grace() -> dt.timedelta:
    """How long an event or delivery may sit past its due time before the relay hands it over."""
    seconds = current_app.config.get("OUTBOX_RELAY_AFTER_SECONDS", 30) if has_app_context() else 30
    return dt.timedelta(seconds=float(seconds))


def relay(older_than: dt.timedelta | None = None, batch: int = 500) -> int:
    """Hand over events and deliveries still waiting ``older_than`` (the grace) after they were due.

    Each one handed over is stamped, and handed over again only after another grace period, so a
    backlog that a slow worker is still working through is not flooded with copies; a delivery
    waiting out its backoff is not due yet. Safe to run twice or concurrently (the stamp is a
    conditional update). Returns how many were handed over."""
    grace = relay_grace() if older_than is None else older_than
    now = utcnow()
    cutoff = now - grace
    # Each batch is picked and stamped in one statement: two relays at once hand over each row
    # once, and on SQLite the transaction writes first (a read-then-write one may fail as locked).
    not_recent_event = or_(OutboxEvent.relayed_at.is_(None), OutboxEvent.relayed_at < cutoff)
    overdue_events = (
        select(OutboxEvent.id)
        .where(
            OutboxEvent.processed_at.is_(None), OutboxEvent.created_at < cutoff, not_recent_event
        )
        .order_by(OutboxEvent.id)
        .limit(batch)
    )
    event_ids = db.session.scalars(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(overdue_events), not_recent_event)
        .values(relayed_at=now)
        .returning(OutboxEvent.id)
        .execution_options(synchronize_session=False)
    ).all()
    not_recent_delivery = or_(Delivery.relayed_at.is_(None), Delivery.relayed_at < cutoff)
    overdue_deliveries = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at < cutoff,
            not_recent_delivery,
        )
        .order_by(Delivery.id)
        .limit(batch)
    )
    delivery_ids = db.session.scalars(
        update(Delivery)
        .where(
            Delivery.id.in_(overdue_deliveries),
            Delivery.status == DeliveryStatus.PENDING,
            not_recent_delivery,
        )
        .values(relayed_at=now)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    for event_id in sorted(event_ids):
        enqueue_after_commit("outbox.process", event_id)
    for delivery_id in sorted(delivery_ids):
        enqueue_after_commit("notifications.deliver", delivery_id)
    handed = len(event_ids) + len(delivery_ids)
    if handed:
        log.info("relay handed over %d event(s) and delivery(ies) left behind", handed)
    return handed


class ClaimedEvent(NamedTuple):
    id: int
    kind: str
    payload: dict[str, Any]


# Built once, on the table rather than the entity: the session runs it as plain SQL, without the
# ORM's bulk-update machinery (which costs more CPU than the round trip itself).
_events = cast(Table, OutboxEvent.__table__)
_CLAIM = (
    update(_events)
    .where(_events.c.id == bindparam("event_id"), _events.c.processed_at.is_(None))
    .values(processed_at=bindparam("now", type_=_events.c.processed_at.type))
    .returning(_events.c.id, _events.c.kind, _events.c.payload)
)


def claim(event_id: int) -> ClaimedEvent | None:
    """Mark the event processed in this transaction; None if another run already did."""
    # One round trip: the conditional update returns what the caller needs of the row it claimed
    # (plain columns: no ORM object to build and track).
    row = db.session.execute(_CLAIM, {"event_id": event_id, "now": utcnow()}).one_or_none()
    return None if row is None else ClaimedEvent(row.id, row.kind, row.payload)
