"""The API's blueprint: flask-smorest's, but a JSON body is taken only as JSON (415 otherwise), a
required one must be there (422), and both answers are in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any

import flask_smorest
from flask import request

from web.problems import PROBLEM_TYPE, ApiProblem, ProblemSchema

NOT_JSON = "`unsupported_media_type`: the body is not sent as `application/json`."
MALFORMED = "`malformed_json`: the body is not valid JSON."


def check_json_body(required: bool) -> None:
    """Before webargs reads a JSON body: webargs takes a body of another type, or none, for an
    empty object, so a form post or a bodiless PATCH would pass for ``{}``. Raises ApiProblem."""
    if not request.get_data(cache=True):
        if required:
            raise ApiProblem(
                422,
                "validation_error",
                "This request needs a JSON body.",
                errors={"_schema": ["Send the fields as a JSON object (application/json)."]},
            )
        return
    if not request.is_json:
        raise ApiProblem(
            415,
            "unsupported_media_type",
            "Send the body as JSON (Content-Type: application/json), not as "
            f"{request.mimetype or 'a body without a type'}.",
        )


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    def arguments(
        self, schema: Any, *, location: str = "json", required: bool = True, **kwargs: Any
    ) -> Callable[[Any], Any]:
        if isinstance(schema, type):
            # One instance for every request (webargs would build one from the class each time).
            schema = schema()
        parse = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json":
            return parse  # type: ignore[no-any-return]

        def decorator(view: Any) -> Any:
            parsed = parse(view)

            @wraps(parsed)
            def checked(*args: Any, **kw: Any) -> Any:
                check_json_body(required)
                return parsed(*args, **kw)

            checked._apidoc = deepcopy(getattr(parsed, "_apidoc", {}))
            documented = self.alt_response(
                415, schema=ProblemSchema, content_type=PROBLEM_TYPE, description=NOT_JSON
            )(checked)
            return self.alt_response(
                400, schema=ProblemSchema, content_type=PROBLEM_TYPE, description=MALFORMED
            )(documented)

        return decorator
