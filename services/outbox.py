"""The transactional outbox: events and jobs recorded in the session, handed to Celery after commit.

A service calls ``record()`` (or ``enqueue_after_commit()``) inside the transaction that makes the
change. Nothing reaches the broker unless that transaction commits; a rollback drops it; the relay
(a beat job) hands over whatever a dead process or a stopped broker left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import select, update
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


def relay(older_than: dt.timedelta = dt.timedelta(seconds=30), batch: int = 500) -> int:
    """Hand over events and deliveries still waiting after ``older_than``. Safe to run twice."""
    cutoff = utcnow() - older_than
    event_ids = db.session.scalars(
        select(OutboxEvent.id)
        .where(OutboxEvent.processed_at.is_(None), OutboxEvent.created_at < cutoff)
        .order_by(OutboxEvent.id)
        .limit(batch)
    ).all()
    delivery_ids = db.session.scalars(
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.created_at < cutoff)
        .order_by(Delivery.id)
        .limit(batch)
    ).all()
    for event_id in event_ids:
        enqueue_after_commit("outbox.process", event_id)
    for delivery_id in delivery_ids:
        enqueue_after_commit("notifications.deliver", delivery_id)
    return len(event_ids) + len(delivery_ids)


def claim(event_id: int) -> OutboxEvent | None:
    """Mark the event processed in this transaction; None if another run already did."""
    result = db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.processed_at.is_(None))
        .values(processed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return db.session.get(OutboxEvent, event_id)
