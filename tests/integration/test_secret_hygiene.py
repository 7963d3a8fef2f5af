"""Sign-in secrets (coach invitation and password-reset links) stay out of the database: the
invite's secret is derived, never stored or put in an event; a sent email that carried one keeps
no copy of it. Real SMTP (aiosmtpd) and the worker's own send path, on SQLite and PostgreSQL, each
test rolled back."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

import pytest
from sqlalchemy import select, text

from services import accounts, mail, notifications, outbox
from services.accounts import coaches
from services.db import db
from services.models import CoachInvite, Delivery, Notification, OutboxEvent, User
from tests.support_auth import post_form, sign_in
from workers.notifications import send_claimed

PASSPHRASE = "a long new coach passphrase"
TABLES = ("outbox_event", "notification", "delivery", "coach_invite", "staff_action")


@pytest.fixture
def smtp(app, smtp_server, monkeypatch):
    """The app sends through a real SMTP server, in this process (the worker's send path)."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server[1])
    yield smtp_server[0]
    mail.close_connection()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fan_out(event: OutboxEvent) -> None:
    """What the worker does with an event after the commit (with nothing cached in the session,
    so the handler reads the invite back from the database)."""
    db.session.commit()
    db.session.expire_all()
    notifications.fan_out(event.id)
    db.session.commit()


def events_of(kind: str) -> list[OutboxEvent]:
    return list(
        db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id)
        )
    )


def the_delivery(user_id: int, kind: str) -> Delivery:
    return db.session.scalars(
        select(Delivery).where(Delivery.user_id == user_id, Delivery.kind == kind)
    ).one()


def send(delivery: Delivery) -> float | None:
    """Claim and send a delivery as the `notifications.deliver` task does."""
    outgoing = notifications.claim_email(delivery.id)
    assert outgoing is not None
    db.session.commit()
    retry_in = send_claimed(delivery.id, outgoing)
    db.session.refresh(delivery)
    return retry_in


def rows_containing(needle: str) -> list[str]:
    """Every row of the tables that could hold a secret whose text contains ``needle``."""
    found = []
    for table in TABLES:
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            if needle in " ".join(str(value) for value in row):
                found.append(f"{table}: {row}")
    return found


def emailed_link(message, path: str) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(rf"http://testserver({re.escape(path)}[A-Za-z0-9_\-.]+)", body)
    assert match, body
    assert match.group(1) in message.get_body(("html",)).get_content()
    return match.group(1)


def invite_over_http(staff_client, email: str) -> User:
    response = post_form(
        staff_client,
        "/staff/coaches/invite",
        {
            "name": "Nia New",
            "email": email,
            "expertise": "ml",
            "review_capacity": "3",
            "timezone": "UTC",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(select(User).where(User.email == email)).one()


def test_secret_kinds_are_the_invitation_and_the_reset():
    secret = {k.name for k in notifications.kinds() if k.secret}
    assert secret == {"coach_invite", "password_reset"}


def test_an_invite_keeps_no_secret_in_the_database_and_its_emailed_link_works_once(
    app, client, make_user, smtp
):
    staff_client = app.test_client()  # staff stay signed in there; the coach uses ``client``
    sign_in(staff_client, make_user("staff", name="Sam Staff").email)
    coach = invite_over_http(staff_client, "nia@example.com")
    invite = db.session.scalars(select(CoachInvite).where(CoachInvite.user_id == coach.id)).one()
    [event] = events_of("staff.coach_invited")
    assert event.payload == {"invite_id": invite.id, "user_id": coach.id}

    fan_out(event)
    notice = db.session.scalars(select(Notification).where(Notification.user_id == coach.id)).one()
    assert notice.kind == "coach_invite" and notice.link is None
    assert "/staff/invite/" not in notice.body + notice.title
    delivery = the_delivery(coach.id, "coach_invite")
    assert "/staff/invite/" in delivery.text_body  # unsent: kept, so that it can be sent
    assert send(delivery) is None

    assert delivery.status == "sent"
    assert delivery.text_body == delivery.html_body == notifications.REDACTED_BODY
    [message] = smtp.to("nia@example.com")
    link = emailed_link(message, "/staff/invite/")
    secret = link.rsplit("/", 1)[1]
    assert len(secret) >= 40
    assert invite.token_hash == hashlib.sha256(secret.encode()).hexdigest() != secret
    assert rows_containing(secret) == []
    assert rows_containing("/staff/invite/") == []

    # Staff's lists of deliveries still show the sent (redacted) email.
    page = staff_client.get("/staff/deliveries?status=sent")
    assert page.status_code == 200 and "nia@example.com" in page.get_data(as_text=True)

    assert "Welcome, Nia New" in client.get(link).get_data(as_text=True)
    assert post_form(client, link, {"password": PASSPHRASE}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, coach.id).active is True
    assert accounts.authenticate("nia@example.com", PASSPHRASE).user.id == coach.id
    assert client.get(link).status_code == 404  # once


def test_the_api_shows_a_redacted_delivery(client, make_user, token_for, smtp):
    staff_user = make_user("staff", name="Sam Staff")
    user = make_user(email=f"reset-{uuid.uuid4().hex[:8]}@example.com")
    assert accounts.request_password_reset(user.email)
    fan_out(events_of("account.password_reset")[0])
    delivery = the_delivery(user.id, "password_reset")
    send(delivery)
    headers = bearer(token_for(staff_user))

    shown = client.get(f"/api/v1/deliveries/{delivery.id}", headers=headers)
    listed = client.get("/api/v1/deliveries?status=sent", headers=headers)

    assert shown.status_code == 200 and shown.json["status"] == "sent"
    assert delivery.id in [d["id"] for d in listed.json["items"]]
    assert "reset-password" not in shown.get_data(as_text=True) + listed.get_data(as_text=True)


def test_an_invite_recorded_the_old_way_still_gets_its_email(app, make_user, smtp):
    staff_user = make_user("staff", name="Sam Staff")
    coach, invite = coaches.invite_coach(
        staff_user, coaches.Invitation("old@example.com", "Old Way")
    )
    # As the code before derived secrets did: a random secret, its hash, the secret in the event.
    old_secret = secrets.token_urlsafe(32)
    invite.token_hash = hashlib.sha256(old_secret.encode()).hexdigest()
    event = outbox.record(
        "staff.coach_invited", invite_id=invite.id, user_id=coach.id, token=old_secret
    )

    fan_out(event)
    delivery = the_delivery(coach.id, "coach_invite")
    assert send(delivery) is None

    [message] = smtp.to("old@example.com")
    assert emailed_link(message, "/staff/invite/") == f"/staff/invite/{old_secret}"
    notice = db.session.scalars(select(Notification).where(Notification.user_id == coach.id)).one()
    assert notice.link is None
    assert delivery.text_body == notifications.REDACTED_BODY
    assert coaches.accept_invite(old_secret, PASSPHRASE).active is True


def test_a_sent_reset_email_is_redacted_and_a_failed_one_keeps_its_link(
    app, client, make_user, smtp, monkeypatch
):
    sent_to = make_user(email=f"reset-{uuid.uuid4().hex[:8]}@example.com")
    failed_to = make_user(email=f"reset-{uuid.uuid4().hex[:8]}@example.com")
    for user in (sent_to, failed_to):
        assert accounts.request_password_reset(user.email)
    for event in events_of("account.password_reset"):
        fan_out(event)
    sent = the_delivery(sent_to.id, "password_reset")
    failed = the_delivery(failed_to.id, "password_reset")

    assert send(sent) is None
    smtp.refuse_forever = True
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 1)
    assert send(failed) is None

    assert sent.status == "sent"
    assert sent.text_body == sent.html_body == notifications.REDACTED_BODY
    [message] = smtp.to(sent_to.email)
    link = emailed_link(message, "/reset-password/")
    assert rows_containing(link.rsplit("/", 1)[1]) == []
    # A failed one keeps its body: staff may retry it (the link still expires on its own).
    assert failed.status == "failed"
    assert "/reset-password/" in failed.text_body and "/reset-password/" in (failed.html_body or "")
    # The emailed link still works after its copy was removed.
    done = post_form(client, link, {"password": PASSPHRASE, "confirm": PASSPHRASE})
    assert done.status_code == 302
    db.session.expire_all()
    assert accounts.authenticate(sent_to.email, PASSPHRASE).user.id == sent_to.id


def test_an_email_without_a_secret_keeps_its_body_once_sent(make_user, smtp):
    email = f"welcome-{uuid.uuid4().hex[:8]}@example.com"
    learner = accounts.register_learner(
        accounts.Registration(name="Wren Welcome", email=email, password="a long passphrase")
    )
    [event] = events_of("account.registered")
    fan_out(event)
    delivery = the_delivery(learner.id, "welcome")

    assert send(delivery) is None

    assert delivery.status == "sent"
    assert delivery.text_body.startswith("Hello Wren Welcome")
    assert "http://testserver/dashboard" in (delivery.html_body or "")
