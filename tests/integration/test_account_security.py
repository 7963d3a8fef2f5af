"""ASVS-level account controls: password policy, two-factor, ending sessions, timeouts."""

import re
import time

import pytest
from sqlalchemy import select

from services import accounts
from services.accounts import mfa
from services.accounts import operations as accounts_operations
from services.errors import ValidationFailed
from services.models import ApiToken, User
from tests.support_auth import csrf_token, next_code, post_form, sign_in


def test_a_long_passphrase_is_accepted(client, db_session):
    passphrase = "correct horse battery staple " * 3  # 87 characters
    response = post_form(
        client,
        "/sign-up",
        {
            "name": "Long Pass",
            "email": "long@example.com",
            "password": passphrase,
            "timezone": "UTC",
        },
    )
    assert response.status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})

    again = post_form(client, "/sign-in", {"email": "long@example.com", "password": passphrase})

    assert again.status_code == 302
    assert again.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    # The whole passphrase counts: a 64-character prefix of it is not the password.
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    prefix = passphrase[:64]
    wrong = post_form(client, "/sign-in", {"email": "long@example.com", "password": prefix})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "password", ["password1", "qwertyuiop", "iloveyou", "Football1", "SUNSHINE"]
)
def test_the_most_common_passwords_are_refused(db_session, password):
    with pytest.raises(ValidationFailed) as error:
        accounts.register_learner(
            accounts.Registration(name="C", email="c@example.com", password=password)
        )

    assert "most common" in error.value.errors["password"][0]


def test_an_uncommon_password_is_fine():
    assert accounts.password_problem("mauve otter violin") is None


def test_changing_the_password_ends_every_other_session_and_token(app, make_user, token_for):
    user = make_user()
    first, second = app.test_client(), app.test_client()
    sign_in(first, user.email)
    sign_in(second, user.email)
    token = token_for(user)

    response = post_form(
        first,
        "/account/password",
        {"current_password": "correct horse battery", "new_password": "a brand new phrase"},
        form_page="/account/security",
    )

    assert response.status_code == 302
    assert first.get("/dashboard").status_code == 200
    assert second.get("/dashboard").status_code == 302
    assert first.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = app.test_client()
    assert sign_in(fresh, user.email, "a brand new phrase").status_code == 302


def test_a_wrong_current_password_changes_nothing(client, make_user, db_session):
    user = make_user()
    sign_in(client, user.email)
    before = user.password_hash

    response = post_form(
        client,
        "/account/password",
        {"current_password": "not it at all", "new_password": "a brand new phrase"},
        form_page="/account/security",
    )

    assert response.status_code == 422
    assert "current password is not right" in response.get_data(as_text=True)
    db_session.refresh(user)
    assert user.password_hash == before


def test_sign_out_everywhere_ends_other_sessions_but_not_this_one(app, make_user):
    user = make_user()
    mine, other = app.test_client(), app.test_client()
    sign_in(mine, user.email)
    sign_in(other, user.email)

    post_form(mine, "/account/sign-out-everywhere", {}, form_page="/account/security")

    assert mine.get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 302


@pytest.mark.parametrize("key", ["seen_at", "auth_at"])
def test_idle_and_absolute_timeouts_end_the_session(client, make_user, app, key):
    user = make_user()
    sign_in(client, user.email)
    assert client.get("/dashboard").status_code == 200
    limit = (
        app.config["SESSION_IDLE_MINUTES"] * 60
        if key == "seen_at"
        else app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    )

    with client.session_transaction() as session:
        session[key] = int(time.time()) - limit - 5

    response = client.get("/dashboard")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]
    assert client.get("/dashboard").status_code == 302


def test_requests_in_the_same_minute_leave_the_session_cookie_alone(client, make_user):
    """A response that rewrites the session cookie puts back the session its request read: a
    slow request in flight would undo a flash message set meanwhile. Only a request that moves the
    idle clock on (once a minute) writes it."""
    user = make_user()
    sign_in(client, user.email)
    client.get("/dashboard")
    assert "Set-Cookie" not in client.get("/dashboard").headers
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 61
    assert "session=" in client.get("/dashboard").headers.get("Set-Cookie", "")


def test_staff_must_set_up_two_factor_before_getting_in(client, make_user, db_session):
    staff = make_user("staff")

    response = post_form(
        client, "/sign-in", {"email": staff.email, "password": "correct horse battery"}
    )

    assert response.headers["Location"].endswith("/account/two-factor/setup")
    assert client.get("/dashboard").status_code == 302  # not signed in yet
    html = client.get("/account/two-factor/setup").get_data(as_text=True)
    assert "<svg" in html
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)

    wrong = post_form(client, "/account/two-factor/setup", {"code": "000000"})
    assert wrong.status_code == 422
    done = post_form(client, "/account/two-factor/setup", {"code": next_code(secret)})

    assert done.status_code == 200
    codes = re.findall(
        r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True)
    )
    assert len(codes) == 10
    assert client.get("/dashboard").status_code == 200
    db_session.refresh(staff)
    assert staff.mfa_enabled


def test_two_factor_sign_in_with_a_code_and_a_single_use_recovery_code(app, make_user, db_session):
    staff = make_user("staff")
    secret = mfa.start_enrolment(staff)
    [recovery, *_] = mfa.confirm_enrolment(staff, next_code(secret))
    db_session.commit()

    def attempt(code):
        client = app.test_client()
        response = post_form(
            client, "/sign-in", {"email": staff.email, "password": "correct horse battery"}
        )
        assert response.headers["Location"].endswith("/sign-in/two-factor")
        return post_form(client, "/sign-in/two-factor", {"code": code}).status_code

    assert attempt("123456") == 401
    assert attempt(next_code(secret, steps_ahead=1)) == 302
    assert attempt(next_code(secret, steps_ahead=1)) == 401  # a code works once
    assert attempt(recovery) == 302
    assert attempt(recovery) == 401  # and so does a recovery code


def test_api_tokens_need_the_one_time_code_when_two_factor_is_on(client, make_user, db_session):
    staff = make_user("staff")
    secret = mfa.start_enrolment(staff)
    mfa.confirm_enrolment(staff, next_code(secret))
    db_session.commit()
    credentials = {"email": staff.email, "password": "correct horse battery"}

    missing = client.post("/api/v1/auth/token", json=credentials)
    wrong = client.post("/api/v1/auth/token", json={**credentials, "otp": "000000"})
    right = client.post("/api/v1/auth/token", json={**credentials, "otp": next_code(secret, 1)})

    assert (missing.status_code, missing.json["code"]) == (401, "otp_required")
    assert (wrong.status_code, wrong.json["code"]) == (401, "invalid_credentials"), wrong.json
    assert right.status_code == 201


def test_learners_may_turn_two_factor_on_and_off(client, make_user, db_session):
    learner = make_user()
    sign_in(client, learner.email)
    html = client.get("/account/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
    assert (
        post_form(client, "/account/two-factor/setup", {"code": next_code(secret)}).status_code
        == 200
    )
    db_session.refresh(learner)
    assert learner.mfa_enabled

    post_form(client, "/account/two-factor/disable", {}, form_page="/account/security")

    db_session.refresh(learner)
    assert not learner.mfa_enabled
    assert (
        db_session.scalars(
            select(User).where(User.totp_secret.is_not(None), User.id == learner.id)
        ).first()
        is None
    )
    assert db_session.scalars(select(ApiToken)).all() == []


def test_signing_in_rehashes_an_old_hash_unless_the_password_changed_since_the_check(
    client, make_user, db_session
):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user = make_user(password="correct horse battery")
    user.password_hash = weak.hash("correct horse battery")
    db_session.commit()

    # Through the page: the password is checked, then the newer hash is stored.
    response = post_form(
        client, "/sign-in", {"email": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 302
    db_session.refresh(user)
    assert not accounts_operations._hasher.check_needs_rehash(user.password_hash)
    assert accounts_operations._hasher.verify(user.password_hash, "correct horse battery")

    # The check and the write are separate transactions: a password changed in between wins.
    user.password_hash = weak.hash("correct horse battery")
    db_session.commit()
    verified = accounts.authenticate(user.email, "correct horse battery")
    assert verified.new_hash is not None
    changed = weak.hash("another long passphrase")
    user.password_hash = changed
    db_session.commit()
    accounts.record_sign_in(verified)
    db_session.commit()
    db_session.refresh(user)
    assert user.password_hash == changed
