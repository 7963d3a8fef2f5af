"""The staff console's heavy reads, beside a bare primary-key read in the same run.

    .venv/bin/python benchmarks/staff.py               # PostgreSQL; 1,000 and 100,000 résumés
    .venv/bin/python benchmarks/staff.py --smoke              # 100 and 1,000, a few seconds
    .venv/bin/python benchmarks/staff.py --database sqlite

Everything is real and local, started here and stopped at the end (benchmarks/harness.py): a Redis
on a free port, a migrated database, gunicorn with the Procfile's settings serving `wsgi:app`, and
gunicorn serving `benchmarks.bare_app:app` (bare Flask, one primary-key read) on the same settings.
For each size the database is filled by bulk inserts (résumés with a version, an assignment and,
for the reviewed half, a review; sessions over twelve weeks) and vacuumed and analysed (the state
autovacuum keeps a live database in), then, with 8 client threads:

- bare Flask   GET /pk/<id>
- queue page   GET /staff/queue (a staff browser session, signed in with two-factor)
- stats API    GET /api/v1/stats (a staff bearer token)

and, in-process, the SQL statements one queue page runs at each size (the view called with the
staff user signed in): the page's cost should not grow with the data, nor its query count.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402

PASSWORD = "benchmark staff passphrase"


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        with harness.postgres_database() as url:
            yield url
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-staff-')}/db.sqlite3"
        harness.migrate(url)
        yield url


def seed(app: Any, target: int) -> dict[str, Any]:
    """Top the database up to ``target`` résumés (bulk core inserts)."""
    from sqlalchemy import func, insert, select

    from services import accounts
    from services.booking import interview_types
    from services.db import db, utcnow
    from services.models import (
        Assignment,
        Booking,
        InterviewType,
        Resume,
        ResumeVersion,
        Review,
        User,
    )

    with app.app_context():
        if accounts.find_by_email("bench-staff@example.com") is None:
            accounts.create_user(email="bench-staff@example.com", password=PASSWORD, role="staff")
            accounts.create_user(email="bench-api@example.com", password=PASSWORD, role="staff")
            accounts.create_user(
                email="bench-learner@example.com", password=PASSWORD, role="learner"
            )
            for i in range(50):
                accounts.create_user(
                    email=f"bench-learner-{i}@example.com", password=PASSWORD, role="learner"
                )
            for i in range(20):
                accounts.create_user(
                    email=f"bench-coach-{i}@example.com",
                    password=PASSWORD,
                    role="coach",
                    name=f"Coach {i:02d}",
                    expertise=["ml", "python"][: i % 3],
                    review_capacity=5000,
                )
            interview_types.ensure_defaults()
            db.session.commit()
        learner = accounts.find_by_email("bench-learner@example.com")
        assert learner is not None
        coaches = list(db.session.scalars(select(User.id).where(User.role == "coach")))
        learners = list(db.session.scalars(select(User.id).where(User.role == "learner")))
        have = db.session.scalar(select(func.count(Resume.id))) or 0
        first = (db.session.scalar(select(func.max(Resume.id))) or 0) + 1
        now = utcnow()
        itype = db.session.scalar(select(InterviewType))
        assert itype is not None
        batch = 5000
        for start in range(0, target - have, batch):
            n = min(batch, target - have - start)
            ids = range(first + start, first + start + n)
            rows, versions, assignments, reviews, bookings = [], [], [], [], []
            for rid in ids:
                age = dt.timedelta(hours=rid % (24 * 40))
                queued = now - age
                coach = coaches[rid % len(coaches)]
                reviewed = rid % 2 == 0
                rows.append(
                    {
                        "id": rid,
                        "learner_id": learner.id,
                        "target_role": "ML engineer",
                        "notes": "",
                        "status": "reviewed"
                        if reviewed
                        else ("assigned" if rid % 3 else "in_review"),
                        "current_version": 1,
                        "reviewer_id": coach,
                        "due_at": queued + dt.timedelta(days=3),
                        "queued_at": queued,
                        "created_at": queued,
                        "updated_at": queued,
                    }
                )
                versions.append(
                    {
                        "id": rid,
                        "resume_id": rid,
                        "number": 1,
                        "filename": f"cv-{rid}.pdf",
                        "kind": "pdf",
                        "content_type": "application/pdf",
                        "size": 1000,
                        "sha256": f"{rid:064d}",
                        "uploaded_at": queued,
                        "analysis_status": "done",
                        "skills": [],
                        "active_content": [],
                    }
                )
                status = "completed" if reviewed else ("offered" if rid % 3 else "accepted")
                assignments.append(
                    {
                        "id": rid,
                        "resume_id": rid,
                        "version_id": rid,
                        "coach_id": coach,
                        "status": status,
                        "offered_at": queued,
                        "expires_at": queued + dt.timedelta(days=1),
                        "due_at": queued + dt.timedelta(days=3),
                        "warn_at": queued + dt.timedelta(days=2),
                    }
                )
                if reviewed:
                    reviews.append(
                        {
                            "resume_id": rid,
                            "version_id": rid,
                            "assignment_id": rid,
                            "coach_id": coach,
                            "summary": "ok",
                            "comments": "",
                            "outcome": "approved",
                            "created_at": queued + dt.timedelta(hours=rid % 90),
                            "turnaround_us": (rid % 90) * 3600 * 10**6,
                        }
                    )
                if rid % 10 == 0:
                    # One session an hour back over twelve weeks; each lap of those hours uses
                    # another coach and learner, so no two active sessions overlap.
                    k = rid // 10
                    lap, hour = divmod(k, 12 * 7 * 24)
                    begin = now - dt.timedelta(hours=hour + 1)
                    end = begin + dt.timedelta(minutes=itype.duration_minutes)
                    session_coach = coaches[lap % len(coaches)]
                    session_learner = learners[lap % len(learners)]
                    bookings.append(
                        {
                            "uid": f"bench-{rid}@example.com",
                            "learner_id": session_learner,
                            "coach_id": session_coach,
                            "interview_type_id": itype.id,
                            "start_at": begin,
                            "end_at": end,
                            "block_start_at": begin,
                            "block_end_at": end,
                            "status": "completed" if rid % 40 else "no_show",
                            "meeting_url": "https://meet.example.com/x",
                            "notes": "",
                            "sequence": 0,
                            "reschedule_count": 0,
                            "created_at": begin,
                            "updated_at": begin,
                        }
                    )
            for model, values in (
                (Resume, rows),
                (ResumeVersion, versions),
                (Assignment, assignments),
                (Review, reviews),
                (Booking, bookings),
            ):
                if values:
                    db.session.execute(insert(model), values)
            db.session.commit()
        # The steady state autovacuum reaches on its own (visibility map for index-only scans,
        # planner statistics), made now rather than whenever it next wakes up.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(
                "VACUUM ANALYZE" if db.engine.name == "postgresql" else "ANALYZE"
            )
        total = db.session.scalar(select(func.count(Resume.id)))
        pk = int(db.session.scalar(select(func.min(User.id))) or 1)
        return {"resumes": total, "pk": pk}


def browser_session(base: str) -> requests.Session:
    """Sign in as staff the way a browser does: password, then two-factor enrolment."""
    session = requests.Session()

    def token(path: str) -> str:
        html = session.get(base + path).text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        assert match, path
        return match.group(1)

    response = session.post(
        base + "/sign-in",
        data={
            "email": "bench-staff@example.com",
            "password": PASSWORD,
            "csrf_token": token("/sign-in"),
        },
    )
    if response.url.endswith("/account/two-factor/setup"):
        html = response.text
        secret_match = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
        assert secret_match
        session.post(
            base + "/account/two-factor/setup",
            data={
                "code": pyotp.TOTP(secret_match.group(1)).now(),
                "csrf_token": token("/account/two-factor/setup"),
            },
        )
    assert session.get(base + "/staff/queue", allow_redirects=False).status_code == 200
    return session


def measure(name: str, url: str, requests_total: int, threads: int, make: Any) -> None:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per = max(1, requests_total // threads)

    def worker() -> None:
        session = make()
        for _ in range(3):  # warm up the connection and the server's caches
            session.get(url)
        local: list[float] = []
        codes: list[int] = []
        for _ in range(per):
            began = time.perf_counter()
            codes.append(session.get(url).status_code)
            local.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(local)
            for code in codes:
                statuses[code] = statuses.get(code, 0) + 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    began = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    codes = ", ".join(f"{c}: {n}" for c, n in sorted(statuses.items()))
    print(
        f"  {name:<34} {len(latencies) / elapsed:>8.1f} req/s   p50 "
        f"{harness.percentile(latencies, 50):>7.1f} ms   "
        f"p95 {harness.percentile(latencies, 95):>7.1f} ms   ({codes})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes, few requests")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--requests", type=int, default=400, help="per endpoint and size")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    sizes = (100, 1_000) if args.smoke else (1_000, 100_000)
    total = 40 if args.smoke else args.requests
    threads = 4 if args.smoke else args.threads

    import config
    from web import create_app

    with harness.redis_server() as redis_url, database(args.database) as url:
        env = harness.app_env(url, redis_url)
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": config.normalise_database_url(url), "REDIS_URL": redis_url}
        )
        print(
            f"staff console benchmark: {args.database}, gunicorn 2 workers x 4 threads, "
            f"{threads} clients"
        )
        with (
            harness.gunicorn("benchmarks.bare_app:app", env) as bare,
            harness.gunicorn("wsgi:app", env) as real,
        ):
            token: str | None = None
            signed_in: requests.Session | None = None
            for size in sizes:
                info = seed(app, size)
                if token is None:
                    answer = requests.post(
                        real + "/api/v1/auth/token",
                        json={"email": "bench-api@example.com", "password": PASSWORD},
                        timeout=30,
                    )
                    assert answer.status_code == 201, answer.text
                    token = str(answer.json()["token"])
                if signed_in is None:  # one two-factor sign-in; every client thread shares it
                    signed_in = browser_session(real)
                print(
                    f"{info['resumes']:,} résumés; one queue page runs "
                    f"{queue_statements(app)} SQL statements (in-process)"
                )
                measure("bare Flask GET /pk/<id>", f"{bare}/pk/{info['pk']}", total, threads, plain)
                measure(
                    "GET /staff/queue",
                    f"{real}/staff/queue",
                    total,
                    threads,
                    lambda signed_in=signed_in: cookie_session(signed_in),
                )
                measure(
                    "GET /api/v1/stats",
                    f"{real}/api/v1/stats",
                    total,
                    threads,
                    lambda token=token: bearer_session(token),
                )


def queue_statements(app: Any) -> int:
    """The SQL statements one ``GET /staff/queue`` runs, in-process, signed in as staff (the
    second call: the first may also load what a process keeps)."""
    from flask_login import login_user
    from sqlalchemy import event

    from services import accounts
    from services.db import db

    count = [0]

    def counted(*_: Any) -> None:
        count[0] += 1

    with app.test_request_context("/staff/queue"):
        staff = accounts.find_by_email("bench-staff@example.com")
        login_user(staff)
        engine = db.engine
        app.view_functions["staff.queue_page"]()  # once first: what a process loads once
        event.listen(engine, "before_cursor_execute", counted)
        try:
            app.view_functions["staff.queue_page"]()
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        db.session.remove()
    return count[0]


def cookie_session(signed_in: requests.Session | None) -> requests.Session:
    session = requests.Session()
    assert signed_in is not None
    session.cookies.update(signed_in.cookies)
    return session


def plain() -> requests.Session:
    return requests.Session()


def bearer_session(token: str | None) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


if __name__ == "__main__":
    main()
