"""A booking's latency on SQLite, alone and while a burst of 20 sign-ins runs, under gunicorn.

    .venv/bin/python benchmarks/writers.py            # 40 bookings alone, 40 during bursts
    .venv/bin/python benchmarks/writers.py --smoke    # 5 of each, a few seconds in all

SQLite has one writer at a time. A sign-in that held the write lock while Argon2 checks its
password would make every writer behind it wait for the hashing; here the password is checked in
a read transaction and only the short write takes the lock. So a booking made during a burst of
sign-ins waits for CPU (two cores, twenty Argon2 hashes), not for twenty hashes in a row.

It starts everything itself: a fresh migrated SQLite file, a Redis, and gunicorn (2 workers x 16
threads, so the 20 sign-ins and the booking each get a thread at once and what is measured is the
database, not gunicorn's queue). Each round sends 20 sign-ins (``POST /sign-in``, the form, with
its CSRF token) at once and a moment later one booking (``POST /api/v1/bookings``) from a fresh
learner; its latency is set beside bookings made with nothing else running.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import booking, harness  # noqa: E402

BURST = 20
PASSWORD = "a long benchmark passphrase"
SIGNER = "bench-signer@example.com"


def seed(database_url: str, redis_url: str, learners: int) -> dict[str, Any]:
    """booking.py's coaches and learners (tokens), plus one learner who signs in by password."""
    from services import accounts
    from services.db import db

    data = booking.seed(database_url, redis_url, learners)
    with data["app"].app_context():
        accounts.create_user(email=SIGNER, password=PASSWORD, role="learner", name="Signer")
        db.session.commit()
        db.session.remove()
    return data


def sign_in_form(base_url: str) -> tuple[str, str]:
    """An anonymous session cookie and its CSRF token (a signed cookie: reusable every round)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("GET", "/sign-in")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    conn.close()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if match is None or not cookie:
        raise RuntimeError("no sign-in form")
    return cookie, match.group(1)


def timed(base_url: str, method: str, path: str, body: str, headers: dict[str, str]) -> Any:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return response.status, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run of a few seconds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.smoke else 40)

    with harness.redis_server() as redis_url, tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
        harness.migrate(database_url)
        os.environ.setdefault(
            "INSTANCE_DIR", harness.app_env(database_url, redis_url)["INSTANCE_DIR"]
        )
        data = seed(database_url, redis_url, learners=2 * rounds + 2)
        _, _, starts = booking.in_process_slots(data["app"], 1)
        assert starts, "no slots: the seed data is wrong"
        tokens = iter(data["tokens"])
        rng = random.Random(7)
        env = harness.app_env(database_url, redis_url, BOOKING_COACH_DAILY_CAP="8")
        with harness.gunicorn("wsgi:app", env, workers=2, threads=16) as url:
            forms = [sign_in_form(url) for _ in range(BURST)]

            def book() -> tuple[int, float]:
                body = json.dumps({"type": "coding", "start": rng.choice(starts).isoformat()})
                headers = {
                    "Authorization": f"Bearer {next(tokens)}",
                    "Content-Type": "application/json",
                }
                return timed(url, "POST", "/api/v1/bookings", body, headers)  # type: ignore[no-any-return]

            def sign_in(cookie: str, token: str, out: list[tuple[int, float]]) -> None:
                body = urlencode({"email": SIGNER, "password": PASSWORD, "csrf_token": token})
                headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
                out.append(timed(url, "POST", "/sign-in", body, headers))

            book()  # the first requests load code and open connections
            alone, during, sign_ins = [], [], []
            for _ in range(rounds):
                alone.append(book())
            for _ in range(rounds):
                threads = [
                    threading.Thread(target=sign_in, args=(*form, sign_ins)) for form in forms
                ]
                for thread in threads:
                    thread.start()
                time.sleep(0.02)  # the sign-ins are in, checking passwords
                during.append(book())
                for thread in threads:
                    thread.join()

        print(f"SQLite, gunicorn 2 workers x 16 threads, {rounds} bookings each, one at a time")
        for name, results in (
            ("booking alone", alone),
            (f"booking during {BURST} sign-ins", during),
            ("  the sign-ins themselves", sign_ins),
        ):
            ms = [elapsed for _, elapsed in results]
            statuses = sorted({status for status, _ in results})
            print(
                f"{name:<34} p50 {harness.percentile(ms, 50):>7.1f} ms   "
                f"p99 {harness.percentile(ms, 99):>7.1f} ms   (statuses {statuses})"
            )
        bad = [s for s, _ in alone + during if s not in (201, 409)]
        bad += [s for s, _ in sign_ins if s != 302]
        if bad:
            print(f"  unexpected statuses: {bad}")
            sys.exit(1)


if __name__ == "__main__":
    main()
