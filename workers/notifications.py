"""Sending email deliveries, with retries; sweeping deliveries a dead worker left mid-send."""

from __future__ import annotations

import logging
import smtplib
from email.message import Message

from celery import shared_task
from celery.app.task import Task
from celery.signals import worker_process_shutdown

from services import mail, notifications, outbox
from services.db import db

log = logging.getLogger(__name__)


def send_claimed(delivery_id: int, outgoing: notifications.Outgoing | None = None) -> float | None:
    """Send a delivery this worker has claimed (committed as "sending"), and commit the outcome.
    ``outgoing`` is what the email says when the claim already read it (no need to read it back).

    Returns the seconds until the next try after a failure that may be retried, else None."""
    if outgoing is not None:
        message: Message | None = notifications.compose_email(outgoing)
    else:
        message = notifications.outgoing_email(delivery_id)
        # End the read before the SMTP conversation: on SQLite, a transaction that read and then
        # writes after another writer committed fails as locked.
        db.session.commit()
    if message is None:
        return None
    try:
        notifications.transmit(message)
    except (smtplib.SMTPException, OSError) as exc:
        retry_in = notifications.record_failure(
            delivery_id, repr(exc), final=True if notifications.is_permanent(exc) else None
        )
        db.session.commit()
        return retry_in
    notifications.mark_sent(delivery_id)
    db.session.commit()
    return None


def schedule_retry(delivery_id: int, countdown: float) -> None:
    """Queue the next try; if the broker will not take it, the relay does once it is due."""
    try:
        deliver.apply_async((delivery_id,), countdown=countdown)
    except Exception:
        log.warning("could not queue a retry of delivery %s; the relay will", delivery_id)
        outbox.handover_failed(
            [outbox.Handover("notifications.deliver", (delivery_id,), "delivery", delivery_id)]
        )


@shared_task(name="notifications.deliver", bind=True, acks_late=True, max_retries=None)
def deliver(self: Task, delivery_id: int) -> None:
    """Send one delivery at most once: claimed (committed) before the SMTP conversation starts."""
    outgoing = notifications.claim_email(delivery_id)
    if outgoing is None:
        db.session.rollback()
        return  # sent, failed, in another worker's hands, or not due yet (the due task sends it)
    db.session.commit()  # the claim is durable before the SMTP conversation starts
    retry_in = send_claimed(delivery_id, outgoing)
    if retry_in is not None:
        # The countdown is capped below the broker's visibility timeout (config checks it); if
        # this retry is lost, the relay hands the delivery over once it is overdue.
        raise self.retry(countdown=retry_in)


@shared_task(name="notifications.sweep", acks_late=True)
def sweep() -> int:
    """Mark deliveries stuck in "sending" past the hard time limit as failed, for staff."""
    marked = notifications.fail_stuck()
    db.session.commit()
    return marked


@worker_process_shutdown.connect
def _close_smtp(**_: object) -> None:
    mail.close_connection()  # each pool process keeps one SMTP connection open between emails
