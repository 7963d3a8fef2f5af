""" "Forgot your password?": the same answer for any address, an emailed single-use expiring link,
every session and token ended by the reset, two-factor kept, and the requests rate-limited."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import select

from services import accounts, notifications
from services.db import db
from services.errors import InvalidCredentials
from services.models import ApiToken, Delivery, Notification, OutboxEvent, User
from tests.support_auth import csrf_token, post_form, sign_in

NEW_PASSWORD = "violet kettle mountain"


def reset_events(user_id: int) -> list[OutboxEvent]:
    rows = db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == "account.password_reset")
    )
    return [e for e in rows if e.payload.get("user_id") == user_id]


def emailed_link(user: User) -> str:
    """Fan the reset event out (what the worker does) and read the link from the email."""
    [event] = reset_events(user.id)
    notifications.fan_out(event.id)
    db.session.commit()
    delivery = db.session.scalars(
        select(Delivery).where(Delivery.user_id == user.id, Delivery.kind == "password_reset")
    ).one()
    match = re.search(r"http://[^/\s]+(/reset-password/[A-Za-z0-9_.\-]+)", delivery.text_body)
    assert match, delivery.text_body
    assert match.group(1) in (delivery.html_body or "")
    return match.group(1)


def unique_email() -> str:
    return f"reset-{uuid.uuid4().hex[:10]}@example.com"


def test_known_and_unknown_addresses_get_the_same_answer(client, make_user):
    user = make_user(email=unique_email())

    known = post_form(client, "/forgot-password", {"email": user.email.upper()})
    unknown = post_form(client, "/forgot-password", {"email": unique_email()})

    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"] == "/sign-in"
    page = client.get("/sign-in").get_data(as_text=True)
    assert "If an account uses that address" in page
    assert len(reset_events(user.id)) == 1
    assert db.session.scalar(select(OutboxEvent).where(OutboxEvent.kind == "x")) is None


def test_a_bad_address_is_a_form_message_and_sends_nothing(client, make_user):
    response = post_form(client, "/forgot-password", {"email": "not an address"})

    assert response.status_code == 422
    assert "Invalid email address" in response.get_data(as_text=True)
    assert client.post("/forgot-password", data={"email": "a@example.com"}).status_code == 400


def test_the_link_sets_a_new_password_once_and_ends_every_session(
    app, client, make_user, token_for
):
    user = make_user(email=unique_email())
    other = app.test_client()
    sign_in(other, user.email)
    assert other.get("/account/security").status_code == 200
    token = token_for(user)
    post_form(client, "/forgot-password", {"email": user.email})
    link = emailed_link(user)
    # The in-app notice says a reset was asked for; the link itself is only in the email.
    notice = db.session.scalars(
        select(Notification).where(
            Notification.user_id == user.id, Notification.kind == "password_reset"
        )
    ).one()
    assert notice.link is None and "reset-password" not in notice.body

    assert "Choose a new password" in client.get(link).get_data(as_text=True)
    differ = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert differ.status_code == 422 and "The two passwords differ." in differ.get_data(
        as_text=True
    )
    common = post_form(client, link, {"password": "password1", "confirm": "password1"})
    assert common.status_code == 422 and "most common" in common.get_data(as_text=True)
    db.session.refresh(user)
    assert (
        accounts.authenticate(user.email, "correct horse battery").user.id == user.id
    )  # unchanged

    done = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert done.status_code == 302 and done.headers["Location"] == "/sign-in"
    db.session.expire_all()
    assert accounts.authenticate(user.email, NEW_PASSWORD).user.id == user.id
    with pytest.raises(InvalidCredentials):
        accounts.authenticate(user.email, "correct horse battery")
    # Every other session and every API token ended.
    assert other.get("/account/security").status_code == 302
    stored = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert stored and all(t.revoked_at is not None for t in stored)
    assert accounts.user_for_token(token) is None
    # The link works once.
    again = client.get(link)
    assert again.status_code == 404
    assert "not valid any more" in again.get_data(as_text=True)


def test_an_expired_or_tampered_link_is_refused(app, client, make_user, monkeypatch):
    user = make_user(email=unique_email())
    secret = app.config["SECRET_KEY"]
    token = accounts.reset_token(user, secret)

    with pytest.raises(accounts.ResetLinkInvalid):
        accounts.user_for_reset(token, secret, dt.timedelta(seconds=-1))
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MINUTES", -1)
    assert client.get(f"/reset-password/{token}").status_code == 404
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MINUTES", 60)
    assert client.get(f"/reset-password/{token}").status_code == 200
    assert client.get(f"/reset-password/{token[:-2]}xx").status_code == 404
    other_key = accounts.reset_token(user, "another-secret-key")
    assert client.get(f"/reset-password/{other_key}").status_code == 404
    response = post_form(
        client,
        f"/reset-password/{token[:-2]}xx",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        form_page="/forgot-password",
    )
    assert response.status_code == 404
    db.session.refresh(user)
    assert accounts.authenticate(user.email, "correct horse battery").user.id == user.id


def test_two_factor_stays_on_after_a_reset(client, make_user):
    staff = make_user("staff", email=unique_email())
    sign_in(client, staff.email)  # enrols two-factor
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    db.session.refresh(staff)
    assert staff.mfa_enabled
    post_form(client, "/forgot-password", {"email": staff.email})
    link = emailed_link(staff)
    post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    response = post_form(client, "/sign-in", {"email": staff.email, "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sign-in/two-factor")


def test_asking_too_often_for_one_address_is_429(client, make_user):
    user = make_user(email=unique_email())
    for _ in range(3):
        assert post_form(client, "/forgot-password", {"email": user.email}).status_code == 302

    fourth = post_form(client, "/forgot-password", {"email": user.email})

    assert fourth.status_code == 429
    assert len(reset_events(user.id)) == 3
    # Another address is not held back by this one.
    assert post_form(client, "/forgot-password", {"email": unique_email()}).status_code == 302
