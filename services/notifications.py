"""Turning domain events into in-app notifications and emails, each at most once per recipient.

A domain module registers each kind of notification with its email template
(``register_kind("resume_checked", ..., email_template="resume_checked")``), and a handler per
event (``@handles("booking.confirmed")``) that returns the ``Message``s to send. ``fan_out``
(run by a worker after the commit) turns them into ``Notification`` rows (in-app, always) and
``Delivery`` rows (email, rendered from the kind's template, unless the recipient turned that kind
off). Every kind is emailed: a kind cannot be registered without a template, and a message of a
kind never registered is refused, so what the preferences offer is what is sent.

Notifications and deliveries carry a unique key per (recipient, event, kind), so a task that runs
twice changes the world once. A delivery is claimed before it is sent and never sent again once
claimed: a worker that dies mid-send leaves it "sending", and the sweep marks it failed for staff
to decide.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message as Email
from typing import Any, cast

from flask import current_app
from sqlalchemy import Select, Table, case, func, insert, select, update
from sqlalchemy.orm import selectinload

from services import mail, outbox
from services.access import require_staff
from services.db import db, utcnow
from services.errors import Conflict, NotFound, ValidationFailed
from services.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    Role,
    User,
)
from services.pagination import Page, paginate
from services.validation import is_id

log = logging.getLogger(__name__)


# --- kinds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of notification: what the preferences page calls it, who may get it, and the email
    template (``templates/email/<email_template>.{subject.txt,txt,html}``) every message of the
    kind is emailed with."""

    name: str
    label: str
    roles: tuple[str, ...]
    email_template: str
    description: str = ""
    # False for messages a user cannot opt out of (the welcome email comes before any choice).
    configurable: bool = True
    # True for emails that carry a sign-in secret (an invitation or reset link): their bodies are
    # replaced by ``REDACTED_BODY`` once sent, so the link does not outlive the email.
    secret: bool = False


_kinds: dict[str, Kind] = {}
_secret_kinds: set[str] = set()  # the names of the kinds with ``secret``, kept by register_kind


def register_kind(
    name: str,
    label: str,
    *,
    email_template: str,
    roles: Iterable[str] = (Role.LEARNER, Role.COACH, Role.STAFF),
    description: str = "",
    configurable: bool = True,
    secret: bool = False,
) -> Kind:
    """Declare a notification kind and the template its emails are rendered with (idempotent:
    the last registration wins). Raises ``jinja2.TemplateNotFound`` at import when the template
    lacks a part: no kind can be in-app only while the preferences offer it by email."""
    mail.require_template(email_template)
    kind = Kind(
        name=name,
        label=label,
        roles=tuple(str(r) for r in roles),
        email_template=email_template,
        description=description,
        configurable=configurable,
        secret=secret,
    )
    _kinds[name] = kind
    if secret:
        _secret_kinds.add(name)
    else:
        _secret_kinds.discard(name)
    return kind


def kinds() -> list[Kind]:
    return list(_kinds.values())


class UnknownKind(LookupError):
    """A handler named a kind of notification that was never registered (a programming error:
    its email would have no template and its recipients no preference)."""


def get_kind(name: str) -> Kind:
    """The registered kind ``name``. Raises UnknownKind."""
    try:
        return _kinds[name]
    except KeyError:
        raise UnknownKind(f"notification kind {name!r} is not registered") from None


def kinds_for(role: str) -> list[Kind]:
    """The kinds a user of ``role`` may choose email for, in a stable order."""
    return [k for k in _kinds.values() if k.configurable and role in k.roles]


# --- messages and handlers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """What one recipient should be told about one event: in-app, and by email with the kind's
    template rendered with ``context`` (plus ``user``, ``base_url`` and ``link``)."""

    user: User
    kind: str
    title: str
    body: str
    link: str | None = None
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


def staff_recipients() -> list[User]:
    """Every active staff member, for messages "to staff" (overdue reviews, unrouted résumés)."""
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.STAFF, User.active.is_(True)).order_by(User.id)
        )
    )


# --- preferences ---------------------------------------------------------------------------------


def _email_off(user_ids: Iterable[int], kind_names: Iterable[str]) -> set[tuple[int, str]]:
    ids, names = set(user_ids), set(kind_names)
    if not ids or not names:
        return set()
    rows = db.session.execute(
        select(NotificationPreference.user_id, NotificationPreference.kind).where(
            NotificationPreference.user_id.in_(ids),
            NotificationPreference.kind.in_(names),
            NotificationPreference.email.is_(False),
        )
    )
    return {(user_id, kind) for user_id, kind in rows}


def email_enabled(user_id: int, kind: str) -> bool:
    """Whether ``user_id`` wants email for ``kind``: on unless turned off; fixed kinds always."""
    known = _kinds.get(kind)
    if known is not None and not known.configurable:
        return True
    return (user_id, kind) not in _email_off([user_id], [kind])


def email_preferences(user: User) -> dict[str, bool]:
    """Email on or off for each kind the user's role may get (in-app is always on)."""
    names = [k.name for k in kinds_for(user.role)]
    off = _email_off([user.id], names)
    return {name: (user.id, name) not in off for name in names}


def set_email_preferences(user: User, choices: Mapping[str, bool]) -> dict[str, bool]:
    """Turn email on or off per kind; kinds not named keep theirs. Raises ValidationFailed."""
    allowed = {k.name for k in kinds_for(user.role)}
    unknown = sorted(set(choices) - allowed)
    if unknown:
        raise ValidationFailed(
            "Some kinds cannot be chosen.",
            {name: ["Not a kind of notification you can choose email for."] for name in unknown},
        )
    existing = {
        p.kind: p
        for p in db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for name, wanted in choices.items():
        row = existing.get(name)
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, kind=name, email=bool(wanted)))
        elif row.email != bool(wanted):
            row.email = bool(wanted)
    db.session.flush()
    return email_preferences(user)


# --- fan-out -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    """What ``fan_out`` made: in-app notifications, and the email deliveries to send."""

    made: int = 0
    # Created already claimed ("sending") in this transaction: the caller sends them right
    # after its commit, saving a trip through the broker.
    send_now: tuple[int, ...] = ()
    # Handed to `notifications.deliver` after the commit.
    queued: tuple[int, ...] = ()
    # What each delivery in ``send_now`` says, so the caller need not read it back.
    emails: Mapping[int, Outgoing] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery's email, as stored: ``compose_email`` turns it into the message."""

    to_address: str
    subject: str
    text_body: str
    html_body: str | None
    ics: str | None
    dedupe_key: str


_OUTGOING = ("to_address", "subject", "text_body", "html_body", "ics", "dedupe_key")


def compose_email(outgoing: Outgoing) -> Email:
    return mail.compose(
        mail.MailSettings.from_config(current_app.config),
        to=outgoing.to_address,
        subject=outgoing.subject,
        text=outgoing.text_body,
        html=outgoing.html_body,
        ics=outgoing.ics,
        key=outgoing.dedupe_key,
    )


_deliveries = cast(Table, Delivery.__table__)
_INSERT_NOTIFICATIONS = insert(cast(Table, Notification.__table__))
_INSERT_DELIVERIES = insert(_deliveries).returning(_deliveries.c.id, sort_by_parameter_order=True)


def fan_out(event_id: int, *, send_now_max: int = 0) -> FanOut:
    """Fan an outbox event out; the first ``send_now_max`` deliveries are made already claimed
    for the caller to send after its commit (at most once, like any claimed delivery), the rest
    are queued. Safe to run twice: the event is claimed in this transaction."""
    event = outbox.claim(event_id)
    if event is None:
        return FanOut()
    handler = _handlers.get(event.kind)
    if handler is None:
        log.warning("no handler for outbox event %s (%s)", event.id, event.kind)
        return FanOut()
    messages: list[Message] = []
    seen: set[tuple[int, str]] = set()
    for message in handler(event.payload):
        get_kind(message.kind)  # a kind never registered fails the event loudly, not silently
        if (message.user.id, message.kind) not in seen:  # one per recipient and kind
            seen.add((message.user.id, message.kind))
            messages.append(message)
    # Preferences matter only for kinds a user can turn off (the welcome email needs no query).
    choosable = [m for m in messages if _kinds[m.kind].configurable]
    email_off = _email_off({m.user.id for m in choosable}, {m.kind for m in choosable})
    now = utcnow()
    notification_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for message in messages:
        key = f"event:{event.id}:{message.kind}"
        notification_rows.append(
            {
                "user_id": message.user.id,
                "kind": message.kind,
                "title": message.title[:200],
                "body": message.body,
                "link": message.link,
                "dedupe_key": key,
                "created_at": now,
            }
        )
        if (message.user.id, message.kind) in email_off:
            continue
        # The context may give the email its own ``link`` (one kept out of the notification).
        rendered = mail.render(
            _kinds[message.kind].email_template,
            **{"user": message.user, "base_url": base_url(), "link": message.link}
            | message.context,
        )
        claimed = len(delivery_rows) < send_now_max
        delivery_rows.append(
            {
                "dedupe_key": f"{key}:user:{message.user.id}:email",
                "user_id": message.user.id,
                "kind": message.kind,
                "to_address": message.user.email,
                "subject": rendered.subject[:300],
                "text_body": rendered.text,
                "html_body": rendered.html,
                "ics": message.ics,
                "created_at": now,
                "next_attempt_at": now,
                "status": DeliveryStatus.SENDING if claimed else DeliveryStatus.PENDING,
                "claimed_at": now if claimed else None,
                "attempts": 1 if claimed else 0,
            }
        )
    # One INSERT per table for all recipients (the unique keys still refuse a second copy), as
    # Core statements built once: the ORM's unit of work costs more CPU than the round trips.
    if notification_rows:
        db.session.execute(_INSERT_NOTIFICATIONS, notification_rows)
    delivery_ids: list[int] = []
    if delivery_rows:
        delivery_ids = list(db.session.scalars(_INSERT_DELIVERIES, delivery_rows))
    send_now = delivery_ids[:send_now_max]
    queued = delivery_ids[send_now_max:]
    for delivery_id in queued:
        outbox.deliver_after_commit(delivery_id)
    emails = {
        delivery_id: Outgoing(**{name: row[name] for name in _OUTGOING})
        for delivery_id, row in zip(send_now, delivery_rows, strict=False)
    }
    return FanOut(
        made=len(notification_rows), send_now=tuple(send_now), queued=tuple(queued), emails=emails
    )


# --- sending -------------------------------------------------------------------------------------

# A task may arrive a moment before the time its backoff ends (clocks, timers): still on time.
_EARLY_TOLERANCE = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter between email attempts, and how many attempts in all."""

    base_seconds: float = 2.0
    max_seconds: float = 600.0
    max_attempts: int = 8

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        return cls(
            base_seconds=float(config["NOTIFY_RETRY_BASE_SECONDS"]),
            max_seconds=float(config["NOTIFY_RETRY_MAX_SECONDS"]),
            max_attempts=int(config["NOTIFY_MAX_ATTEMPTS"]),
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): "equal jitter",
        half fixed and half random, so delays grow and concurrent retries spread out."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def _claim(delivery_id: int, *columns: Any) -> Any:
    # On the table, not the entity: plain SQL, without the ORM's bulk-update machinery.
    now = utcnow()
    return db.session.execute(
        update(_deliveries)
        .where(
            _deliveries.c.id == delivery_id,
            _deliveries.c.status == DeliveryStatus.PENDING,
            _deliveries.c.next_attempt_at <= now + _EARLY_TOLERANCE,
        )
        .values(status=DeliveryStatus.SENDING, claimed_at=now, attempts=_deliveries.c.attempts + 1)
        .returning(*columns)
    ).one_or_none()


def claim_email(delivery_id: int) -> Outgoing | None:
    """Take a pending, due delivery for sending and return what its email says (the claim's own
    statement reads it); None if it was sent, failed, taken already or is still waiting out its
    backoff (then the task that is due, or the relay, sends it)."""
    row = _claim(delivery_id, *(_deliveries.c[name] for name in _OUTGOING))
    return None if row is None else Outgoing(**row._mapping)


def outgoing_email(delivery_id: int) -> Email | None:
    """The email of a claimed ("sending") delivery, composed; None if it is not claimed.

    Reads only: the caller ends the transaction before the SMTP conversation (on SQLite, a
    transaction that read and then writes after another writer committed fails as locked)."""
    delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.status != DeliveryStatus.SENDING:
        return None
    return compose_email(Outgoing(**{name: getattr(delivery, name) for name in _OUTGOING}))


def transmit(message: Email) -> None:
    """Hand the email to the SMTP server (or the development file sink). Raises SMTPException,
    OSError."""
    mail.send(mail.MailSettings.from_config(current_app.config), message)


REDACTED_BODY = "Removed after sending: this email carried a single-use link."


def mark_sent(delivery_id: int) -> None:
    """Mark a claimed delivery sent; a secret-carrying kind's bodies are replaced by
    ``REDACTED_BODY`` in the same statement (failed ones keep theirs, for a retry)."""
    values: dict[str, Any] = {
        "status": DeliveryStatus.SENT,
        "sent_at": utcnow(),
        "last_error": None,
    }
    if _secret_kinds:
        secret = _deliveries.c.kind.in_(sorted(_secret_kinds))
        values["text_body"] = case((secret, REDACTED_BODY), else_=_deliveries.c.text_body)
        values["html_body"] = case((secret, REDACTED_BODY), else_=_deliveries.c.html_body)
    db.session.execute(
        update(_deliveries)
        .where(_deliveries.c.id == delivery_id, _deliveries.c.status == DeliveryStatus.SENDING)
        .values(**values)
    )


def is_permanent(error: BaseException) -> bool:
    """An SMTP answer that no retry will change (5xx: no such mailbox, message refused)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return int(error.smtp_code) >= 500
    return False


def record_failure(
    delivery_id: int,
    error: str,
    *,
    final: bool | None = None,
    policy: RetryPolicy | None = None,
) -> float | None:
    """After a failed send: back to pending with a backoff, or failed for staff to see.

    Returns the seconds until the next try, or None when the delivery is now failed. Without
    ``final`` the attempts made so far decide (``policy.max_attempts``)."""
    # Write first, then read: the row is locked for this decision (and on SQLite the transaction
    # holds the write lock from the start, so its write cannot fail on a stale snapshot).
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )
    delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
    if delivery is None:
        return None
    policy = policy or RetryPolicy.from_config(current_app.config)
    now = utcnow()
    if final is None:
        final = delivery.attempts >= policy.max_attempts
    delivery.last_error = error[:2000]
    if final:
        delivery.status = DeliveryStatus.FAILED
        delivery.failed_at = now
        db.session.flush()
        log.warning(
            "delivery %s failed for good after %s attempt(s)", delivery.id, delivery.attempts
        )
        return None
    delay = policy.delay(delivery.attempts)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
    delivery.relayed_at = None
    db.session.flush()
    return delay


STUCK_ERROR = (
    "The worker stopped while sending this email, so it may or may not have gone out. It is not "
    "sent again on its own; check with the recipient before retrying."
)


def fail_stuck(older_than: dt.timedelta | None = None) -> int:
    """Mark deliveries left "sending" by a dead worker as failed (never resent automatically:
    they may have gone out). Safe to run twice; returns how many were marked."""
    if older_than is None:
        older_than = dt.timedelta(seconds=float(current_app.config["NOTIFY_STUCK_AFTER_SECONDS"]))
    now = utcnow()
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < now - older_than)
        .values(status=DeliveryStatus.FAILED, failed_at=now, last_error=STUCK_ERROR)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.warning("%d delivery(ies) stuck in sending marked failed for staff", count)
    return count


# --- staff: failed deliveries --------------------------------------------------------------------


# Ids beyond the database's integer range cannot exist; asking for one must answer 404, not fail.


def _real_id(value: int) -> bool:
    return is_id(value)


class DeliveryNotFailed(Conflict):
    code = "delivery_not_failed"


_DELIVERIES_STAFF_ONLY = "Only staff may see and retry email deliveries."


def list_deliveries(
    viewer: User, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
) -> Page[Delivery]:
    """Deliveries, newest first, optionally of one status. Raises Forbidden, ValidationFailed."""
    require_staff(viewer, _DELIVERIES_STAFF_ONLY)
    query: Select[tuple[Delivery]] = select(Delivery).options(
        selectinload(Delivery.user), selectinload(Delivery.retried_by)
    )
    if status is not None:
        if status not in {s.value for s in DeliveryStatus}:
            raise ValidationFailed.field("status", "Use pending, sending, sent or failed.")
        query = query.where(Delivery.status == status)
    return paginate(
        query,
        [(Delivery.created_at, "desc"), (Delivery.id, "desc")],
        limit=limit,
        cursor=cursor,
        key=lambda d: (d.created_at, d.id),
    )


def count_failed() -> int:
    return (
        db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.FAILED)
        )
        or 0
    )


def get_delivery(viewer: User, delivery_id: int) -> Delivery:
    """Raises Forbidden (not staff), NotFound."""
    require_staff(viewer, _DELIVERIES_STAFF_ONLY)
    delivery = (
        db.session.get(Delivery, delivery_id, populate_existing=True)
        if _real_id(delivery_id)
        else None
    )
    if delivery is None:
        raise NotFound("There is no such delivery.")
    return delivery


def retry_delivery(viewer: User, delivery_id: int) -> Delivery:
    """Send a failed delivery again (staff), once. Raises Forbidden, NotFound, DeliveryNotFailed."""
    require_staff(viewer, _DELIVERIES_STAFF_ONLY)
    if not _real_id(delivery_id):
        raise NotFound("There is no such delivery.")
    now = utcnow()
    # Conditional, so two staff pressing retry at once queue it once.
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.FAILED)
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            relayed_at=None,
            failed_at=None,
            retried_by_id=viewer.id,
            retried_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
    if delivery is None:
        raise NotFound("There is no such delivery.")
    if getattr(result, "rowcount", 0) != 1:
        raise DeliveryNotFailed(f"This email is {delivery.status}, not failed: nothing to retry.")
    outbox.deliver_after_commit(delivery.id)
    return delivery


# --- the notification centre ---------------------------------------------------------------------


def list_notifications(
    user_id: int, *, unread: bool = False, limit: int | None = None, cursor: str | None = None
) -> Page[Notification]:
    """The user's own in-app notifications, newest first. Raises ValidationFailed (cursor)."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return paginate(
        query,
        [(Notification.created_at, "desc"), (Notification.id, "desc")],
        limit=limit,
        cursor=cursor,
        key=lambda n: (n.created_at, n.id),
    )


def get_notification(user_id: int, notification_id: int) -> Notification:
    """The user's own notification. Raises NotFound (also for someone else's)."""
    notification = (
        db.session.get(Notification, notification_id) if _real_id(notification_id) else None
    )
    if notification is None or notification.user_id != user_id:
        raise NotFound("There is no such notification.")
    return notification


def mark_read(user_id: int, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again: no change). Raises NotFound."""
    notification = get_notification(user_id, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session="evaluate")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def unread_count(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )
