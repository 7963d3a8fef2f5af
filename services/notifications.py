"""Turning domain events into in-app notifications and emails, each at most once per recipient."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from services import mail, outbox
from services.db import db, utcnow
from services.models import Delivery, DeliveryStatus, Notification, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """What one recipient should be told about one event."""

    user: User
    kind: str
    title: str
    body: str
    link: str | None = None
    email_template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    ics: str | None = None


Handler = Callable[[dict[str, Any]], list[Message]]
_handlers: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that says who is told what about events of ``kind``."""

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


def base_url() -> str:
    return str(current_app.config["BASE_URL"])


def process_event(event_id: int) -> int:
    """Fan an outbox event out to notifications and deliveries; returns how many were made."""
    event = outbox.claim(event_id)
    if event is None:
        return 0
    handler = _handlers.get(event.kind)
    if handler is None:
        log.warning("no handler for outbox event %s (%s)", event.id, event.kind)
        return 0
    made = 0
    for message in handler(event.payload):
        key = f"event:{event.id}:{message.kind}"
        db.session.add(
            Notification(
                user_id=message.user.id,
                kind=message.kind,
                title=message.title,
                body=message.body,
                link=message.link,
                dedupe_key=key,
            )
        )
        made += 1
        if message.email_template:
            rendered = mail.render(
                message.email_template,
                user=message.user,
                base_url=base_url(),
                link=message.link,
                **message.context,
            )
            delivery = Delivery(
                dedupe_key=f"{key}:user:{message.user.id}:email",
                user_id=message.user.id,
                kind=message.kind,
                to_address=message.user.email,
                subject=rendered.subject,
                text_body=rendered.text,
                html_body=rendered.html,
                ics=message.ics,
            )
            db.session.add(delivery)
            db.session.flush()
            outbox.enqueue_after_commit("notifications.deliver", delivery.id)
    db.session.flush()
    return made


def claim_delivery(delivery_id: int) -> bool:
    """Take a pending delivery for sending; False if it was sent, failed or taken already."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENDING, claimed_at=utcnow(), attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def send_delivery(delivery_id: int) -> None:
    """Send a claimed delivery and mark it sent. Raises smtplib.SMTPException or OSError."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.SENDING:
        return
    settings = mail.MailSettings.from_config(current_app.config)
    message = mail.compose(
        settings,
        to=delivery.to_address,
        subject=delivery.subject,
        text=delivery.text_body,
        html=delivery.html_body,
        ics=delivery.ics,
        key=delivery.dedupe_key,
    )
    mail.send(settings, message)
    delivery.status = DeliveryStatus.SENT
    delivery.sent_at = utcnow()
    delivery.last_error = None
    db.session.flush()


def record_failure(delivery_id: int, error: str, *, final: bool) -> None:
    """After a failed send: back to pending for the next try, or failed for staff to see."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        return
    delivery.status = DeliveryStatus.FAILED if final else DeliveryStatus.PENDING
    delivery.last_error = error[:2000]
    db.session.flush()


def unread_count(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )
