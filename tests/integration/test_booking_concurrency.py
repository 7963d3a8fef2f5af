"""No double booking under concurrent writers: a real threaded HTTP server, real databases."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tests.support_booking import at, future_weekday

CLIENTS = 40


@pytest.fixture(scope="module")
def server(live_app: Any) -> Iterator[str]:
    from tests.conftest import free_port

    port = free_port()
    httpd = make_server("127.0.0.1", port, live_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def people(live_app: Any) -> dict[str, Any]:
    """One coach, 40 learners with tokens, committed."""
    from services import accounts
    from services.booking import interview_types
    from services.db import db
    from services.models import AvailabilityRule, User

    with live_app.app_context():
        interview_types.ensure_defaults()
        coach = accounts.create_user(
            email=f"coach-{uuid.uuid4().hex[:6]}@example.com",
            password="correct horse battery",
            role="coach",
            expertise=["python", "algorithms"],
        )
        for weekday in range(7):
            db.session.add(
                AvailabilityRule(
                    coach_id=coach.id, weekday=weekday, start_time=dt.time(8), end_time=dt.time(20)
                )
            )
        tokens, learner_ids = [], []
        for i in range(CLIENTS):
            learner = User(
                email=f"learner-{i}-{uuid.uuid4().hex[:6]}@example.com",
                name=f"Learner {i}",
                role="learner",
                timezone="UTC",
                password_hash="x",  # never signs in with a password: tokens only
            )
            db.session.add(learner)
            db.session.flush()
            secret, _ = accounts.issue_token(learner, dt.timedelta(hours=1))
            tokens.append(secret)
            learner_ids.append(learner.id)
        db.session.commit()
        return {"coach_id": coach.id, "tokens": tokens, "learner_ids": learner_ids}


def post(url: str, token: str, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(  # noqa: S310  (our own http:// test server)
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def hammer(calls: list[Any]) -> list[tuple[int, Any]]:
    """Run every call at once (released together by a barrier)."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> tuple[int, Any]:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def count_bookings(live_app: Any, start: dt.datetime) -> int:
    from services.db import db
    from services.models import Booking

    with live_app.app_context():
        total = db.session.scalar(
            select(func.count(Booking.id)).where(
                Booking.start_at == start, Booking.status == "confirmed"
            )
        )
        db.session.remove()
        return int(total or 0)


def unbooked_learner(live_app: Any, learner_ids: list[int]) -> int:
    """The index of the first of ``learner_ids`` with no booking."""
    from services.db import db
    from services.models import Booking

    with live_app.app_context():
        booked = set(db.session.scalars(select(Booking.learner_id)))
        db.session.remove()
    return next(i for i, learner_id in enumerate(learner_ids) if learner_id not in booked)


def test_forty_concurrent_bookings_of_one_slot_give_exactly_one(server, people, live_app):
    start = at(future_weekday(3), 10)
    body = {"type": "coding", "start": start.isoformat(), "coach_id": people["coach_id"]}
    url = f"{server}/api/v1/bookings"
    results = hammer([lambda t=t: post(url, t, body) for t in people["tokens"]])

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: CLIENTS - 1}, results
    assert {b["code"] for s, b in results if s == 409} == {"slot_unavailable"}
    assert count_bookings(live_app, start) == 1


def test_concurrent_round_robin_requests_never_double_book(server, people, live_app):
    """Without a coach (round robin) and at overlapping times: the buffers hold too."""
    day = future_weekday(4)
    starts = [at(day, 14), at(day, 14, 30)]
    url = f"{server}/api/v1/bookings"
    calls = [
        lambda t=t, i=i: post(url, t, {"type": "coding", "start": starts[i % 2].isoformat()})
        for i, t in enumerate(people["tokens"])
    ]
    results = hammer(calls)
    statuses = Counter(status for status, _ in results)
    # 14:00-14:45 plus a 15-minute buffer overlaps 14:30: one coach fits only one of them.
    assert statuses == {201: 1, 409: CLIENTS - 1}, results
    assert count_bookings(live_app, starts[0]) + count_bookings(live_app, starts[1]) == 1


def test_concurrent_retries_with_one_idempotency_key_book_once(server, people, live_app):
    start = at(future_weekday(5), 16)
    body = {"type": "coding", "start": start.isoformat()}
    url = f"{server}/api/v1/bookings"
    # A learner with nothing booked yet: the earlier tests' winners may already hold the most
    # upcoming sessions fair use allows (the first token, sent first, often wins them).
    token = people["tokens"][unbooked_learner(live_app, people["learner_ids"])]
    results = hammer([lambda: post(url, token, body, key="same-key") for _ in range(10)])
    assert {status for status, _ in results} == {201}, results
    assert len({b["id"] for _, b in results}) == 1
    assert count_bookings(live_app, start) == 1


def test_the_constraint_alone_refuses_concurrent_raw_inserts(people, live_app):
    """Bypassing the service entirely: concurrent overlapping INSERTs, one per connection."""
    from sqlalchemy import insert
    from sqlalchemy.exc import DBAPIError

    from services.db import db
    from services.models import Booking, InterviewType

    start = at(future_weekday(6), 9)
    with live_app.app_context():
        engine = db.engine
        type_id = db.session.scalar(select(InterviewType.id).where(InterviewType.slug == "coding"))
        db.session.remove()

    def attempt(i: int) -> str:
        offset = dt.timedelta(minutes=5 * (i % 6))  # all overlapping, not all identical
        row = {
            "uid": f"raw-{uuid.uuid4()}",
            "learner_id": people["learner_ids"][i],
            "coach_id": people["coach_id"],
            "interview_type_id": type_id,
            "start_at": start + offset,
            "end_at": start + offset + dt.timedelta(minutes=45),
            "block_start_at": start + offset,
            "block_end_at": start + offset + dt.timedelta(minutes=60),
            "status": "confirmed",
            "meeting_url": "https://example.com/raw",
            "notes": "",
            "sequence": 0,
            "reschedule_count": 0,
            "created_at": start,
            "updated_at": start,
        }
        try:
            with engine.begin() as conn:
                conn.execute(insert(Booking.__table__), row)
        except DBAPIError as error:
            # PostgreSQL refuses a conflicting insert with the exclusion violation, or, when two
            # conflicting inserts wait on each other, by aborting one as a deadlock (40P01).
            refused = "ex_booking_coach_overlap" in str(error.orig) or (
                getattr(error.orig, "sqlstate", None) == "40P01"
            )
            return "refused" if refused else repr(error)
        return "inserted"

    results = hammer([lambda i=i: attempt(i) for i in range(20)])
    assert Counter(results) == {"inserted": 1, "refused": 19}
