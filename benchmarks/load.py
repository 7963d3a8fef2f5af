"""A mixed load against gunicorn + a Celery worker on PostgreSQL, beside bare Flask in the same run.

    .venv/bin/python benchmarks/load.py            # 60 s at 32 users, each side
    .venv/bin/python benchmarks/load.py --smoke    # 5 s at 4 users, each side

It starts everything itself (a PostgreSQL database at TEST_PG_URL, a Redis, gunicorn with the
Procfile's settings, a worker) and prints requests per second and p50/p99 per route, then the same
for bare Flask (one primary-key read per request, benchmarks/bare_app.py) on the same gunicorn
settings, and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness
from benchmarks.locustfile import PASSWORD

LEARNERS = 40


def seed(env: dict[str, str]) -> None:
    """Demo data plus load users, in one process (argon2 per user, no CLI start-up each)."""
    script = f"""
from services import accounts, demo
from services.db import db
from web import create_app
app = create_app()
with app.app_context():
    demo.seed_demo()
    for i in range({LEARNERS}):
        accounts.create_user(email=f"load-learner-{{i}}@example.com", password={PASSWORD!r},
                             role="learner", name=f"Load Learner {{i}}")
    accounts.create_user(email="load-staff@example.com", password={PASSWORD!r}, role="staff",
                         name="Load Staff")
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], cwd=harness.ROOT, env=env, check=True)


def run_locust(host: str, users: int, seconds: int, mode: str) -> list[dict[str, str]]:
    prefix = Path(tempfile.mkdtemp(prefix="bench-locust-")) / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(harness.ROOT / "benchmarks" / "locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=harness.ROOT,
        env={**os.environ, "LOAD_LEARNERS": str(LEARNERS), "LOAD_MODE": mode},
        check=False,
        stdout=None if os.environ.get("LOAD_DEBUG") else subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def show(title: str, rows: list[dict[str, str]]) -> dict[str, str]:
    print(f"\n{title}")
    print(f"{'route':<34} {'requests':>9} {'failures':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    total = rows[-1]
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "all"
        print(
            f"{name:<34} {row['Request Count']:>9} {row['Failure Count']:>9} "
            f"{float(row['Requests/s']):>8.1f} {row['50%']:>7} {row['99%']:>7}"
        )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    users, seconds = (4, 5) if args.smoke else (32, 60)
    with harness.redis_server() as redis_url, harness.postgres_database() as database_url:
        env = harness.app_env(database_url, redis_url)
        seed(env)
        with harness.gunicorn("benchmarks.bare_app:app", env, ready_path="/pk/1") as bare_url:
            bare = show(
                "bare Flask (same gunicorn settings, same database)",
                run_locust(bare_url, users, seconds, "bare"),
            )
        with harness.celery_worker(env), harness.gunicorn("wsgi:app", env) as app_url:
            mixed = show(
                f"Career Services mix ({users} users, {seconds} s)",
                run_locust(app_url, users, seconds, "mix"),
            )
    ratio = float(mixed["Requests/s"]) / max(float(bare["Requests/s"]), 1e-9)
    print(f"\nthroughput ratio, mix / bare Flask: {ratio:.2f}")
    failures = int(mixed["Failure Count"]) + int(bare["Failure Count"])
    print(f"failures: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
