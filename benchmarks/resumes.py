"""Résumé pipeline figures, beside a bare Celery round trip measured in the same run.

    .venv/bin/python benchmarks/resumes.py                 # PostgreSQL, full sizes
    .venv/bin/python benchmarks/resumes.py --smoke         # a few of each, in seconds
    .venv/bin/python benchmarks/resumes.py --database sqlite

Everything is real and local, started here and stopped at the end: a Redis on a free port, a
migrated database, `celery -A workers worker --concurrency 2`, and a bare Celery worker (one no-op
task, a Redis result backend, the same broker) for the baseline.

- bare round trip: `noop.delay().get()` on the bare worker;
- routing throughput: N résumés with their checks done, N `resumes.route` tasks sent at once,
  until every one is assigned (10 coaches, the worker at concurrency 2);
- upload -> coach notified: one learner uploads distinct PDFs one at a time through the API (the
  in-process WSGI app); the time until the coach's in-app notification row exists: the request,
  the parse in a limited child process, the checks, routing and the notification fan-out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bare_celery  # noqa: E402
from benchmarks.harness import app_env, migrate, percentile, postgres_database, redis_server  # noqa: E402


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-resumes-')}/db.sqlite3"
    migrate(url)
    yield url


def wait(predicate: Any, timeout: float, what: str, interval: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(what)


def describe(label: str, values: list[float]) -> str:
    return (
        f"{label:<34} n={len(values):<4} p50={percentile(values, 50) * 1000:8.1f} ms  "
        f"p99={percentile(values, 99) * 1000:8.1f} ms"
    )


def seed(app: Any, coaches: int, capacity: int) -> tuple[Any, list[Any]]:
    from sqlalchemy import update

    from services import accounts
    from services.db import db
    from services.models import Role, User

    with app.app_context():
        db.session.execute(update(User).where(User.role == Role.COACH).values(active=False))
        learner = accounts.create_user(
            email=f"bench-{uuid.uuid4().hex[:6]}@example.com",
            password="bench-password",
            role=Role.LEARNER,
            name="Bench Learner",
        )
        made = [
            accounts.create_user(
                email=f"coach-{i}-{uuid.uuid4().hex[:6]}@example.com",
                password="bench-password",
                role=Role.COACH,
                name=f"Coach {i}",
                expertise=["ml", "python"] if i % 2 else ["sql"],
                review_capacity=capacity,
            )
            for i in range(coaches)
        ]
        db.session.commit()
        return learner.id, [c.id for c in made]


def routing_throughput(app: Any, count: int) -> float:
    """Seconds to route ``count`` analysed résumés through the real worker."""
    from sqlalchemy import func, select

    from services.db import db, utcnow
    from services.models import Resume, ResumeVersion

    learner_id, _ = seed(app, coaches=10, capacity=count)
    with app.app_context():
        ids = []
        for _ in range(count):
            now = utcnow()
            resume = Resume(learner_id=learner_id, target_role="ML engineer", queued_at=now)
            db.session.add(resume)
            db.session.flush()
            db.session.add(
                ResumeVersion(
                    resume_id=resume.id,
                    number=1,
                    filename="cv.pdf",
                    kind="pdf",
                    content_type="application/pdf",
                    size=1000,
                    sha256="0" * 64,
                    analysis_status="done",
                    analysed_at=now,
                    text="Python PyTorch SQL",
                    checks=[],
                    skills=["python", "deep_learning", "sql"],
                )
            )
            ids.append(resume.id)
        db.session.commit()
        dispatcher = Celery("bench-client", set_as_current=False)
        import config

        dispatcher.config_from_object(config.celery_settings(app.config))
        started = time.perf_counter()
        for resume_id in ids:
            dispatcher.send_task("resumes.route", args=[resume_id])

        def done() -> bool:
            db.session.rollback()
            assigned = db.session.scalar(
                select(func.count(Resume.id)).where(Resume.id.in_(ids), Resume.status == "assigned")
            )
            return assigned == count

        wait(done, 300, "routing did not finish", interval=0.01)
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed


def upload_to_notified(app: Any, samples: int) -> list[float]:
    from sqlalchemy import select

    from services import accounts
    from services.db import db
    from services.models import Notification
    from tests.support_resumes import GOOD_TEXT, make_pdf

    learner_id, coach_ids = seed(app, coaches=10, capacity=samples + 10)
    with app.app_context():
        from services.models import User

        learner = db.session.get(User, learner_id)
        token, _ = accounts.issue_token(learner, dt.timedelta(hours=2))
        db.session.commit()
        client = app.test_client()
        dispatcher = app.extensions["outbox.dispatcher"]

        def one(index: int) -> float:
            pdf = make_pdf([*GOOD_TEXT, f"Reference {uuid.uuid4().hex} {index}"])
            started = time.perf_counter()
            response = client.post(
                "/api/v1/resumes",
                data={"target_role": "ML engineer", "file": (io.BytesIO(pdf), "cv.pdf")},
                headers={"Authorization": f"Bearer {token}"},
                content_type="multipart/form-data",
            )
            assert response.status_code == 201, response.json
            link = f"/coach/reviews/{response.json['id']}"

            def notified() -> bool:
                db.session.rollback()
                return (
                    db.session.scalar(
                        select(Notification.id).where(
                            Notification.kind == "resume_assigned",
                            Notification.user_id.in_(coach_ids),
                            Notification.link.endswith(link),
                        )
                    )
                    is not None
                )

            wait(notified, 60, f"no notification for {link}")
            elapsed = time.perf_counter() - started
            dispatcher.flush()
            return elapsed

        one(-1)  # warm: the worker's first parse imports pypdf in its child
        times = [one(i) for i in range(samples)]
        db.session.remove()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few samples, in seconds")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    bare_samples, route_count, pipeline_samples = (20, 40, 5) if args.smoke else (200, 1000, 100)

    database = postgres_database() if args.database == "postgresql" else sqlite_database()
    with redis_server() as redis_url, database as database_url:
        env = app_env(
            database_url,
            redis_url,
            UPLOAD_DIR=tempfile.mkdtemp(prefix="bench-uploads-"),
            BENCH_BROKER_URL=redis_url,
        )
        os.environ.update({k: env[k] for k in ("INSTANCE_DIR", "SECRET_KEY", "UPLOAD_DIR")})
        bare_celery.use_broker(redis_url)
        worker_args = ["celery", "-A", "workers", "worker", "--concurrency", "2", "--loglevel"]
        bare_args = ["celery", "-A", "benchmarks.bare_celery:bare", "worker", "--concurrency", "2"]
        with (
            process([*worker_args, "WARNING", "--without-gossip", "--without-mingle"], env),
            process([*bare_args, "-Q", "bare", "--loglevel", "WARNING"], env),
        ):
            import config
            from web import create_app

            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": config.normalise_database_url(database_url),
                    "REDIS_URL": redis_url,
                    "RATELIMIT_STORAGE_URI": redis_url,
                    "UPLOAD_DIR": env["UPLOAD_DIR"],
                }
            )
            time.sleep(2)  # let both workers connect
            bare_times = bare_celery.round_trips(bare_samples)
            pipeline = upload_to_notified(app, pipeline_samples)
            elapsed = routing_throughput(app, route_count)

    print(f"résumé benchmarks ({args.database}, worker concurrency 2, smoke={args.smoke})")
    print(describe("bare Celery round trip", bare_times))
    print(describe("upload -> coach notified", pipeline))
    print(
        f"{'routing throughput':<34} n={route_count:<4} {route_count / elapsed:8.1f} résumés/s "
        f"({elapsed:.2f} s)"
    )
    print(
        f"{'pipeline p50 / bare p50':<34} "
        f"{percentile(pipeline, 50) / percentile(bare_times, 50):8.1f}x"
    )


if __name__ == "__main__":
    main()
