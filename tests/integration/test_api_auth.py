import datetime as dt

from sqlalchemy import select

from services.db import utcnow
from services.models import ApiToken


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_anonymous_me_is_a_401_problem(client):
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == 401
    assert body["code"] == "unauthorized"
    assert {"type", "title", "detail"} <= body.keys()
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_works_for_me(client, make_user, token_for):
    user = make_user("coach", name="Ada Coach", timezone="Europe/Berlin")

    response = client.get("/api/v1/me", headers=bearer(token_for(user)))

    assert response.status_code == 200
    assert response.json == {
        "id": user.id,
        "email": user.email,
        "name": "Ada Coach",
        "role": "coach",
        "timezone": "Europe/Berlin",
        "clock": "24h",
    }


def test_token_answer_has_an_aware_expiry(client, make_user):
    user = make_user()

    response = client.post(
        "/api/v1/auth/token", json={"email": user.email, "password": "correct horse battery"}
    )

    assert response.status_code == 201
    expires_at = dt.datetime.fromisoformat(response.json["expires_at"])
    assert expires_at.tzinfo is not None
    assert dt.timedelta(hours=23) < expires_at - utcnow() <= dt.timedelta(hours=24)


def test_tokens_are_stored_hashed(client, make_user, token_for, db_session):
    token = token_for(make_user())

    stored = db_session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


def test_an_expired_token_stops_working(client, make_user, token_for, db_session):
    token = token_for(make_user())
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    for row in db_session.scalars(select(ApiToken)):
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db_session.commit()

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_a_revoked_token_stops_working_at_once(client, make_user, token_for):
    token = token_for(make_user())

    response = client.delete("/api/v1/auth/token", headers=bearer(token))

    assert response.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.delete("/api/v1/auth/token", headers=bearer(token)).status_code == 401


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make_user):
    user = make_user()

    wrong = client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope-nope"})
    unknown = client.post(
        "/api/v1/auth/token", json={"email": "nobody@example.com", "password": "nope-nope"}
    )

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.json["code"] == "invalid_credentials"


def test_the_sixth_failure_within_a_minute_is_rate_limited(client, make_user):
    user = make_user()
    attempt = {"email": user.email, "password": "wrong-password"}

    statuses = [client.post("/api/v1/auth/token", json=attempt).status_code for _ in range(6)]

    assert statuses == [401] * 5 + [429]
    limited = client.post("/api/v1/auth/token", json=attempt)
    assert limited.json["code"] == "rate_limited"
    assert limited.mimetype == "application/problem+json"
    # The limiter's headers, on the routes it limits only.
    assert limited.headers["X-RateLimit-Limit"] == "5" and "Retry-After" in limited.headers
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers
    # A request that met no limit does not build the limiter's request state (its hooks skip it).
    from flask.globals import request_ctx

    with client:
        client.get("/healthz")
        assert not hasattr(request_ctx._get_current_object(), "_limiter_request_context")
        client.post("/api/v1/auth/token", json=attempt)
        assert hasattr(request_ctx._get_current_object(), "_limiter_request_context")


def test_successful_sign_ins_do_not_count_towards_the_limit(client, make_user):
    user = make_user()
    good = {"email": user.email, "password": "correct horse battery"}

    statuses = [client.post("/api/v1/auth/token", json=good).status_code for _ in range(8)]

    assert statuses == [201] * 8


def test_malformed_json_is_a_400_problem(client):
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json["code"] == "malformed_json"


def test_missing_fields_are_a_422_validation_problem(client):
    response = client.post("/api/v1/auth/token", json={"email": 5})

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert set(response.json["errors"]) == {"email", "password"}


def test_unknown_route_and_wrong_method_are_problems(client):
    missing = client.get("/api/v1/does-not-exist")
    wrong_method = client.put("/api/v1/me")

    assert (missing.status_code, missing.json["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json["code"]) == (405, "method_not_allowed")
    assert "GET" in wrong_method.headers["Allow"]


def test_an_oversized_body_is_a_413_problem(client):
    response = client.post(
        "/api/v1/auth/token",
        data=b"x" * (6 * 1024 * 1024),
        content_type="application/json",
    )

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_an_unexpected_error_is_a_500_problem_without_details(client, monkeypatch):
    from services import accounts

    def boom(secret):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(accounts, "user_for_token", boom)
    response = client.get("/api/v1/me", headers=bearer("anything"))

    assert response.status_code == 500
    assert response.json["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)


def test_interview_types_are_listed_for_a_signed_in_user(client, make_user, token_for):
    from services.booking import interview_types

    interview_types.ensure_defaults()
    response = client.get("/api/v1/interview-types", headers=bearer(token_for(make_user())))

    assert response.status_code == 200
    slugs = [item["slug"] for item in response.json["items"]]
    assert slugs == ["behavioral", "technical-ml", "ml-system-design", "coding"]
    assert response.json["next_cursor"] is None
    assert client.get("/api/v1/interview-types").status_code == 401


def test_the_openapi_document_describes_the_api(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert {"/api/v1/auth/token", "/api/v1/me", "/api/v1/interview-types"} <= paths.keys()
    assert "201" in paths["/api/v1/auth/token"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]
    assert "401" in paths["/api/v1/me"]["get"]["responses"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
