"""What the preferences say is what the SMTP server receives, for every registered kind.

The walk records an event of each kind in the registry (a probe handler names the kind; real
handlers name theirs the same way) for a user whose preferences say email is on, runs it through
the functions the worker runs (the fan-out, then `send_claimed`) to a real SMTP server, and checks
that exactly those kinds arrive, once each, with the kind's own subject; a kind switched off by
email arrives in-app only. The résumé journey runs on a real worker: upload, checks, email."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

# Every domain module that registers kinds is imported, so the walk sees them all.
from services import accounts, mail, notifications, outbox
from services.accounts import coaches
from services.booking import messages as booking_messages
from services.db import db
from services.models import Delivery, Notification, Role, User
from services.notifications import Message
from services.resumes import messages as resume_messages
from tests.conftest import RUN_DIR, Mailbox, flush_dispatch
from workers.notifications import send_claimed

PROBE = "test.every_kind"
DOMAINS = (accounts, coaches, booking_messages, resume_messages)


def _context() -> dict[str, Any]:
    """Everything any email template reads (each takes what it needs), as plain values: the walk
    is about which emails go out and with which template, not about one domain's rows."""
    learner = SimpleNamespace(name="Lou Learner")
    coach = SimpleNamespace(name="Cam Coach")
    version = SimpleNamespace(
        number=2,
        filename="cv.pdf",
        analysis_error="The file has no text layer.",
        checks=[
            {"id": "length", "passed": True, "message": "One or two pages."},
            {"id": "contact", "passed": False, "message": "Add an email address."},
        ],
    )
    resume = SimpleNamespace(id=7, target_role="ML engineer", learner=learner, status="in_review")
    return {
        "resume": resume,
        "version": version,
        "assignment": SimpleNamespace(coach=coach, version=version),
        "review": SimpleNamespace(
            outcome="minor_changes", scores={"impact": 4, "clarity": 3}, summary="Solid."
        ),
        "booking": SimpleNamespace(
            notes="", interview_type=SimpleNamespace(cancel_cutoff_hours=24)
        ),
        "passed": 1,
        "type_name": "Coding",
        "when": "Mon 1 Jun 2026, 10:00-11:00 UTC",
        "old_when": "Fri 29 May 2026, 10:00 UTC",
        "proposed_when": "Tue 2 Jun 2026, 14:00-15:00 UTC",
        "proposal_message": "I am travelling that day; could we do Tuesday?",
        "respond_by": "Thu 28 May 2026, 10:00 UTC",
        "learner_reply": "Tuesday does not work for me.",
        "other_name": coach.name,
        "learner_name": learner.name,
        "coach_name": coach.name,
        "meeting_url": "https://meet.example.com/abc",
        "reason": "Something came up.",
        "is_learner": True,
        "locked": False,
        "change_until": "Sun 31 May 2026, 10:00 UTC",
        "cutoff_text": "24 hours",
        "lead": "in 1 hour",
        "deadline": "10:30 UTC",
        "message": "Booking is paused until 8 Jun after two missed sessions.",
        "lifted": False,
        "to_coach": False,
        "expires_local": "Tue 2 Jun 2026, 10:00 UTC",
        "due_local": "Fri 5 Jun 2026, 10:00 UTC",
        "expires_at": "5 Jun 2026, 10:00 UTC",
        "reset_link": "http://testserver/reset-password/secret",
        "ttl_minutes": 30,
        "back": False,
        "reply": "We moved your session to Friday.",
        "staff_name": "Sam Staff",
        "feed_name": "Day job",
        "answers": [{"question": "Target company", "shown": "Acme"}],
    }


@notifications.handles(PROBE)
def _probe(payload: dict[str, Any]) -> list[Message]:
    user = db.session.get(User, payload["user_id"])
    assert user is not None
    return [
        Message(
            user=user,
            kind=payload["notification_kind"],
            title=f"Probe: {payload['notification_kind']}",
            body="A notification of this kind.",
            link=f"{notifications.base_url()}/dashboard",
            context=_context(),
        )
    ]


@pytest.fixture
def smtp_app(app: Any, smtp_server: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The test app sending to the real SMTP server (not the development file sink)."""
    _, port = smtp_server
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    yield app
    mail.close_connection()


def _run_like_the_worker(db_session: Any, event_id: int) -> None:
    """What `outbox.process` and `notifications.deliver` do: fan out, commit, send the claimed."""
    result = notifications.fan_out(event_id, send_now_max=1000)
    db_session.commit()
    assert not result.queued
    for delivery_id in result.send_now:
        assert send_claimed(delivery_id, result.emails[delivery_id]) is None


def _user_for(make_user: Any, kind: notifications.Kind) -> Any:
    role = kind.roles[0]
    return make_user(role, email=f"{kind.name}-{uuid.uuid4().hex[:6]}@example.com")


def _token(db_session: Any, user: Any) -> str:
    secret, _ = accounts.issue_token(user, dt.timedelta(hours=1))
    db_session.commit()
    return secret


def _preferences(client: Any, token: str) -> dict[str, bool]:
    response = client.get(
        "/api/v1/notifications/preferences", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.json
    return dict(response.json["email"])


def _in_app(db_session: Any, user: Any) -> list[str]:
    return list(
        db_session.scalars(select(Notification.kind).where(Notification.user_id == user.id))
    )


def _switch_off(client: Any, db_session: Any, user: Any, kind: str) -> dict[str, bool]:
    response = client.put(
        "/api/v1/notifications/preferences",
        json={"email": {kind: False}},
        headers={"Authorization": f"Bearer {_token(db_session, user)}"},
    )
    assert response.status_code == 200, response.json
    return dict(response.json["email"])


def _notify(db_session: Any, user: Any, kind: str) -> None:
    event = outbox.record(PROBE, notification_kind=kind, user_id=user.id)
    db_session.commit()
    _run_like_the_worker(db_session, event.id)
    _run_like_the_worker(db_session, event.id)  # a redelivered task sends nothing more


def test_what_the_preferences_say_for_each_kind_is_what_the_smtp_server_receives(
    smtp_app, smtp_server, db_session, make_user, client
):
    mailbox, _ = smtp_server
    registered = notifications.kinds()
    # What the preferences say for a user of each role, before anyone changes anything.
    by_role = {
        role: _preferences(client, _token(db_session, make_user(role)))
        for role in (Role.LEARNER, Role.COACH, Role.STAFF)
    }
    users: dict[str, Any] = {}  # per kind, a recipient whose preferences say email is on
    says_email: set[str] = set()
    switched_off: dict[str, Any] = {}  # per choosable kind, a recipient who turned it off
    for kind in registered:
        user = users[kind.name] = _user_for(make_user, kind)
        if kind.configurable:
            # Offered by email to every role that may get it, and on until turned off.
            assert all(by_role[role].get(kind.name) is True for role in kind.roles), kind.name
            if _preferences(client, _token(db_session, user))[kind.name]:
                says_email.add(kind.name)
            quiet = switched_off[kind.name] = _user_for(make_user, kind)
            assert _switch_off(client, db_session, quiet, kind.name)[kind.name] is False
            _notify(db_session, quiet, kind.name)
        else:
            assert all(kind.name not in by_role[role] for role in kind.roles)  # always emailed
            says_email.add(kind.name)
        _notify(db_session, user, kind.name)

    assert says_email == {k.name for k in registered}
    received = {
        name: [m["Subject"] for m in mailbox.to(user.email)] for name, user in users.items()
    }
    assert {name for name, subjects in received.items() if subjects} == says_email
    for kind in registered:
        expected = mail.render(
            kind.email_template,
            user=users[kind.name],
            base_url="http://testserver",
            link="http://testserver/dashboard",
            **_context(),
        ).subject
        assert received[kind.name] == [expected], kind.name  # once, from the kind's template
        assert _in_app(db_session, users[kind.name]) == [kind.name]
    # Each kind has a template of its own: no two kinds' emails say the same.
    subjects = [s for subjects in received.values() for s in subjects]
    assert len(set(subjects)) == len(registered)
    # A kind switched off by email arrives in-app only.
    for name, quiet in switched_off.items():
        assert _in_app(db_session, quiet) == [name]
        assert not db_session.scalars(select(Delivery).where(Delivery.user_id == quiet.id)).all()
        assert mailbox.to(quiet.email) == [], name


def test_a_kind_that_was_never_registered_is_refused_not_sent_in_app_only(db_session, make_user):
    user = make_user("learner")
    event = outbox.record(PROBE, notification_kind="never_registered", user_id=user.id)
    db_session.commit()

    with pytest.raises(notifications.UnknownKind):
        notifications.fan_out(event.id)
    db_session.rollback()
    assert _in_app(db_session, user) == []


def test_a_kind_without_a_complete_email_template_cannot_be_registered():
    import jinja2

    with pytest.raises(jinja2.TemplateNotFound):
        notifications.register_kind(
            "test_in_app_only", "In-app only", email_template="no_such_template"
        )
    assert "test_in_app_only" not in {k.name for k in notifications.kinds()}


# --- the résumé journey on a real worker ---------------------------------------------------------


@pytest.fixture
def journey(live_app: Any, smtp_server: tuple[Mailbox, int], start_worker: Any) -> Iterator[Any]:
    _, port = smtp_server
    start_worker(mail_port=port, UPLOAD_DIR=str(RUN_DIR / "uploads"))
    with live_app.app_context():
        yield live_app
        db.session.remove()


def _learner(name: str) -> tuple[SimpleNamespace, str]:
    """A learner (its id and address: the request's session ends, the row object with it) and a
    bearer token."""
    user = accounts.create_user(
        email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com",
        password="correct horse battery",
        role=Role.LEARNER,
        name=name,
    )
    secret, _ = accounts.issue_token(user, dt.timedelta(hours=1))
    db.session.commit()
    return SimpleNamespace(id=user.id, email=user.email), secret


def _upload(app: Any, token: str) -> int:
    from tests.support_resumes import make_pdf

    response = app.test_client().post(
        "/api/v1/resumes",
        headers={"Authorization": f"Bearer {token}"},
        data={"target_role": "Data analyst", "file": (io.BytesIO(make_pdf()), "cv.pdf")},
        content_type="multipart/form-data",
    )
    db.session.remove()
    assert response.status_code == 201, response.json
    flush_dispatch(app)
    return int(response.json["id"])


def _wait_for_note(app: Any, user: SimpleNamespace, kind: str) -> Notification:
    from tests.support_notifications import wait_until

    def found() -> Notification | None:
        db.session.rollback()  # a fresh snapshot: the worker commits in another process
        return db.session.scalar(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )

    return wait_until(found, timeout=60, what=f"the {kind} notification")


@pytest.mark.worker
def test_a_learner_who_uploads_a_resume_is_emailed_the_checks_once_unless_turned_off(
    journey, smtp_server
):
    mailbox, _ = smtp_server
    learner, token = _learner("Rae Resume")
    quiet, quiet_token = _learner("Quinn Quiet")
    response = journey.test_client().put(
        "/api/v1/notifications/preferences",
        json={"email": {"resume_checked": False}},
        headers={"Authorization": f"Bearer {quiet_token}"},
    )
    db.session.remove()
    assert response.status_code == 200, response.json

    resume_id = _upload(journey, token)
    _upload(journey, quiet_token)

    mailbox.wait_for(lambda messages: any(m["To"] == learner.email for m in messages), timeout=60)
    note = _wait_for_note(journey, learner, "resume_checked")
    [message] = mailbox.to(learner.email)
    assert message["Subject"].startswith("Automated checks are ready: ")
    assert message["Subject"].endswith(' passed for "cv.pdf"')
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Hello Rae Resume")
    assert f"See the checks: http://testserver/learn/resumes/{resume_id}" in text
    html = message.get_body(("html",)).get_content()
    assert f'href="http://testserver/learn/resumes/{resume_id}"' in html
    assert note.link == f"http://testserver/learn/resumes/{resume_id}"
    # The worker records the delivery as sent after the SMTP server accepted it: wait for that.
    from tests.support_notifications import wait_until

    def recorded() -> list[Delivery] | None:
        db.session.rollback()
        rows = db.session.scalars(
            select(Delivery).where(
                Delivery.user_id == learner.id, Delivery.kind == "resume_checked"
            )
        ).all()
        return (
            list(rows)
            if rows and all(row.status not in ("pending", "sending") for row in rows)
            else None
        )

    [delivery] = wait_until(recorded, timeout=60, what="the delivery's outcome")
    assert delivery.status == "sent"

    # Turned off by email: told in-app, and the (absent) delivery is decided in the same
    # transaction as the notification.
    _wait_for_note(journey, quiet, "resume_checked")
    db.session.rollback()
    assert not db.session.scalars(
        select(Delivery).where(Delivery.user_id == quiet.id, Delivery.kind == "resume_checked")
    ).all()
    assert mailbox.to(quiet.email) == []
