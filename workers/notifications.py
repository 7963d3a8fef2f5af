from __future__ import annotations

import random
import smtplib

from celery import shared_task
from celery.app.task import Task

from services import notifications
from services.db import db

MAX_RETRIES = 8


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped below the broker's visibility timeout."""
    return float(random.uniform(0, min(600, 2 ** (retries + 1))))


@shared_task(name="notifications.deliver", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def deliver(self: Task, delivery_id: int) -> None:
    if not notifications.claim_delivery(delivery_id):
        return  # sent, failed, or in another worker's hands already
    db.session.commit()
    try:
        notifications.send_delivery(delivery_id)
    except (smtplib.SMTPException, OSError) as exc:
        db.session.rollback()
        final = self.request.retries >= MAX_RETRIES
        notifications.record_failure(delivery_id, repr(exc), final=final)
        db.session.commit()
        if not final:
            raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
        return
    db.session.commit()
