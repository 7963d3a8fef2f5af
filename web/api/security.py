"""Bearer-token authentication for the API, documented in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from services import accounts
from services.models import User
from web.api.blueprint import Blueprint
from web.problems import PROBLEM_TYPE, ApiProblem, ProblemSchema

F = TypeVar("F", bound=Callable[..., Any])


def bearer_secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def current_user() -> User:
    user: User = g.api_user
    return user


def token_required(bp: Blueprint, *roles: str) -> Callable[[F], F]:
    """Require a live bearer token (401 otherwise) and, if given, one of ``roles`` (403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            secret = bearer_secret()
            user = accounts.user_for_token(secret) if secret else None
            if user is None:
                raise ApiProblem(
                    401,
                    "unauthorized",
                    "Send a valid bearer token: Authorization: Bearer <token>.",
                    headers={"WWW-Authenticate": 'Bearer realm="api"'},
                )
            if roles and user.role not in roles:
                raise ApiProblem(403, "forbidden", "Your role may not do this.")
            g.api_user = user
            return view(*args, **kwargs)

        documented = bp.doc(security=[{"bearerAuth": []}])(wrapper)
        documented = bp.alt_response(
            401, schema=ProblemSchema, content_type=PROBLEM_TYPE, description="No valid token."
        )(documented)
        if roles:
            documented = bp.alt_response(
                403,
                schema=ProblemSchema,
                content_type=PROBLEM_TYPE,
                description="Role not allowed.",
            )(documented)
        return documented  # type: ignore[no-any-return]

    return decorate
