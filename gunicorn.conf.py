"""gunicorn's settings, read by gunicorn itself from the working directory (the Procfile names it
too). The command line still sets the bind address, workers and threads.

gunicorn answers a request it cannot parse (a request line or headers over its limits, a bad
request line) before the app sees it. Those answers are RFC 9457 problems
(application/problem+json) like every other error, not gunicorn's HTML page."""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

# gunicorn's largest request line (8190 bytes, its default is 4094): every request the OpenAPI
# document describes fits, so the app itself answers a bad value with a 422 problem.
limit_request_line = 8190


def post_worker_init(worker: Any) -> None:
    """Once the app is loaded in a worker: gunicorn's own error answers become problems."""
    from web.problems import PROBLEM_TYPE, problem_body

    # A bare Flask app beside ours (the benchmarks) has no BASE_URL: its problems are relative.
    base_url = worker.wsgi.config.get("BASE_URL", "")

    def write_problem(sock: Any, status: int, reason: str, message: str) -> None:
        body = json.dumps(problem_body(status, None, message or None, base_url)).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        util.write_nonblock(sock, head.encode("latin-1") + body)

    # The one function gunicorn's workers answer their own errors with (Worker.handle_error).
    util.write_error = write_problem


def child_exit(server: Any, worker: Any) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set (several workers, one /metrics), a dead worker's live
    figures are dropped; its counters stay in the sum."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
