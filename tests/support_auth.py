"""Signing in through the browser forms in tests, including two-factor for staff."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp


def csrf_token(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"{path} has no form with a CSRF token"
    return match.group(1)


def post_form(client: Any, path: str, data: dict[str, str], form_page: str | None = None) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_page or path)})


def next_code(secret: str, steps_ahead: int = 0) -> str:
    """A TOTP code for the current time step (or one ahead, which the server's drift accepts)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def sign_in(client: Any, email: str, password: str = "correct horse battery") -> Any:
    """Password sign-in; for staff, also enrols or answers two-factor. Returns the last response."""
    response = post_form(client, "/sign-in", {"email": email, "password": password})
    location = response.headers.get("Location", "")
    if location.endswith("/account/two-factor/setup"):
        html = client.get("/account/two-factor/setup").get_data(as_text=True)
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
        response = post_form(client, "/account/two-factor/setup", {"code": next_code(secret)})
        assert response.status_code == 200, response.get_data(as_text=True)
    return response


def committed_user(role: str, password: str = "correct horse battery", **kwargs: Any) -> Any:
    """A new user with a unique address, committed (for tests whose server runs elsewhere)."""
    import uuid

    from services import accounts
    from services.db import db

    user = accounts.create_user(
        email=f"{role}-{uuid.uuid4().hex[:8]}@example.com", password=password, role=role, **kwargs
    )
    db.session.commit()
    return user
