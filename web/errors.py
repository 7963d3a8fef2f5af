"""One place turns every error into a response: problems under /api/, pages elsewhere."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from services.errors import DomainError
from web.problems import ApiProblem, from_domain_error, problem, wants_problem

log = logging.getLogger(__name__)

_DETAIL = {
    404: "There is nothing here, or it is not yours to see.",
    405: "This method is not allowed on this resource.",
    413: "The upload is larger than allowed.",
}


def handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    if wants_problem():
        from web.api import webargs_problem

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
        return render_template(
            "errors/error.html",
            status=429,
            message="Too many attempts. Wait a minute and try again.",
        ), 429
    return render_template(
        "errors/error.html", status=status, message=_DETAIL.get(status) or error.description
    ), status


def handle_domain_error(error: DomainError) -> Any:
    if wants_problem():
        return from_domain_error(error)
    return handle_http_exception(InternalServerError(error.detail))


def handle_unexpected(error: Exception) -> Any:
    log.exception("unhandled error", exc_info=error)
    if wants_problem():
        return problem(500, "internal_error", "Something went wrong on our side; it was logged.")
    return render_template(
        "errors/error.html", status=500, message="Something went wrong on our side."
    ), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ApiProblem, lambda e: e.response)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
