"""The transactional outbox: events and jobs recorded in the session, handed to Celery after commit.

A service calls ``record()`` (an event) or ``enqueue_after_commit()`` (a job) inside the
transaction that makes the change; both write a row in that transaction. Nothing reaches the
broker unless it commits; a rollback drops it. After the commit each is handed to the broker; a
hand-over that fails (Redis down) is marked on its row at once, and the relay (a beat job, every
few seconds) hands it over at its next run, with no grace period. The relay also hands over what a
dead process left behind: a row still waiting a grace period after its hand-over, and a job whose
worker's lease lapsed (see ``claim_job``). This is the one recovery path for everything handed to
the workers: events, email deliveries, and jobs (résumé analysis, routing, ...).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, cast

from flask import Flask, current_app, has_app_context
from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from services import logs
from services.db import db, utcnow
from services.models import Delivery, DeliveryStatus, OutboxEvent, OutboxJob

log = logging.getLogger(__name__)

_PENDING = "outbox_after_commit"
_EXTENSION = "outbox.dispatcher"
# The message header that names a job's row; the worker claims, renews and deletes that row.
JOB_HEADER = "outbox_job"
# The id of the request that caused a task, in the task's headers (services.logs).
REQUEST_HEADER = "request_id"
# A job given up after this many claims (each a run that died, or raised, before finishing).
MAX_JOB_ATTEMPTS = 10


class Handover(NamedTuple):
    """One message for the broker: ``task(*args)``, and the outbox row it stands for."""

    task: str
    args: tuple[Any, ...]
    table: str  # "job", "event" or "delivery"
    row_id: int
    # The web request (or task) that caused it, for the logs; the relay's hand-overs have none.
    request_id: str | None = None

    @property
    def headers(self) -> dict[str, Any]:
        headers: dict[str, Any] = {JOB_HEADER: self.row_id} if self.table == "job" else {}
        if self.request_id:
            headers[REQUEST_HEADER] = self.request_id
        return headers


# Publishes one hand-over; raises if the broker did not take it (or, when it publishes in the
# background, calls ``handover_failed`` itself).
Dispatcher = Callable[[Handover], None]


def set_dispatcher(app: Flask, dispatcher: Dispatcher | None) -> None:
    """Install how jobs reach the workers; the web app and the workers set one."""
    app.extensions[_EXTENSION] = dispatcher


def _current_dispatcher() -> Dispatcher | None:
    if not has_app_context():
        return None
    dispatcher: Dispatcher | None = current_app.extensions.get(_EXTENSION)
    return dispatcher


def _setting(name: str, default: float) -> float:
    return float(current_app.config.get(name, default)) if has_app_context() else default


def relay_grace() -> dt.timedelta:
    """How long an event, delivery or job may sit past its hand-over before the relay hands it
    over again (a hand-over known to have failed does not wait)."""
    return dt.timedelta(seconds=_setting("OUTBOX_RELAY_AFTER_SECONDS", 30))


def job_lease() -> dt.timedelta:
    """How long a worker holds a job it claimed without renewing; its heartbeat renews it."""
    return dt.timedelta(seconds=_setting("OUTBOX_JOB_LEASE_SECONDS", 20))


def _queue(handover: Handover) -> None:
    handover = handover._replace(request_id=logs.request_id.get())
    db.session.info.setdefault(_PENDING, []).append(handover)


def enqueue_after_commit(task_name: str, *args: Any) -> OutboxJob:
    """Run the task ``task_name(*args)`` once the current transaction has committed: a job row in
    this transaction, handed to the broker after the commit, deleted by the worker that finishes
    it. Tasks must be safe to run twice (a lease that lapsed on a live worker hands it over)."""
    now = utcnow()
    job = OutboxJob(
        task=task_name, args=list(args), created_at=now, relay_after=now + relay_grace()
    )
    db.session.add(job)
    db.session.flush()
    _queue(Handover(task_name, tuple(args), "job", job.id))
    return job


def deliver_after_commit(delivery_id: int) -> None:
    """Hand the delivery (its row is its own record) to the workers after this commit."""
    _queue(Handover("notifications.deliver", (delivery_id,), "delivery", delivery_id))


def record(kind: str, **payload: Any) -> OutboxEvent:
    """Record a domain event in the current transaction; it is processed after the commit."""
    event = OutboxEvent(kind=kind, payload=payload)
    db.session.add(event)
    db.session.flush()
    _queue(Handover("outbox.process", (event.id,), "event", event.id))
    return event


@sa_event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    handovers: list[Handover] = session.info.pop(_PENDING, [])
    if not handovers:
        return
    dispatcher = _current_dispatcher()
    if dispatcher is None:
        log.info("no dispatcher installed; the relay will hand over %d job(s)", len(handovers))
        return
    failed = []
    for handover in handovers:
        try:
            dispatcher(handover)
        except Exception:  # the broker is down: marked, the relay hands it over at its next run
            log.warning("could not hand %s%r to the broker; the relay will", *handover[:2])
            failed.append(handover)
    if failed:
        handover_failed(failed)


@sa_event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)


def handover_failed(handovers: Iterable[Handover]) -> None:
    """Mark rows whose hand-over the broker refused, so the relay hands them over at its next run.

    Its own short transaction (the caller's has committed, or runs in another thread); needs an
    app context. A mark that cannot be written leaves the row to the grace period."""
    by_table: dict[str, list[int]] = {}
    for handover in handovers:
        by_table.setdefault(handover.table, []).append(handover.row_id)
    now = utcnow()
    try:
        with db.engine.begin() as conn:
            if ids := by_table.get("job"):
                conn.execute(
                    update(OutboxJob)
                    .where(OutboxJob.id.in_(ids), OutboxJob.claimed_at.is_(None))
                    .values(relay_after=now)
                )
            if ids := by_table.get("event"):
                conn.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(ids), OutboxEvent.processed_at.is_(None))
                    .values(handover_failed_at=now)
                )
            if ids := by_table.get("delivery"):
                conn.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.PENDING)
                    .values(handover_failed_at=now)
                )
    except Exception:
        log.exception("could not mark failed hand-overs; the relay takes them after its grace")


def relay(older_than: dt.timedelta | None = None, batch: int = 500) -> int:
    """Hand over what is due: rows whose hand-over failed (at once), rows still waiting
    ``older_than`` (the grace) after they were due or last handed over, and jobs whose worker's
    lease lapsed (it died).

    Each one handed over is stamped, and handed over again only after another grace period, so a
    backlog that a slow worker is still working through is not flooded with copies; a delivery
    waiting out its backoff is not due yet. Safe to run twice or concurrently (the stamp is a
    conditional update). Returns how many were handed over."""
    grace = relay_grace() if older_than is None else older_than
    now = utcnow()
    cutoff = now - grace
    # Each batch is picked and stamped in one statement: two relays at once hand over each row
    # once, and on SQLite the transaction writes first (a read-then-write one may fail as locked).
    event_due = or_(
        OutboxEvent.handover_failed_at.is_not(None),
        (OutboxEvent.created_at < cutoff)
        & or_(OutboxEvent.relayed_at.is_(None), OutboxEvent.relayed_at < cutoff),
    )
    overdue_events = (
        select(OutboxEvent.id)
        .where(OutboxEvent.processed_at.is_(None), event_due)
        .order_by(OutboxEvent.id)
        .limit(batch)
    )
    event_ids = db.session.scalars(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(overdue_events), OutboxEvent.processed_at.is_(None), event_due)
        .values(relayed_at=now, handover_failed_at=None)
        .returning(OutboxEvent.id)
        .execution_options(synchronize_session=False)
    ).all()
    delivery_due = or_(
        Delivery.handover_failed_at.is_not(None) & (Delivery.next_attempt_at <= now),
        (Delivery.next_attempt_at < cutoff)
        & or_(Delivery.relayed_at.is_(None), Delivery.relayed_at < cutoff),
    )
    overdue_deliveries = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PENDING, delivery_due)
        .order_by(Delivery.id)
        .limit(batch)
    )
    delivery_ids = db.session.scalars(
        update(Delivery)
        .where(
            Delivery.id.in_(overdue_deliveries),
            Delivery.status == DeliveryStatus.PENDING,
            delivery_due,
        )
        .values(relayed_at=now, handover_failed_at=None)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    job_due = (OutboxJob.failed_at.is_(None)) & (OutboxJob.relay_after <= now)
    overdue_jobs = select(OutboxJob.id).where(job_due).order_by(OutboxJob.id).limit(batch)
    # A lapsed claim is released: the worker that takes the new message claims it afresh.
    jobs = db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id.in_(overdue_jobs), job_due)
        .values(relay_after=now + grace, claimed_at=None)
        .returning(OutboxJob.id, OutboxJob.task, OutboxJob.args)
        .execution_options(synchronize_session=False)
    ).all()
    for event_id in sorted(event_ids):
        _queue(Handover("outbox.process", (event_id,), "event", event_id))
    for delivery_id in sorted(delivery_ids):
        deliver_after_commit(delivery_id)
    for job_id, task, args in sorted(jobs):
        _queue(Handover(task, tuple(args), "job", job_id))
    handed = len(event_ids) + len(delivery_ids) + len(jobs)
    if handed:
        log.info("relay handed over %d event(s), delivery(ies) and job(s)", handed)
    return handed


# --- a worker's hold on a job ---------------------------------------------------------------------
#
# Why a lease with a heartbeat (and not the broker's visibility timeout): Redis gives an
# unacknowledged message back only after the visibility timeout, which must exceed the longest a
# task may run (the hard time limit, minutes) or a live worker's task would run twice; a worker
# that died would hold its jobs that long. Instead the worker that takes a job claims its row with
# a short lease (OUTBOX_JOB_LEASE_SECONDS) and renews it while the task runs (a heartbeat every
# quarter lease); a worker that dies stops renewing, and the relay hands the job over again within
# one lease and one relay interval of its death, whatever the task's time limit. A claim held by a
# live worker makes a second copy of the message a no-op, so a job runs in one place at a time;
# tasks are idempotent besides (a finished analysis, a routed résumé are no-ops), and emails are
# claimed per delivery, at most once, so nothing is sent twice.


def claim_job(job_id: int) -> int | None:
    """Claim the job for this worker in this transaction (commit it before running the task).

    Returns the attempt number (the claim's token), or None when there is nothing to run: the job
    finished (its row is gone), another live worker holds it, or it was given up."""
    now = utcnow()
    attempt = db.session.scalar(
        update(OutboxJob)
        .where(
            OutboxJob.id == job_id,
            OutboxJob.failed_at.is_(None),
            or_(OutboxJob.claimed_at.is_(None), OutboxJob.relay_after <= now),
        )
        .values(claimed_at=now, relay_after=now + job_lease(), attempts=OutboxJob.attempts + 1)
        .returning(OutboxJob.attempts)
        .execution_options(synchronize_session=False)
    )
    if attempt is not None and attempt > MAX_JOB_ATTEMPTS:
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id)
            .values(failed_at=now)
            .execution_options(synchronize_session=False)
        )
        log.error("outbox job %s given up after %s attempts", job_id, MAX_JOB_ATTEMPTS)
        return None
    return attempt


def renew_job(job_id: int, attempt: int) -> bool:
    """The heartbeat: extend this worker's lease (its own transaction; any thread with an app
    context). False if the claim is no longer this worker's."""
    with db.engine.begin() as conn:
        result = conn.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id, OutboxJob.attempts == attempt)
            .values(relay_after=utcnow() + job_lease())
        )
    return bool(getattr(result, "rowcount", 0))


def finish_job(job_id: int) -> None:
    """The job is done: its row goes (in this transaction); later copies of it do nothing."""
    db.session.execute(
        delete(OutboxJob).where(OutboxJob.id == job_id).execution_options(synchronize_session=False)
    )


def release_job(job_id: int, attempt: int) -> None:
    """The run raised: let the relay hand the job over again after the grace period (a Celery
    retry of the same message may claim it before)."""
    db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.attempts == attempt)
        .values(claimed_at=None, relay_after=utcnow() + relay_grace())
        .execution_options(synchronize_session=False)
    )


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
