"""Where a hot path's time goes: pyinstrument over many requests of one route, in-process.

    .venv/bin/python benchmarks/hotpaths.py /faq
    .venv/bin/python benchmarks/hotpaths.py "/api/v1/slots?type=coding" --token --requests 300
    .venv/bin/python benchmarks/hotpaths.py / --database postgresql --depth 12

The database is seeded as benchmarks/ceiling.py seeds it (the FAQ, 10 coaches, learners with
tokens). Requests go through the WSGI app directly (no server, no client library), so what the
profile shows is the app's own cost per request. Also prints the SQL statements per request
(those SQLAlchemy executes: a read straight on the DBAPI connection, services.db.fast_rows, is
not counted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import ceiling, harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--token", action="store_true", help="send a learner's bearer token")
    parser.add_argument("--depth", type=int, default=14, help="levels of the profile to print")
    parser.add_argument("--header", action="append", default=[], help="NAME: VALUE")
    args = parser.parse_args()

    from pyinstrument import Profiler
    from sqlalchemy import event
    from werkzeug.test import EnvironBuilder

    with harness.redis_server() as redis_url, ceiling.database(args.database) as database_url:
        data = ceiling.seed(database_url, redis_url, learners=5)
        app = data["app"]
        path = args.path.replace("{today}", str(dt.date.today()))
        headers = dict(h.split(": ", 1) for h in args.header)
        if args.token:
            headers["Authorization"] = f"Bearer {data['tokens'][0]}"
        environ = EnvironBuilder(path=path, headers=headers).get_environ()

        def once() -> tuple[str, bytes]:
            status: list[str] = []

            def start_response(code: str, *_: Any) -> None:
                status.append(code)

            body = b"".join(app(dict(environ), start_response))
            return status[0], body

        for _ in range(20):  # imports, compiled templates, pools
            code, body = once()
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        with app.app_context():
            from services.db import db

            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        code, body = once()
        event.remove(engine, "before_cursor_execute", count)
        print(f"{path}: {code}, {len(body):,} bytes, {statements[0]} SQL statements")
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.requests):
            once()
        per = (time.perf_counter() - started) / args.requests * 1000
        per_cpu = (time.process_time() - cpu) / args.requests * 1000
        # CPU time is the figure to compare on a shared machine (wall time waits for the CPU).
        print(
            f"{per_cpu:.3f} ms CPU, {per:.3f} ms wall per request unprofiled "
            f"({args.requests} requests)"
        )
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(args.requests):
            once()
        profiler.stop()
        print(
            profiler.output_text(
                unicode=True, color=False, show_all=False, short_mode=False
            ).replace("\n\n", "\n")
            if args.depth <= 0
            else _trimmed(profiler, args.depth)
        )


def _trimmed(profiler: Any, depth: int) -> str:
    """The profile's tree, cut at ``depth`` levels below the WSGI call."""
    lines = profiler.output_text(unicode=True, color=False, show_all=True).splitlines()
    kept = []
    for line in lines:
        stripped = line.lstrip(" │├└─")
        indent = (len(line) - len(stripped)) // 3
        if indent <= depth:
            kept.append(line)
    return "\n".join(kept)


if __name__ == "__main__":
    main()
