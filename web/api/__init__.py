"""The JSON API under /api/v1, documented by flask-smorest into the served OpenAPI document."""

from __future__ import annotations

import http
from typing import Any

from flask import Flask
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response

from web.problems import PROBLEM_TYPE, ProblemSchema


class Api(SmorestApi):  # type: ignore[misc]
    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        from web.api.schemas import named_keys2properties

        self.ma_plugin.converter.add_attribute_function(named_keys2properties)

    def _register_responses(self) -> None:
        # As flask-smorest does, but errors are documented as application/problem+json.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {
            "description": "An error: RFC 9457 problem details with a stable `code`.",
            "schema": self.ERROR_SCHEMA,
        }
        prepare_response(default, self.spec, PROBLEM_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)


api = Api()


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Career Services API")
    app.config.setdefault("API_VERSION", "1.0.0")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": "Mock interviews, résumé reviews and notifications. Errors are RFC "
                "9457 problem details with a stable `code`.",
            },
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                }
            },
        },
    )
    api.init_app(app)
    from web.api import audit as audit_log
    from web.api import auth, bookings, catalog, deliveries, notifications, resumes, staff, waitlist
    from web.api import availability as booking_availability
    from web.extensions import csrf

    booking_modules = (bookings, booking_availability, waitlist)
    staff_modules = (staff, audit_log)
    for module in (
        auth,
        catalog,
        notifications,
        deliveries,
        resumes,
        *staff_modules,
        *booking_modules,
    ):
        # Bearer tokens, not cookies, authenticate the API, so there is nothing to forge.
        csrf.exempt(module.bp)
        api.register_blueprint(module.bp)
