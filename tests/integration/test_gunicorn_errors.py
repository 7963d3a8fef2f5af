"""Through a real gunicorn, started as the Procfile starts it (tests.support_server): the errors
gunicorn answers itself, before the app sees a request, are RFC 9457 problems too; and a request
line the document allows reaches the app."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_DIR, create_database, free_port, upgrade_database
from tests.support_server import gunicorn


@pytest.fixture(scope="module")
def server(redis_server) -> Iterator[int]:
    url = create_database("sqlite")
    upgrade_database(url)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_server.url,
        "BASE_URL": f"http://127.0.0.1:{port}",
        "INSTANCE_DIR": str(RUN_DIR / "gunicorn-instance"),
    }
    with gunicorn("wsgi:app", env, port=port, log_path=RUN_DIR / "gunicorn-errors.log"):
        yield port


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), json.loads(response.read())
    finally:
        conn.close()


def test_a_request_line_over_gunicorns_limit_is_a_414_problem(server):
    status, content_type, body = get(server, "/api/v1/resumes?cursor=" + "1" * 9000)
    assert (status, content_type) == (414, "application/problem+json")
    assert body["code"] == "uri_too_long"
    assert body["status"] == 414
    assert body["type"] == f"http://127.0.0.1:{server}/problems/uri_too_long"
    assert set(body) == {"type", "title", "status", "detail", "code"}


def test_headers_over_gunicorns_limit_are_a_431_problem(server):
    status, content_type, body = get(server, "/api/v1/me", headers={"X-Big": "x" * 9000})
    assert (status, content_type) == (431, "application/problem+json")
    assert body["code"] == "headers_too_large"


def test_a_long_request_line_within_the_limit_reaches_the_app(server):
    # 6,000 bytes: over gunicorn's default 4,094, within the limit gunicorn.conf.py sets.
    status, content_type, body = get(server, "/api/v1/resumes?cursor=" + "1" * 6000)
    assert (status, content_type) == (401, "application/problem+json")
    assert body["code"] == "unauthorized"
