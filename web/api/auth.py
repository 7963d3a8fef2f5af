from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, g

from services import accounts
from services.accounts import mfa
from services.errors import InvalidCredentials
from web.api.blueprint import Blueprint
from web.api.schemas import MeSchema, MeUpdateSchema, TokenRequestSchema, TokenSchema
from web.api.security import bearer_secret, current_user, token_required
from web.extensions import limiter
from web.problems import ApiProblem, problem_doc
from web.transactions import reading_first, writing

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1", description="Tokens and the caller.")
_problem = problem_doc(bp)


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/auth/token", methods=["POST"])
@limiter.limit(_login_limit, deduct_when=lambda response: bool(g.get("login_failed")))
@bp.arguments(TokenRequestSchema)
@bp.response(201, TokenSchema)
@_problem(
    401,
    "`invalid_credentials`: the email, password or one-time code is not right; "
    "`otp_required`: two-factor sign-in is on, send the code as `otp`.",
)
@_problem(
    429,
    "`rate_limited`: too many failed attempts; try again later.",
)
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange an email and password for a bearer token."""
    # Argon2 runs with no write lock held; the code check and the token are one short write.
    with reading_first():
        try:
            verified = accounts.authenticate(body["email"], body["password"])
        except InvalidCredentials as exc:
            g.login_failed = True
            raise ApiProblem(401, exc.code, exc.detail) from exc
    with writing():
        user = accounts.record_sign_in(verified)
        if user.mfa_enabled:
            if not body.get("otp"):
                raise ApiProblem(
                    401,
                    "otp_required",
                    "This account signs in with a one-time code: send it as `otp`.",
                )
            if not mfa.verify(user, body["otp"]):
                g.login_failed = True
                raise ApiProblem(401, "invalid_credentials", "The one-time code is not right.")
        ttl = dt.timedelta(hours=current_app.config["API_TOKEN_TTL_HOURS"])
        secret, token = accounts.issue_token(user, ttl)
    return {"token": secret, "expires_at": token.expires_at}


@bp.route("/auth/token", methods=["DELETE"])
@token_required(bp)
@bp.response(204)
def revoke_token() -> None:
    """Revoke the token used for this request; it stops working at once."""
    secret = bearer_secret()
    assert secret is not None  # token_required checked it
    with writing():
        accounts.revoke_token(secret)


@bp.route("/me")
@token_required(bp)
@bp.response(200, MeSchema)
def me() -> Any:
    """The caller's own account."""
    return current_user()


@bp.route("/me", methods=["PATCH"])
@token_required(bp)
@bp.arguments(MeUpdateSchema)
@bp.response(200, MeSchema)
@_problem(422, "`validation_error`: an empty name, a zone that is not a place's, a bad clock.")
def update_me(body: dict[str, Any]) -> Any:
    """Change the caller's own name, time zone or clock. Audited, like the account page's
    change (the same service function)."""
    user_id = current_user().id
    with writing():
        user, _ = accounts.update_profile(user_id, accounts.ProfileChange(**body))
    return user
