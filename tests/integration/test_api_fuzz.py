"""schemathesis against the served OpenAPI document, as a learner, a coach and staff: no 5xx, and
every response (status, content type, body) matches what the document says."""

from __future__ import annotations

import datetime as dt
import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services import accounts

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded: each operation gets this many generated requests per role.
EXAMPLES_PER_OPERATION = 12


def test_the_api_never_fails_and_keeps_its_document(app, client, make_user, db_session):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    users = [
        make_user(role, expertise=["ml", "python"] if role == "coach" else None)
        for role in ("learner", "coach", "staff")
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4
    # Only documented operations are fuzzed: every API route but the document itself must be one.
    fuzzed = {(o.method.upper(), o.path) for o in operations}
    served = {
        (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == fuzzed, (served ^ fuzzed, "API routes and OpenAPI operations differ")

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):
            for user in users:
                # A fresh token per call: the fuzzer may well revoke the one it was given.
                token, _ = accounts.issue_token(user, dt.timedelta(hours=1))
                db_session.commit()
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        fuzz()
