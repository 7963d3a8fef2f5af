"""RFC 9457 problem details for every error under /api/v1, and the mapping from domain errors."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, json, request
from marshmallow import Schema, fields

from services import errors, storage

PROBLEM_TYPE = "application/problem+json"

STATUS_FOR = {
    errors.ValidationFailed: 422,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.InvalidCredentials: 401,
    errors.TooLarge: 413,
    errors.UnsupportedType: 415,
    storage.StorageUnavailable: 503,
}

CODE_FOR_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "file_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"description": "A URI naming the problem type."})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True, metadata={"description": "A sentence for a person."})
    code = fields.String(required=True, metadata={"description": "A stable machine word."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field name to messages, on validation errors."},
    )


def problem_body(
    status: int, code: str | None, detail: str | None, base_url: str, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 body: {"type", "title", "status", "detail", "code"} (and any extra members)."""
    code = code or CODE_FOR_STATUS.get(status, "error")
    title = HTTPStatus(status).phrase
    return {
        "type": f"{base_url}/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        **extra,
    }


def wants_problem() -> bool:
    return request.path.startswith("/api/")


def problem(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    if errors:
        extra = {"errors": errors, **extra}
    body = problem_body(status, code, detail, current_app.config["BASE_URL"], **extra)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_TYPE, headers=headers
    )
    return response


def from_domain_error(error: errors.DomainError) -> Response:
    status = next((s for cls, s in STATUS_FOR.items() if isinstance(error, cls)), 400)
    return problem(status, error.code, error.detail, errors=error.errors or None)


class ApiProblem(Exception):
    """Raised in a view to answer with a problem right away."""

    def __init__(self, status: int, code: str, detail: str, **kwargs: Any) -> None:
        super().__init__(detail)
        self.response = problem(status, code, detail, **kwargs)


def flatten_webargs(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [..]}}); clients want field names."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_schema", []).extend(value)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    if isinstance(messages, dict):
        for location, inner in messages.items():
            walk(
                ""
                if location in {"json", "form", "query", "files", "multipart", "headers"}
                else location,
                inner,
            )
    else:
        walk("", messages)
    return flat


def problem_doc(bp: Any) -> Callable[[int, str], Callable[[Any], Any]]:
    """For an API blueprint: ``doc(status, description)`` documents that a route answers
    ``status`` with a problem (RFC 9457), so the served OpenAPI document says so."""

    def doc(status: int, description: str) -> Callable[[Any], Any]:
        return bp.alt_response(  # type: ignore[no-any-return]
            status, schema=ProblemSchema, content_type=PROBLEM_TYPE, description=description
        )

    return doc


def webargs_problem(error: Any) -> Response | None:
    """A webargs/marshmallow failure (an HTTPException carrying ``data``) as a problem: malformed
    JSON 400, invalid fields 422; None for any other error."""
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors") or {}
    flat = flatten_webargs(messages)
    if error.code == 400 and any("Invalid JSON" in m for ms in flat.values() for m in ms):
        return problem(400, "malformed_json", "The request body is not valid JSON.")
    if error.code == 422:
        return problem(
            422, "validation_error", "Some fields are missing or not valid.", errors=flat
        )
    return None
