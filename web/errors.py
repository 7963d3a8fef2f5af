"""One place turns every error into a response: problems under /api/, pages elsewhere."""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException, InternalServerError

from services.errors import DomainError
from web.problems import (
    STATUS_FOR,
    ApiProblem,
    from_domain_error,
    problem,
    wants_problem,
    webargs_problem,
)

log = logging.getLogger(__name__)

_DETAIL = {
    403: "Your account cannot open this page. If you think it should, ask Career Services staff.",
    404: "There is nothing here, or it is not yours to see.",
    405: "This method is not allowed on this resource.",
    413: "The upload is larger than allowed.",
}


def handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    if wants_problem():
        response = webargs_problem(error)
        if response is not None:
            return response
        headers = {}
        if status == 405 and error.get_response().headers.get("Allow"):
            headers["Allow"] = error.get_response().headers["Allow"]
        if status == 429:
            return problem(
                429,
                "rate_limited",
                "Too many attempts. Wait a minute and try again.",
                headers={"Retry-After": "60"},
            )
        detail = _DETAIL.get(status) or (error.description if status < 500 else None)
        return problem(status, None, detail, headers=headers or None)
    if status == 429:
        return _page(429, _too_many(error), signing_in=_signing_in()), 429
    return _page(status, _DETAIL.get(status) or error.description), status


_SIGN_IN_ENDPOINTS = ("auth.sign_in", "auth.two_factor", "auth.forgot_password")


def _signing_in() -> bool:
    return request.endpoint in _SIGN_IN_ENDPOINTS


def _too_many(error: HTTPException) -> str:
    limit = getattr(error, "limit", None) if isinstance(error, RateLimitExceeded) else None
    minutes = max(1, math.ceil(limit.limit.get_expiry() / 60)) if limit is not None else 1
    wait = f"up to {minutes} minute{'' if minutes == 1 else 's'}"
    if request.endpoint in ("auth.sign_in", "auth.two_factor"):
        return f"Too many wrong attempts from here: sign-in is paused for {wait}. Try again then."
    return f"Too many attempts. Wait {wait} and try again."


def _back_url() -> str | None:
    """The page the person came from, if it is one of ours and not this one."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.path == request.path:
        return None
    if not referrer.path.startswith("/") or referrer.path.startswith("//"):
        return None  # "//elsewhere" would leave the site
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def _page(status: int, message: str | None, **extra: Any) -> str:
    return render_template(
        "errors/error.html", status=status, message=message, back_url=_back_url(), **extra
    )


def handle_domain_error(error: DomainError) -> Any:
    if wants_problem():
        return from_domain_error(error)
    status = next((s for cls, s in STATUS_FOR.items() if isinstance(error, cls)), None)
    if status in (403, 404):  # a page refused by a domain rule: the same page as any 403 or 404
        return _page(status, _DETAIL[status]), status
    if status == 503:  # a piece the service needs is down (file storage): say so, and to retry
        return _page(status, error.detail), status
    return handle_http_exception(InternalServerError(error.detail))


def handle_unexpected(error: Exception) -> Any:
    log.exception("unhandled error", exc_info=error)
    if wants_problem():
        return problem(500, "internal_error", "Something went wrong on our side; it was logged.")
    return _page(500, "Something went wrong on our side. It was logged; please try again."), 500


def init_app(app: Flask) -> None:
    """Call after the API's init_app: flask-smorest registers its own HTTPException handler
    there, and the one registered last for a class is the one Flask uses."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ApiProblem, lambda e: e.response)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
