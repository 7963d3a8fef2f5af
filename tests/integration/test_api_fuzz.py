"""schemathesis against the served OpenAPI document, exactly as from outside: ``st run --checks all
--phases examples,coverage,fuzzing`` against the app under a real gunicorn (the Procfile's
settings), signed in as a learner, a coach and staff, on SQLite and PostgreSQL. Every check is on:
no 5xx; every status, content type, header and body as the document says; every request the
document calls invalid refused (415, 422…); every request it calls valid accepted, except the
deliberate refusals listed in DOCUMENTED_REFUSALS with their reasons; a missing or wrong token
401; an unlisted method 405 with Allow.

The same run by hand, against any server (the config: the role's sign-in and the refusals):

    python -m tests.integration.test_api_fuzz EMAIL PASSWORD > st.toml
    SCHEMATHESIS_HOOKS=tests/integration/test_api_fuzz.py st --config-file st.toml run \\
        http://127.0.0.1:5000/api/v1/openapi.json --checks all --phases examples,coverage,fuzzing

(the hooks add refusals_are_the_documented_ones to the checks).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import schemathesis


class Refusal(NamedTuple):
    why: str
    fields: tuple[str, ...]  # the problem's `errors` keys it may name (fnmatch patterns)


# A request the document calls valid that the API refuses on purpose, because what decides it is
# not the request's shape: an order between two fields, what the database holds now (slots, which
# types and coaches are active), the caller's role, the bytes of a file. Each operation lists the
# statuses it may answer such a request with besides schemathesis' own (2xx, 3xx, 401, 403, 404,
# 409, 429), why, and the fields such a refusal names (refusals_are_the_documented_ones checks).
DOCUMENTED_REFUSALS: dict[str, dict[int, Refusal]] = {
    "GET /api/v1/audit": {422: Refusal("`until` must be after `since`.", ("until",))},
    "GET /api/v1/bookings": {422: Refusal("`to` must be after `from`.", ("to",))},
    "GET /api/v1/slots": {
        422: Refusal(
            "`end` before `start` or more than 62 days after it; a type staff made inactive; a "
            "coach who is not active or does not run the type.",
            ("end", "type", "coach_id"),
        ),
    },
    "POST /api/v1/bookings": {
        422: Refusal(
            "A start that is not a free slot now (past, inside the minimum notice, beyond the "
            "horizon, off the grid of start times); a type staff made inactive; a coach who is "
            "not active or does not run the type; an Idempotency-Key used for another request; "
            "`answers` naming a question the type does not have, leaving out a required one, or "
            "not fitting one (a choice not offered, a bad date or link).",
            ("start", "type", "coach_id", "Idempotency-Key", "answers.*"),
        ),
    },
    "POST /api/v1/bookings/{booking_id}/reschedule": {
        422: Refusal(
            "The new start is not a free slot now, or the coach does not run the type.",
            ("start", "coach_id"),
        ),
    },
    "POST /api/v1/waitlist": {
        422: Refusal(
            "A type staff made inactive; a coach who is not active or does not run it; a day "
            "outside the horizon, or a day and time of day no coach works; `answers` that do not "
            "fit the type's intake questions.",
            ("type", "coach_id", "day", "time_of_day", "answers.*"),
        ),
    },
    "GET /api/v1/slots/explain": {
        422: Refusal(
            "A type staff made inactive; a coach who is not active or does not run the type, or "
            "a coach asking of another coach.",
            ("type", "coach_id"),
        ),
    },
    "POST /api/v1/coaches/me/calendars": {
        422: Refusal(
            "An address that is not http(s):// or webcal://, a name the coach already uses, a "
            "sixth calendar.",
            ("name", "url"),
        ),
    },
    "PUT /api/v1/desk/hours": {
        422: Refusal(
            "Windows that end before they start or overlap on a day; an id that names no coach "
            "put on their own hours.",
            ("hours", "hours.*", "holidays.*", "own_hours_coach_ids"),
        ),
    },
    "PUT /api/v1/coaches/me/availability": {
        422: Refusal(
            "Weekly windows or exceptions that end before they start, windows that overlap, an "
            "exception longer than a year.",
            ("rules.*.start", "rules.*.end", "exceptions.*.start", "exceptions.*.end"),
        ),
    },
    "PATCH /api/v1/interview-types/{slug}": {
        422: Refusal(
            "A minimum notice not shorter than the booking horizon.", ("min_notice_hours",)
        ),
    },
    "PUT /api/v1/coaches/{coach_id}/interview-types": {
        422: Refusal(
            "A type staff made inactive; neither or both of `runs_all_types: true` and "
            "`interview_types`.",
            ("interview_types",),
        ),
    },
    "PUT /api/v1/notifications/preferences": {
        422: Refusal(
            "A kind of notification the caller's role does not get (the document names every "
            "role's kinds).",
            ("email.*",),
        ),
    },
    "POST /api/v1/resumes": {
        415: Refusal(
            "A file (or job description file) whose content is not a PDF or DOCX (sniffed, not "
            "declared).",
            ("file", "job_file"),
        ),
        422: Refusal(
            "An empty, damaged, truncated or encrypted file (or job description file), an archive "
            "bomb, a hostile name; a job description both pasted and uploaded.",
            ("file", "job_file", "job_description"),
        ),
    },
    "POST /api/v1/resumes/{resume_id}/versions": {
        415: Refusal("A file whose content is not a PDF or DOCX.", ("file",)),
        422: Refusal(
            "An empty, damaged, truncated or encrypted file, an archive bomb, a hostile name.",
            ("file",),
        ),
    },
    "POST /api/v1/resumes/{resume_id}/versions/{number}/annotations": {
        422: Refusal(
            "A quote that is not in the version's text (or only whitespace), a comment of only "
            "whitespace, kind text without a quote, a pin without a page and point or on a "
            "DOCX, a page beyond the version's pages, rectangles without a PDF page.",
            (
                "quote.exact",
                "quote.prefix",
                "quote.suffix",
                "body",
                "page",
                "point.*",
                "kind",
                "rects",
            ),
        ),
    },
    "POST /api/v1/resumes/{resume_id}/versions/{number}/annotations/{annotation_id}/replies": {
        422: Refusal("A reply of only whitespace.", ("body",)),
    },
    "POST /api/v1/resumes/{resume_id}/assign": {
        422: Refusal("A coach who is not active.", ("coach_id",)),
    },
}


@schemathesis.check
def refusals_are_the_documented_ones(ctx: Any, response: Any, case: Any) -> bool | None:
    """A valid request refused with a status DOCUMENTED_REFUSALS lists (which
    positive_data_acceptance lets pass): the problem names only that refusal's fields."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    listed = DOCUMENTED_REFUSALS.get(f"{case.method.upper()} {case.path}", {})
    refusal = listed.get(response.status_code)
    if refusal is None:
        return None
    named = sorted((response.json() or {}).get("errors") or {})
    others = [n for n in named if not any(fnmatch(n, f) for f in refusal.fields)]
    if not named or others:
        raise AssertionError(
            f"{response.status_code} for {others or 'no field'}: not the documented refusal "
            f"({refusal.why})"
        )
    return True


# The operations that take no token answer alike whoever runs the fuzzer: only the learner's run
# fuzzes them (signing in costs an Argon2 hash each time, the bulk of a run's server time).
TOKENLESS = ("POST /api/v1/auth/token", "GET /api/v1/calendar-feeds/{token}.ics")
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # schemathesis' default, less 5xx

# Bounded: the fuzzing phase draws this many requests per operation (the examples and coverage
# phases make their own fixed set), with a fixed seed, so a failure reproduces.
EXAMPLES_PER_OPERATION = 5
SEED = 20261203


def schemathesis_config(email: str, password: str, tokenless: bool = True) -> str:
    """The schemathesis.toml of a run signed in as ``email``: a fresh token from POST
    /api/v1/auth/token whenever one stops working (the fuzzer revokes its own), and the
    refusals above; without ``tokenless``, the TOKENLESS operations are left out."""
    lines = [
        "[auth.dynamic.openapi.bearerAuth]",
        'path = "/api/v1/auth/token"',
        f"payload = {{ email = {json.dumps(email)}, password = {json.dumps(password)} }}",
        'extract_selector = "/token"',
    ]
    for operation, refusals in DOCUMENTED_REFUSALS.items():
        statuses = ACCEPTED + [str(status) for status in sorted(refusals)]
        lines += [
            "",
            "[[operations]]",
            f"include-name = {json.dumps(operation)}",
            f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}",
        ]
    if not tokenless:
        for operation in TOKENLESS:
            lines += ["", "[[operations]]", f"include-name = {json.dumps(operation)}"]
            lines.append("enabled = false")
    return "\n".join(lines) + "\n"


def st_command(config: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{url}/api/v1/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        # One worker thread each: hypothesis reads lambdas' source with the ast module, which
        # CPython 3.11 does not make safe across threads ("AST constructor recursion depth").
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--no-color",
    ]


@pytest.fixture(scope="module")
def demo_users(live_app: Any) -> dict[str, tuple[str, str]]:
    """The demo desk (`flask seed-demo`): coaches with hours, bookings and résumés to act on."""
    from services import demo
    from services.db import db

    with live_app.app_context():
        users = demo.seed_demo()
        db.session.commit()
        db.session.remove()
    return {
        role: next((u.email, u.password) for u in users if u.role == role)
        for role in ("learner", "coach", "staff")
    }


def test_every_api_route_is_in_the_document(live_app):
    """Only documented operations are fuzzed: every API route but the document itself is one."""
    app = live_app
    document = app.test_client().get("/api/v1/openapi.json").json
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    served = {
        (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == documented, served ^ documented
    named = {(name.split(" ", 1)[0], name.split(" ", 1)[1]) for name in DOCUMENTED_REFUSALS}
    assert named <= documented
    tokenless = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method != "parameters" and not operation.get("security")
    }
    assert tokenless == set(TOKENLESS)


@pytest.fixture(scope="module")
def st_runs(
    live_server: str, demo_users: dict[str, tuple[str, str]], tmp_path_factory: Any
) -> dict[str, tuple[int, str]]:
    """One `st run` per role, the three at once (their own processes, so the suite waits for the
    slowest, not the sum): each role's exit code and output."""
    started = {}
    for role, (email, password) in demo_users.items():
        folder = tmp_path_factory.mktemp(f"schemathesis-{role}")
        config = folder / "schemathesis.toml"
        config.write_text(schemathesis_config(email, password, tokenless=role == "learner"))
        output = (folder / "output.txt").open("w")
        process = subprocess.Popen(
            st_command(config, live_server),
            env={**os.environ, "SCHEMATHESIS_HOOKS": __file__},  # refusals_are_the_documented_ones
            # schemathesis keeps a cache in the working directory: a fresh one each run.
            cwd=folder,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started[role] = (process, output, folder)
    results = {}
    for role, (process, output, folder) in started.items():
        try:
            code = process.wait(timeout=900)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        output.close()
        results[role] = (code, (folder / "output.txt").read_text())
    return results


# The three runs share the test's time with their module fixture (pytest-timeout counts setup): on
# a loaded two-core machine they take longer than the suite's default, and each has its own bound.
@pytest.mark.timeout(960)
@pytest.mark.parametrize("role", ["learner", "coach", "staff"])
def test_the_api_passes_schemathesis_with_every_check(role, st_runs):
    code, output = st_runs[role]
    lines = output.strip().splitlines()
    assert code == 0, f"{lines[-1] if lines else 'no output'}\n{output[-30000:]}"
    for phase in ("Examples", "Coverage", "Fuzzing"):
        assert re.search(rf"✅  {phase} \(in ", output), output[-5000:]
    assert re.search(r"\d+ generated, \d+ passed", output), output[-5000:]


if __name__ == "__main__":
    print(schemathesis_config(sys.argv[1], sys.argv[2]), end="")
