"""How fast a notification goes from commit to an email received, beside a bare Celery round trip.

    .venv/bin/python benchmarks/notifications.py            # 200 samples, 2,000 notifications
    .venv/bin/python benchmarks/notifications.py --smoke    # a few of each, in seconds
    .venv/bin/python benchmarks/notifications.py --database postgresql

Everything is real and local, started by this script and stopped at the end: a Redis on a free
port, a migrated database (a temporary SQLite file, or a temporary PostgreSQL database at
TEST_PG_URL), an SMTP server (aiosmtpd), `celery -A workers worker` and `celery -A workers beat`,
and a bare Celery worker for the baseline (benchmarks/bare_celery.py: one no-op task, a Redis
result backend, the same broker settings). Measured in one run, on one machine:

- bare round trip: `noop.delay().get()` on the bare worker (publish, run, store and fetch a result);
- commit -> email: from `commit()` of a transaction that recorded an outbox event to the moment the
  SMTP server has the message (web dispatcher -> outbox.process -> notifications.deliver -> SMTP);
- throughput: 2,000 notifications committed in batches of 100, until the last email arrives, in
  two halves, with the RSS of the app's worker (main process and each pool process) read before
  and after each: memory should not grow in the second half.

Beside commit -> email it prints where that time went, from the times the worker stores anyway
(the event's ``processed_at``, the delivery's ``created_at``) and the time each email arrived: no
probe is added to the path measured.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bare_celery
from benchmarks.harness import ROOT, free_port, percentile, wait_for_port

# --- the parts ---------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that notes when each recipient's message arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.arrived_wall: dict[str, float] = {}  # time.time(), to set beside database timestamps
        self.count = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now, wall = time.perf_counter(), time.time()
        with self.changed:
            for rcpt in envelope.rcpt_tos:
                self.arrived.setdefault(rcpt, now)
                self.arrived_wall.setdefault(rcpt, wall)
            self.count += 1
            self.changed.notify_all()
        return "250 OK"

    def wait_for(self, address: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        with self.changed:
            while address not in self.arrived:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no email to {address} within {timeout}s")
                self.changed.wait(left)
            return self.arrived[address]

    def wait_for_count(self, count: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.count} of {count} emails within {timeout}s")
                self.changed.wait(left)
            return time.perf_counter()


def start_process(args: list[str], env: dict[str, str], log: Path, ready: bytes | None) -> Any:
    handle = log.open("ab")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if ready is None:
        return process
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ready in log.read_bytes():
            return process
        if process.poll() is not None:
            raise RuntimeError(f"{args[:5]} exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"{args[:5]} not ready:\n{log.read_text()[-3000:]}")


def worker_rss(pid: int) -> tuple[float, list[float]]:
    """The RSS in MiB of the Celery worker ``pid`` and of each of its pool processes."""

    def rss(of: int) -> float:
        status = Path(f"/proc/{of}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return rss(pid), [rss(child) for child in sorted(children)]


def stop_process(process: Any) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def make_database(kind: str, work: Path) -> tuple[str, Any]:
    """A new database and a function that drops it."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'bench.sqlite3'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import config

    admin_url = config.normalise_database_url(
        os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    name = f"cs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def describe(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{name:<34} p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms"
        f"   (n={len(ms)}, min {min(ms):.1f}, max {max(ms):.1f})"
    )


# --- the measurements ----------------------------------------------------------------------------


def make_learners(app: Any, count: int) -> list[tuple[int, str]]:
    """Learners inserted in bulk (one password hash for all: hashing is not what is measured)."""
    from services import accounts
    from services.db import db
    from services.models import User

    password_hash = accounts.hash_password("benchmark-password")
    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        users = [
            User(
                email=f"bench-{tag}-{i}@example.com",
                name=f"Bench {i}",
                role="learner",
                timezone="UTC",
                password_hash=password_hash,
            )
            for i in range(count)
        ]
        db.session.add_all(users)
        db.session.commit()
        result = [(u.id, u.email) for u in users]
        db.session.remove()
    return result


def commit_to_email(
    app: Any, inbox: Inbox, learners: list[tuple[int, str]], walls: dict[int, float] | None = None
) -> list[float]:
    from services import outbox
    from services.db import db

    samples = []
    with app.app_context():
        for user_id, email in learners:
            outbox.record("account.registered", user_id=user_id)
            if walls is not None:
                walls[user_id] = time.time()
            started = time.perf_counter()
            db.session.commit()
            samples.append(inbox.wait_for(email) - started)
        db.session.remove()
    return samples


def breakdown(
    app: Any, inbox: Inbox, learners: list[tuple[int, str]], walls: dict[int, float]
) -> list[tuple[str, list[float]]]:
    """Where the commit -> email time went, from the times the worker stored (same machine clock):
    commit -> event claimed by the worker (web commit, hand-off thread, Redis, the worker picking
    the task up, task and session setup); claimed -> deliveries being made (the handler's reads);
    made -> email received (inserts, render, the claim's commit, composing, SMTP)."""
    from sqlalchemy import select

    from services.db import db
    from services.models import Delivery, OutboxEvent

    ids = [user_id for user_id, _ in learners]
    with app.app_context():
        processed = {
            int(payload["user_id"]): at.timestamp()
            for payload, at in db.session.execute(
                select(OutboxEvent.payload, OutboxEvent.processed_at).where(
                    OutboxEvent.kind == "account.registered"
                )
            )
            if at is not None and payload.get("user_id") in walls
        }
        made = {
            user_id: at.timestamp()
            for user_id, at in db.session.execute(
                select(Delivery.user_id, Delivery.created_at).where(Delivery.user_id.in_(ids))
            )
        }
        db.session.remove()
    stages: list[tuple[str, list[float]]] = [
        ("  commit -> worker claims event", []),
        ("  claim -> deliveries made", []),
        ("  made -> email received", []),
    ]
    for user_id, email in learners:
        if user_id not in processed or user_id not in made:
            continue
        arrived = inbox.arrived_wall[email]
        stages[0][1].append(processed[user_id] - walls[user_id])
        stages[1][1].append(made[user_id] - processed[user_id])
        stages[2][1].append(arrived - made[user_id])
    return stages


def throughput(app: Any, inbox: Inbox, learners: list[tuple[int, str]], timeout: float) -> float:
    from services import outbox
    from services.db import db

    expected = inbox.count + len(learners)
    started = time.perf_counter()
    with app.app_context():
        for offset in range(0, len(learners), 100):
            for user_id, _ in learners[offset : offset + 100]:
                outbox.record("account.registered", user_id=user_id)
            db.session.commit()
        db.session.remove()
    return inbox.wait_for_count(expected, timeout) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few samples, in seconds")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes")
    options = parser.parse_args()
    if options.smoke:
        options.samples, options.notifications = 5, 20
    warmup = 2 if options.smoke else 20

    work = Path(tempfile.mkdtemp(prefix="cs-bench-"))
    os.environ["INSTANCE_DIR"] = str(work / "instance")
    os.environ.setdefault("SECRET_KEY", "benchmark-secret")
    sys.path.insert(0, str(ROOT))
    processes: list[Any] = []
    drop_database = None
    controller = None
    try:
        redis_port = free_port()
        processes.append(
            start_process(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--dir",
                    str(work),
                    "--maxmemory-policy",
                    "noeviction",
                ],
                dict(os.environ),
                work / "redis.log",
                None,
            )
        )
        wait_for_port(redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        bare_celery.use_broker(f"redis://127.0.0.1:{redis_port}/1")

        from aiosmtpd.controller import Controller

        inbox = Inbox()
        smtp_port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()

        database_url, drop_database = make_database(options.database, work)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "BASE_URL": "http://bench.example",
            "BENCH_BROKER_URL": bare_celery.bare.conf.broker_url,
        }
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        processes.append(
            start_process(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "benchmarks.bare_celery:bare",
                    "worker",
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "-Q",
                    "bare",
                    "--hostname",
                    "bare@%h",
                ],
                env,
                work / "bare-worker.log",
                b" ready.",
            )
        )
        app_worker = start_process(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "--concurrency",
                str(options.concurrency),
                "--hostname",
                "app@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
            work / "worker.log",
            b" ready.",
        )
        processes.append(app_worker)
        processes.append(
            start_process(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers",
                    "beat",
                    "--loglevel",
                    "WARNING",
                    "--schedule",
                    str(work / "beat-schedule"),
                ],
                env,
                work / "beat.log",
                None,
            )
        )

        from tests.conftest import app_config  # after INSTANCE_DIR is set
        from web import create_app

        app = create_app(
            {
                **app_config(database_url, redis_url),
                "TESTING": False,
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": smtp_port,
                "BASE_URL": "http://bench.example",
            }
        )
        logging.getLogger().setLevel(logging.WARNING)  # create_app logs at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        learners = make_learners(app, warmup + options.samples + options.notifications)

        bare_samples = bare_celery.round_trips(options.samples, warmup)
        commit_to_email(app, inbox, learners[:warmup])
        walls: dict[int, float] = {}
        sampled = learners[warmup : warmup + options.samples]
        pipeline = commit_to_email(app, inbox, sampled, walls)
        # The throughput run in two halves, the worker's memory read before and after each.
        rest = learners[warmup + options.samples :]
        half = len(rest) // 2
        memory = [worker_rss(app_worker.pid)]
        elapsed = 0.0
        for part in (rest[:half], rest[half:]):
            elapsed += throughput(app, inbox, part, timeout=max(60, len(part)))
            memory.append(worker_rss(app_worker.pid))

        ratio = statistics.median(pipeline) / statistics.median(bare_samples)
        print(
            f"machine: {os.cpu_count()} CPU(s); database {options.database}; "
            f"worker concurrency {options.concurrency}; Redis, SMTP, worker, beat all local"
        )
        print(describe("bare Celery no-op round trip", bare_samples))
        print(describe("commit -> email received", pipeline))
        print(f"{'p50 ratio (goal: within 2x)':<34} {ratio:.2f}x")
        for name, stage in breakdown(app, inbox, sampled, walls):
            if stage:
                print(describe(name, stage))
        rate = options.notifications / elapsed
        print(
            f"{'throughput':<34} {options.notifications:,} notifications (email + in-app) "
            f"in {elapsed:.2f} s = {rate:,.0f} emails/s"
        )
        (main0, pool0), (main1, pool1), (main2, pool2) = memory
        print(
            f"{'Celery worker RSS, MiB':<34} main {main0:.1f} -> {main1:.1f} -> {main2:.1f}; "
            f"{len(pool2)} pool processes {sum(pool0):.1f} -> {sum(pool1):.1f} -> "
            f"{sum(pool2):.1f} (after 0, {half:,}, {len(rest):,} notifications); growth: "
            f"first half {sum(pool1) - sum(pool0) + main1 - main0:+.1f}, second half "
            f"{sum(pool2) - sum(pool1) + main2 - main1:+.1f}"
        )
    finally:
        for process in reversed(processes):
            stop_process(process)
        if controller is not None:
            controller.stop()
        if drop_database is not None:
            drop_database()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
