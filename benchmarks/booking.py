"""Booking figures on PostgreSQL, each beside a bare primary-key read on the same server, same run.

    .venv/bin/python benchmarks/booking.py            # 20 s per measurement, 32 clients
    .venv/bin/python benchmarks/booking.py --smoke    # 2 s per measurement, a few seconds in all

It starts everything itself: a fresh migrated PostgreSQL database (TEST_PG_URL), a Redis, and
gunicorn with the Procfile's settings (2 workers x 4 threads) serving the real app plus one bare
route, ``GET /bench/pk/<id>`` (a primary-key read with SQLAlchemy Core, no ORM, no auth), so the
baseline runs in the same processes, on the same database, in the same run.

Measured, with 50 coaches (four time zones, weekday hours, an exception and bookings each):
- slot search: ``GET /api/v1/slots`` for four weeks, any coach, at 32 concurrent clients;
  plus the service alone in-process (time and SQL statements per call);
- booking throughput: ``POST /api/v1/bookings`` (round robin, no coach chosen) at 32 concurrent
  clients, each request a fresh learner and time; 201s and 409s counted apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402

COACHES = 50
BARE = "bare primary-key read  GET /bench/pk/<id>"
CLIENTS = 32
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")
TAGS = ["ml", "python", "behavioral", "algorithms", "mlops", "system-design"]


def bench_app() -> Any:
    """The real app plus the bare baseline route (gunicorn "benchmarks.booking:bench_app()")."""
    from flask import abort
    from sqlalchemy import text

    from services.db import db
    from web import create_app

    app = create_app()

    @app.get("/bench/pk/<int:user_id>")
    def bare_primary_key_read(user_id: int) -> dict[str, Any]:
        with db.engine.connect() as conn:
            row = conn.execute(
                text('SELECT id, name, email FROM "user" WHERE id = :id'), {"id": user_id}
            ).first()
        if row is None:
            abort(404)
        return {"id": row.id, "name": row.name, "email": row.email}

    return app


# --- data ----------------------------------------------------------------------------------------


def seed(
    database_url: str, redis_url: str, learners: int, coaches: int = COACHES
) -> dict[str, Any]:
    """``coaches`` coaches with hours, exceptions and bookings; learners with API tokens. Direct
    inserts: no password hashing, so seeding takes a second or two."""
    import config
    from services import accounts
    from services.booking import interview_types
    from services.db import db
    from services.models import (
        AvailabilityException,
        AvailabilityRule,
        Booking,
        CoachBookingSettings,
        User,
    )
    from web import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": config.normalise_database_url(database_url),
            "REDIS_URL": redis_url,
        }
    )
    with app.app_context():
        itypes = {t.slug: t for t in interview_types.ensure_defaults()}
        coding = itypes["coding"]
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        coach_ids = []
        for i in range(coaches):
            coach = User(
                email=f"bench-coach-{i}@example.com",
                name=f"Coach {i}",
                role="coach",
                timezone=ZONES[i % len(ZONES)],
                password_hash="-",
                expertise=TAGS,
            )
            db.session.add(coach)
            db.session.flush()
            coach_ids.append(coach.id)
            db.session.add(CoachBookingSettings(coach_id=coach.id, daily_session_cap=8))
            for weekday in range(5):
                db.session.add(
                    AvailabilityRule(
                        coach_id=coach.id,
                        weekday=weekday,
                        start_time=dt.time(9),
                        end_time=dt.time(17),
                    )
                )
            off = today + dt.timedelta(days=3 + i % 10, hours=12)
            db.session.add(
                AvailabilityException(
                    coach_id=coach.id, start_at=off, end_at=off + dt.timedelta(hours=3)
                )
            )
        # Some existing bookings, so slot search has blocks to subtract.
        existing = User(
            email="bench-existing@example.com", name="Existing", role="learner", password_hash="-"
        )
        db.session.add(existing)
        db.session.flush()
        for i, coach_id in enumerate(coach_ids):
            start = today + dt.timedelta(days=5 + i % 7, hours=14)
            db.session.add(
                Booking(
                    uid=f"bench-{uuid.uuid4()}",
                    learner_id=existing.id if i == 0 else _learner(db, User, f"seed-{i}"),
                    coach_id=coach_id,
                    interview_type_id=coding.id,
                    start_at=start,
                    end_at=start + dt.timedelta(minutes=45),
                    block_start_at=start,
                    block_end_at=start + dt.timedelta(minutes=60),
                    meeting_url="https://meet.jit.si/bench",
                )
            )
        tokens = []
        for i in range(learners):
            learner_id = _learner(db, User, f"load-{i}")
            user = db.session.get(User, learner_id)
            secret, _ = accounts.issue_token(user, dt.timedelta(hours=6))
            tokens.append(secret)
        db.session.commit()
        return {"tokens": tokens, "pk_ids": coach_ids, "app": app}


def _learner(db: Any, user_model: Any, tag: str) -> int:
    user = user_model(
        email=f"bench-{tag}@example.com", name=f"Learner {tag}", role="learner", password_hash="-"
    )
    db.session.add(user)
    db.session.flush()
    return int(user.id)


def in_process_slots(app: Any, rounds: int) -> tuple[float, int, list[dt.datetime]]:
    """find_slots alone: median milliseconds, SQL statements per call, the slot start times."""
    from sqlalchemy import event

    from services.booking.availability import SlotQuery, find_slots
    from services.db import db

    today = dt.date.today()
    query = SlotQuery("coding", today, today + dt.timedelta(days=27), "America/New_York")
    timings, statements = [], []
    found: list[dt.datetime] = []
    with app.app_context():
        engine = db.engine
        for _ in range(rounds):
            count = [0]

            def on_execute(*_: Any, count: list[int] = count) -> None:
                count[0] += 1

            event.listen(engine, "before_cursor_execute", on_execute)
            started = time.perf_counter()
            found = [slot.start for slot in find_slots(query)]
            timings.append((time.perf_counter() - started) * 1000)
            event.remove(engine, "before_cursor_execute", on_execute)
            statements.append(count[0])
            db.session.rollback()
        db.session.remove()
    return harness.percentile(timings, 50), max(statements), found


# --- load ----------------------------------------------------------------------------------------


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def add(self, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds * 1000)
            self.statuses[status] += 1


def run(
    base_url: str, clients: int, seconds: float, make_request: Any, warmup: float = 0.5
) -> tuple[Result, float]:
    """``clients`` threads, each with its own keep-alive connection, for ``seconds``."""
    parts = urlsplit(base_url)
    result = Result()
    stop_at = [0.0]
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        counter = 0
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            method, path, body, headers = make_request(index, counter)
            counter += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                status = 599
            result.add(status, time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    began = time.monotonic()
    stop_at[0] = began + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    return result, time.monotonic() - began


def report(name: str, result: Result, elapsed: float) -> float:
    rps = len(result.latencies) / elapsed
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
    print(
        f"{name:<46} {rps:>8.1f} req/s   p50 {harness.percentile(result.latencies, 50):>7.1f} ms"
        f"   p99 {harness.percentile(result.latencies, 99):>7.1f} ms   ({statuses})"
    )
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run of a few seconds")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (1.0 if args.smoke else 20.0)
    clients = CLIENTS
    learners = 200 if args.smoke else 4000

    with harness.redis_server() as redis_url, harness.postgres_database() as database_url:
        os.environ.setdefault(
            "INSTANCE_DIR", harness.app_env(database_url, redis_url)["INSTANCE_DIR"]
        )
        data = seed(database_url, redis_url, learners)
        median_ms, statements, found = in_process_slots(data["app"], 5 if args.smoke else 30)
        assert found, "no slots: the seed data is wrong"
        print(f"PostgreSQL, {COACHES} coaches, {clients} concurrent clients, {seconds:.0f} s each")
        print(
            f"slot search in-process (4 weeks x {COACHES} coaches): median {median_ms:.1f} ms, "
            f"{statements} SQL statements, {len(found)} distinct slot times"
        )
        env = harness.app_env(database_url, redis_url, BOOKING_COACH_DAILY_CAP="8")
        with harness.gunicorn("benchmarks.booking:bench_app()", env) as url:
            pk_ids = data["pk_ids"]
            tokens = data["tokens"]
            today = dt.date.today()

            def bare(index: int, n: int) -> tuple[str, str, None, dict[str, str]]:
                return "GET", f"/bench/pk/{pk_ids[(index + n) % len(pk_ids)]}", None, {}

            def slots(index: int, n: int) -> tuple[str, str, None, dict[str, str]]:
                path = (
                    f"/api/v1/slots?type=coding&start={today}"
                    f"&end={today + dt.timedelta(days=27)}&tz=America/New_York"
                )
                return "GET", path, None, {"Authorization": f"Bearer {tokens[index]}"}

            # Each booking: a learner of its own and one of the offered slot times, at random.
            rng = random.Random(4)
            starts = found
            next_learner = iter(range(clients, len(tokens)))
            learner_lock = threading.Lock()

            def booking(index: int, n: int) -> tuple[str, str, str, dict[str, str]]:
                with learner_lock:
                    learner = next(next_learner, index)
                    start = rng.choice(starts)
                body = json.dumps({"type": "coding", "start": start.isoformat()})
                return (
                    "POST",
                    "/api/v1/bookings",
                    body,
                    {
                        "Authorization": f"Bearer {tokens[learner]}",
                        "Content-Type": "application/json",
                    },
                )

            warmup = 0.3 if args.smoke else 3.0
            for make in (bare, slots):  # first requests load code and fill connection pools
                run(url, clients, warmup, make)
            print()
            bare_rps = report(BARE, *run(url, clients, seconds, bare))
            slot_rps = report(
                "slot search  GET /api/v1/slots (4 weeks)", *run(url, clients, seconds, slots)
            )
            print(f"  slot search / bare: {slot_rps / bare_rps:.3f}")
            bare_rps = report(BARE, *run(url, clients, seconds, bare))
            result, elapsed = run(url, clients, seconds, booking)
            book_rps = report("booking  POST /api/v1/bookings", result, elapsed)
            made = result.statuses[201]
            print(
                f"  bookings made: {made} ({made / elapsed:.1f}/s), "
                f"409 (that coach-time was just taken): {result.statuses[409]}"
            )
            print(f"  booking / bare: {book_rps / bare_rps:.3f}")
            errors = sum(n for code, n in result.statuses.items() if code >= 500)
            if errors:
                print(f"  server errors: {errors}")
                sys.exit(1)


if __name__ == "__main__":
    main()
