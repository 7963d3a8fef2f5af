"""Processing outbox events, and the relay that hands over whatever was left behind."""

from __future__ import annotations

from celery import shared_task

from services import notifications, outbox
from services.db import db
from workers.notifications import schedule_retry, send_claimed

# Emails an event's own task sends right after its fan-out commits: one broker trip less for the
# first recipient; the others go to `notifications.deliver` and are sent in parallel. One only:
# a delivery made already claimed is never resent on its own, so a worker killed mid-task
# should hold as few of them as possible.
SEND_NOW_MAX = 1


@shared_task(name="outbox.process", acks_late=True)
def process(event_id: int) -> int:
    """Fan one event out and send its first emails; a second run (redelivery, relay) finds the
    event claimed and does nothing."""
    result = notifications.fan_out(event_id, send_now_max=SEND_NOW_MAX)
    db.session.commit()  # the claim is durable before any SMTP conversation starts
    for delivery_id in result.send_now:
        retry_in = send_claimed(delivery_id, result.emails.get(delivery_id))
        if retry_in is not None:
            schedule_retry(delivery_id, retry_in)
    return result.made


@shared_task(name="outbox.relay", acks_late=True)
def relay() -> int:
    """Beat job: hand over overdue events and deliveries (broker was down, a worker died)."""
    handed = outbox.relay()
    db.session.commit()
    return handed
