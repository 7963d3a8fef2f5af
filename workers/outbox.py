from __future__ import annotations

from celery import shared_task

from services import notifications, outbox
from services.db import db


@shared_task(name="outbox.process", acks_late=True, max_retries=5, default_retry_delay=5)
def process(event_id: int) -> int:
    made = notifications.process_event(event_id)
    db.session.commit()
    return made


@shared_task(name="outbox.relay", acks_late=True, ignore_result=True)
def relay() -> int:
    handed = outbox.relay()
    db.session.commit()
    return handed
