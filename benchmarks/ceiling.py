"""How close the hot paths come to bare Flask: wrk against the app and bare routes, alternating.

    .venv/bin/python benchmarks/ceiling.py                      # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/ceiling.py --database sqlite    # one of them
    .venv/bin/python benchmarks/ceiling.py --smoke              # a second per measurement

It starts everything itself (benchmarks/harness.py): a Redis, a migrated database (a SQLite file, or
a fresh PostgreSQL database at TEST_PG_URL), the app under gunicorn as scripts/run.sh serves it
(gunicorn.conf.py, 2 workers x 4 threads, ``wsgi:app``) and bare Flask (benchmarks/bare_app.py:
``/hello``, an 8 KB Jinja page, a primary-key read through Flask-SQLAlchemy) under the same
gunicorn settings. The load generator is wrk (Debian package ``wrk``), which costs little CPU, so
on a small machine the figures are the servers', not the client's.

Each row of the table runs the app's route and its bare baseline one after the other, A B A B, for
``--rounds`` rounds, and prints each round's ratio (app req/s / bare req/s) and their median, beside
the goal. The machine may be shared: a ratio measured in one run is what to compare, not req/s.

After the table: the RSS of each gunicorn worker after 10,000 requests of the public and API
routes, and its growth in the first and the second half.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import booking, harness  # noqa: E402

COACHES = 10
CONNECTIONS = 16
BOOKING_CONNECTIONS = 32


# --- wrk ------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int = 0
    socket_errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    reruns: int = 0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(
    url: str,
    seconds: float,
    connections: int = CONNECTIONS,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    workers: list[int] | None = None,
) -> WrkResult:
    """wrk against ``url``. With ``workers`` (the server's worker pids), a run whose keep-alive
    connections all landed on one worker is thrown away and run again (see ``spread``)."""
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    if script is not None:
        command += ["--script", str(script)]
    port = port_of(url)
    reruns = 0
    while True:
        run = subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)
        if workers:
            time.sleep(0.3)
            held = spread(port, workers)
            if min(held.values()) < MIN_PER_WORKER and reruns < MAX_RERUNS:
                run.kill()
                run.communicate()
                reruns += 1
                time.sleep(0.5)  # the old connections close
                continue
        out, _ = run.communicate()
        if run.returncode:
            raise subprocess.CalledProcessError(run.returncode, command)
        break
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    statuses = re.search(r"^statuses (.*)$", out, re.MULTILINE)
    return WrkResult(
        rps=rps,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        statuses=json.loads(statuses.group(1)) if statuses else {},
        reruns=reruns,
    )


# wrk opens its connections at once and keeps them; gunicorn's workers race to accept them, and
# now and then one worker wins them all, so the run measures one core, not two (seen: bare /hello
# 2,500-3,500 req/s with 16/0, 8,000-10,500 with anything from 15/1 to 8/8). Such a run says
# nothing about the app against its baseline: it is run again.
MIN_PER_WORKER = 4  # a worker with fewer than its four threads busy idles between requests
MAX_RERUNS = 20


def spread(port: int, workers: list[int]) -> dict[int, int]:
    """How many established client connections to ``port`` each worker holds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # ESTABLISHED
                    inodes.add(fields[9])
    held = {}
    for pid in workers:
        count = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        count += 1
        held[pid] = count
    return held


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (scripts/lib.sh ensure_wrk does it)")


# Each request a learner of its own (their tokens in turn) and the next of the offered slot times,
# so bookings spread over every time and coach; statuses counted and printed by done().
BOOKING_SCRIPT = """
local tokens = {%(tokens)s}
local starts = {%(starts)s}
local n = 0
request = function()
  n = n + 1
  local body = '{"type":"coding","start":"' .. starts[(n - 1) %% #starts + 1] .. '"}'
  return wrk.format("POST", "/api/v1/bookings", {
    ["Authorization"] = "Bearer " .. tokens[(n - 1) %% #tokens + 1],
    ["Content-Type"] = "application/json",
  }, body)
end
s201, s409, s4xx, s5xx = 0, 0, 0, 0
response = function(status, headers, body)
  if status == 201 then s201 = s201 + 1
  elseif status == 409 then s409 = s409 + 1
  elseif status >= 500 then s5xx = s5xx + 1
  else s4xx = s4xx + 1 end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local t = threads[1]
  io.write(string.format('statuses {"201": %%d, "409": %%d, "other 4xx": %%d, "5xx": %%d}\\n',
    t:get("s201"), t:get("s409"), t:get("s4xx"), t:get("s5xx")))
end
"""

# The public and API routes in turn (for the memory check).
MIX_SCRIPT = """
local paths = {%(paths)s}
local auth = "Bearer %(token)s"
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n - 1) %% #paths + 1], {["Authorization"] = auth})
end
"""


def lua_strings(values: list[str]) -> str:
    return ", ".join(json.dumps(v) for v in values)


# --- the servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        with harness.postgres_database() as url:
            yield url
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-ceiling-')}/db.sqlite3"
        harness.migrate(url)
        yield url


def seed(database_url: str, redis_url: str, learners: int) -> dict[str, Any]:
    """The FAQ and home page's content, ``COACHES`` coaches with weekly hours, learners with
    tokens; and the slot times four weeks offer (what the bookings pick from)."""
    from services import faq
    from services.db import db

    data = booking.seed(database_url, redis_url, learners, coaches=COACHES)
    app = data["app"]
    with app.app_context():
        faq.load_seed()
        db.session.commit()
    _, _, found = booking.in_process_slots(app, 1)
    data["starts"] = [start.isoformat() for start in found]
    return data


def empty_calendar(database_url: str) -> None:
    """No bookings: each round of bookings finds the same free calendar (and the same learners
    with nothing booked), not what the rounds before it left."""
    import sqlalchemy

    import config

    engine = sqlalchemy.create_engine(config.normalise_database_url(database_url))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("TRUNCATE booking CASCADE"))
    engine.dispose()


def worker_pids(port: int) -> list[int]:
    """The gunicorn workers serving ``port``: processes with its --bind whose parent has it too."""
    needle = f"127.0.0.1:{port}".encode()
    matching: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes().split(b"\0"):
                stat = (entry / "stat").read_text()
                matching[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return sorted(pid for pid, parent in matching.items() if parent in matching)


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    path: str
    baseline: str
    goal: float
    headers: dict[str, str] = field(default_factory=dict)
    script: Path | None = None
    connections: int = CONNECTIONS
    # Run before each round of the app (the bookings row empties the calendar it filled).
    reset: Callable[[], None] | None = None


def measure(
    row: Row, app_url: str, bare_url: str, seconds: float, rounds: int
) -> tuple[list[float], list[WrkResult], list[WrkResult]]:
    ratios, apps, bares = [], [], []
    app_workers, bare_workers = worker_pids(port_of(app_url)), worker_pids(port_of(bare_url))
    for _ in range(rounds):
        if row.reset is not None:
            row.reset()
        ours = wrk(
            app_url + row.path, seconds, row.connections, row.headers, row.script, app_workers
        )
        bare = wrk(
            bare_url + BASELINES[row.baseline], seconds, row.connections, workers=bare_workers
        )
        apps.append(ours)
        bares.append(bare)
        ratios.append(ours.rps / bare.rps)
    return ratios, apps, bares


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


BASELINES = {"hello": "/hello", "page": "/page", "pk": "/pk/1"}
BASELINE_NAMES = {
    "hello": "bare /hello",
    "page": "bare 8 KB Jinja page",
    "pk": "bare PK read (Flask-SQLAlchemy)",
}


def run_database(kind: str, args: argparse.Namespace) -> list[str]:
    seconds = args.seconds
    learners = 300 if args.smoke else 4000
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    with harness.redis_server() as redis_url, database(kind) as database_url:
        os.environ.setdefault(
            "INSTANCE_DIR", harness.app_env(database_url, redis_url)["INSTANCE_DIR"]
        )
        data = seed(database_url, redis_url, learners)
        env = harness.app_env(database_url, redis_url, BOOKING_COACH_DAILY_CAP="8")
        token = data["tokens"][0]
        coach = data["pk_ids"][0]
        today = dt.date.today()
        auth = {"Authorization": f"Bearer {token}"}
        week = f"start={today}&end={today + dt.timedelta(days=6)}&tz=America/New_York"
        month = f"start={today}&end={today + dt.timedelta(days=27)}&tz=America/New_York"
        scripts = Path(tempfile.mkdtemp(prefix="bench-ceiling-lua-"))
        booking_script = scripts / "bookings.lua"
        booking_script.write_text(
            BOOKING_SCRIPT
            % {
                "tokens": lua_strings(data["tokens"][1:]),
                "starts": lua_strings(data["starts"]),
            }
        )
        rows = [
            Row("GET /faq (anonymous)", "/faq", "hello", 0.5),
            Row("GET /faq (anonymous)", "/faq", "page", 0.9),
            Row("GET / (anonymous)", "/", "hello", 0.5),
            Row("GET / (anonymous)", "/", "page", 0.9),
            Row("GET /healthz", "/healthz", "hello", 0.8),
            Row(
                "GET /api/v1/slots 1 week, 1 coach",
                f"/api/v1/slots?type=coding&{week}&coach_id={coach}",
                "hello",
                0.25,
                auth,
            ),
            Row(
                f"GET /api/v1/slots 4 weeks, {COACHES} coaches",
                f"/api/v1/slots?type=coding&{month}",
                "pk",
                0.3,
                auth,
            ),
        ]
        if kind == "postgresql":
            rows.append(
                Row(
                    "POST /api/v1/bookings (32 clients)",
                    "/api/v1/bookings",
                    "pk",
                    0.3,
                    script=booking_script,
                    connections=BOOKING_CONNECTIONS,
                    reset=lambda: empty_calendar(database_url),
                )
            )
        with (
            harness.gunicorn("wsgi:app", env) as app_url,
            harness.gunicorn("benchmarks.bare_app:app", env, ready_path="/hello") as bare_url,
        ):
            # First requests import code, compile templates and fill the pools.
            for path in ("/faq", "/", "/healthz"):
                wrk(app_url + path, 1)
            wrk(app_url + rows[5].path, 1, headers=auth)
            for path in BASELINES.values():
                wrk(bare_url + path, 1)
            say(
                f"{kind}: wrk, 1 thread, {CONNECTIONS} connections (bookings "
                f"{BOOKING_CONNECTIONS}), {seconds:.0f} s each, {args.rounds} rounds of A B; "
                f"gunicorn 2 workers x 4 threads"
            )
            say(
                f"{'route':<40} {'baseline':<32} {'app req/s':>10} {'bare req/s':>10} "
                f"{'ratios':<18} {'median':>6}  goal"
            )
            failures = 0
            for row in rows:
                if args.only and args.only not in row.name:
                    continue
                ratios, apps, bares = measure(row, app_url, bare_url, seconds, args.rounds)
                median = statistics.median(ratios)
                verdict = "met" if median >= row.goal else "NOT met"
                each = " ".join(f"{r:.2f}" for r in ratios)
                say(
                    f"{row.name:<40} {BASELINE_NAMES[row.baseline]:<32} "
                    f"{statistics.median(a.rps for a in apps):>10.0f} "
                    f"{statistics.median(b.rps for b in bares):>10.0f} {each:<18} "
                    f"{median:>6.2f}  >= {row.goal} {verdict}"
                )
                p50s = ", ".join(f"{a.p50_ms:.1f}" for a in apps)
                bare_p50s = ", ".join(f"{b.p50_ms:.1f}" for b in bares)
                say(f"{'':<4}p50 ms app {p50s}; bare {bare_p50s}")
                reruns = sum(r.reruns for r in (*apps, *bares))
                if reruns:
                    say(f"{'':<4}runs repeated (every connection on one worker): {reruns}")
                for result in apps:
                    if result.statuses:
                        say(f"{'':<4}statuses {json.dumps(result.statuses)}")
                    elif result.non_2xx or result.socket_errors:
                        say(
                            f"{'':<4}non-2xx {result.non_2xx}, socket errors {result.socket_errors}"
                        )
                        failures += 1
                    if result.statuses.get("5xx"):
                        failures += 1
            say()
            if not args.no_memory:
                memory(app_url, token, 2_000 if args.smoke else 10_000, say)
                say()
        if failures:
            say(f"{failures} measurements had errors")
            sys.exit(1)
    return lines


def memory(app_url: str, token: str, total: int, say: Any) -> None:
    """RSS of each app worker before and after two halves of ``total`` requests of the mix."""
    port = int(app_url.rsplit(":", 1)[1])
    pids = worker_pids(port)
    today = dt.date.today()
    paths = [
        "/faq",
        "/",
        "/healthz",
        f"/api/v1/slots?type=coding&start={today}&tz=America/New_York",
    ]
    script = Path(tempfile.mkdtemp(prefix="bench-ceiling-lua-")) / "mix.lua"
    script.write_text(MIX_SCRIPT % {"paths": lua_strings(paths), "token": token})

    def requests(count: int) -> None:
        while count > 0:  # wrk runs for a time, not a count: a second at a time until done
            count -= wrk(app_url + "/", 1, 8, script=script).requests

    before = {pid: rss_kib(pid) for pid in pids}
    requests(total // 2)
    half = {pid: rss_kib(pid) for pid in pids}
    requests(total // 2)
    after = {pid: rss_kib(pid) for pid in pids}
    say(f"gunicorn worker RSS, {total:,} requests (FAQ, home, healthz, slots in turn):")
    for pid in pids:
        say(
            f"    worker {pid}: {before[pid] / 1024:.1f} MiB -> {half[pid] / 1024:.1f} MiB "
            f"(first half {(half[pid] - before[pid]) / 1024:+.1f}) -> "
            f"{after[pid] / 1024:.1f} MiB (second half {(after[pid] - half[pid]) / 1024:+.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one round of a second each")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--only", default=None, help="measure only the rows whose route contains this text"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the RSS measurement")
    args = parser.parse_args()
    args.seconds = args.seconds or (1.0 if args.smoke else 5.0)
    args.rounds = args.rounds or (1 if args.smoke else 3)
    ensure_wrk()
    # Stopped from outside (a timeout): the servers' context managers still stop them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run_database(kind, args)


if __name__ == "__main__":
    main()
