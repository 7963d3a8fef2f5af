import re

from sqlalchemy import select

from services.models import OutboxEvent, User


def csrf_token(client, path):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "form has no CSRF token"
    return match.group(1)


def sign_up(client, **fields):
    data = {
        "name": "Lin Learner",
        "email": "lin@example.com",
        "password": "a long passphrase",
        "timezone": "America/New_York",
        **fields,
    }
    data.setdefault("csrf_token", csrf_token(client, "/sign-up"))
    return client.post("/sign-up", data=data)


def test_sign_up_makes_a_learner_signs_them_in_and_queues_the_welcome(client, db_session):
    response = sign_up(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    user = db_session.scalar(select(User).where(User.email == "lin@example.com"))
    assert user.role == "learner"
    assert user.timezone == "America/New_York"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in user.password_hash
    event = db_session.scalar(select(OutboxEvent).where(OutboxEvent.kind == "account.registered"))
    assert event.payload == {"user_id": user.id}
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "Hello, Lin Learner" in dashboard.get_data(as_text=True)


def test_sign_up_errors_are_shown_on_the_form_and_change_nothing(client, db_session, make_user):
    make_user(email="taken@example.com")

    response = sign_up(client, email="taken@example.com", password="short", timezone="Mars/Base")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Use 8 to 256 characters." in html
    assert "Pick a time zone from the list" in html
    assert db_session.scalar(select(User).where(User.name == "Lin Learner")) is None


def test_signing_up_twice_with_one_email_is_refused(client, db_session):
    assert sign_up(client).status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})

    again = sign_up(client, name="Someone Else")

    assert again.status_code == 422
    assert "already exists" in again.get_data(as_text=True)
    assert len(db_session.scalars(select(User).where(User.email == "lin@example.com")).all()) == 1


def test_a_form_posted_without_its_csrf_token_is_refused(client, db_session):
    response = client.post(
        "/sign-up",
        data={
            "name": "X",
            "email": "x@example.com",
            "password": "long enough pass",
            "timezone": "UTC",
        },
    )

    assert response.status_code == 400
    assert db_session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_sign_in_and_sign_out(client, make_user):
    user = make_user(name="Omar")

    response = client.post(
        "/sign-in",
        data={
            "email": user.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token(client, "/sign-in"),
        },
    )
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200

    out = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert out.status_code == 302
    assert client.get("/dashboard").status_code == 302  # back to sign-in


def test_sign_in_gives_one_answer_for_unknown_email_and_wrong_password(client, make_user):
    user = make_user()

    def attempt(email):
        response = client.post(
            "/sign-in",
            data={
                "email": email,
                "password": "wrong-password",
                "csrf_token": csrf_token(client, "/sign-in"),
            },
        )
        text = response.get_data(as_text=True)
        message = re.search(r'class="error"[^>]*>([^<]+)<', text).group(1)
        return response.status_code, message

    assert (
        attempt(user.email)
        == attempt("nobody@example.com")
        == (401, "The email or password is not right.")
    )


def test_the_sixth_failed_sign_in_within_a_minute_is_refused_with_429(client, make_user):
    user = make_user()
    token = csrf_token(client, "/sign-in")
    data = {"email": user.email, "password": "wrong-password", "csrf_token": token}

    statuses = [client.post("/sign-in", data=data).status_code for _ in range(6)]

    assert statuses == [401] * 5 + [429]


def test_a_copied_session_stops_working_when_the_session_version_changes(
    client, make_user, db_session
):
    user = make_user()
    client.post(
        "/sign-in",
        data={
            "email": user.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token(client, "/sign-in"),
        },
    )
    assert client.get("/dashboard").status_code == 200

    user.session_version += 1
    db_session.commit()

    assert client.get("/dashboard").status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    user = make_user()

    response = client.post(
        "/sign-in",
        data={
            "email": user.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token(client, "/sign-in"),
        },
    )

    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_sign_in_never_redirects_off_site(client, make_user):
    user = make_user()

    response = client.post(
        "/sign-in?next=//evil.example/x",
        data={
            "email": user.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token(client, "/sign-in"),
        },
    )

    assert response.headers["Location"] == "/dashboard"
