"""Headers every response carries."""

from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


# Each unless the response already sets it.
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
)
HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


def _secure(response: Response) -> Response:
    headers = response.headers
    present = {name.lower() for name, _value in headers}  # Headers iterate (name, value) pairs
    for name, value in (*HEADERS, HSTS) if request.is_secure else HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)
