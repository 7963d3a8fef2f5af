"""Routing with a real Celery worker and Redis (SQLite and PostgreSQL): skill match, capacity,
continuity, decline, accept-window expiry, the drain of `unassigned`, 200 résumés balanced across
10 coaches, and a file the parser cannot read failing only its own task.

One worker serves the module; each test first retires what earlier tests left (coaches inactive,
open résumés cancelled), so tests never route to each other's coaches."""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from services import accounts
from services.db import db
from services.models import (
    Assignment,
    Notification,
    Resume,
    ResumeStatus,
    Role,
    RoutingDecision,
    User,
)
from tests.conftest import RUN_DIR, Worker, flush_dispatch, worker_env
from tests.support_notifications import QUICK, Beat
from tests.support_resumes import make_pdf, make_unparseable_pdf

pytestmark = pytest.mark.worker

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def worker(live_database: str, live_redis_url: str) -> Iterator[Worker]:
    env = worker_env(live_database, live_redis_url, None, UPLOAD_DIR=str(RUN_DIR / "uploads"))
    process = Worker(env, RUN_DIR / "logs" / f"worker-resumes-{uuid.uuid4().hex[:6]}.log")
    process.start(concurrency=2)
    yield process
    process.stop()


@pytest.fixture
def world(live_app: Any, worker: Worker) -> Iterator[World]:
    with live_app.app_context():
        world = World(live_app, worker)
        world.reset()
        yield world
        db.session.remove()


class World:
    """Helpers over the live app: users, uploads through the API, and waiting on the worker."""

    def __init__(self, app: Any, worker: Worker) -> None:
        self.app = app
        self.worker = worker
        self.client = app.test_client()
        self.tokens: dict[int, str] = {}

    @staticmethod
    def writing() -> None:
        """Start a writing transaction (SQLite: a stale read snapshot cannot write)."""
        db.session.rollback()
        if db.session.get_bind().dialect.name == "sqlite":  # take the write lock now
            db.session.execute(text('UPDATE "user" SET id = id WHERE 1 = 0'))

    def reset(self) -> None:
        self.writing()
        db.session.execute(update(User).where(User.role == Role.COACH).values(active=False))
        db.session.execute(
            update(Assignment)
            .where(Assignment.status.in_(["offered", "accepted"]))
            .values(status="withdrawn")
        )
        db.session.execute(
            update(Resume)
            .where(Resume.status.in_(["submitted", "assigned", "in_review", "unassigned"]))
            .values(status="cancelled", reviewer_id=None)
        )
        db.session.commit()

    def user(self, role: str, name: str, **kwargs: Any) -> User:
        self.writing()
        user = accounts.create_user(
            email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com",
            password=PASSWORD,
            role=role,
            name=name,
            **kwargs,
        )
        db.session.commit()
        return user

    def coach(self, name: str, expertise: list[str], capacity: int = 5) -> User:
        return self.user(Role.COACH, name, expertise=expertise, review_capacity=capacity)

    def token(self, user: User) -> str:
        if user.id not in self.tokens:
            self.writing()
            secret, _ = accounts.issue_token(user, dt.timedelta(hours=1))
            db.session.commit()
            self.tokens[user.id] = secret
        return self.tokens[user.id]

    def call(self, method: str, path: str, user: User, **kwargs: Any) -> Any:
        response = self.client.open(
            path, method=method, headers={"Authorization": f"Bearer {self.token(user)}"}, **kwargs
        )
        flush_dispatch(self.app)
        return response

    def upload(self, learner: User, data: bytes | None = None, role: str = "ML engineer") -> int:
        response = self.call(
            "POST",
            "/api/v1/resumes",
            learner,
            data={"target_role": role, "file": (io.BytesIO(data or make_pdf()), "cv.pdf")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.json
        return int(response.json["id"])

    def send(self, task: str, *args: Any) -> None:
        # A message with no outbox row behind it, straight to the broker.
        self.app.extensions["outbox.dispatcher"].celery.send_task(task, args=list(args))

    def resume(self, resume_id: int) -> Resume:
        db.session.rollback()  # a fresh snapshot: the worker commits in another process
        resume = db.session.get(Resume, resume_id)
        assert resume is not None
        db.session.refresh(resume)
        return resume

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            db.session.rollback()
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.worker.log()[-3000:]}")

    def wait_status(self, resume_id: int, *statuses: str) -> Resume:
        return self.wait(
            lambda: (r := self.resume(resume_id)).status in statuses and r,
            f"résumé {resume_id} to be {statuses}",
        )

    def decisions(self, resume_id: int) -> list[RoutingDecision]:
        db.session.rollback()
        return list(
            db.session.scalars(
                select(RoutingDecision)
                .where(RoutingDecision.resume_id == resume_id)
                .order_by(RoutingDecision.id)
            )
        )

    def notified(self, user: User, kind: str) -> list[Notification]:
        db.session.rollback()
        return list(
            db.session.scalars(
                select(Notification).where(
                    Notification.user_id == user.id, Notification.kind == kind
                )
            )
        )

    def open_count(self, coach: User) -> int:
        db.session.rollback()
        return int(
            db.session.scalar(
                select(func.count(Assignment.id)).where(
                    Assignment.coach_id == coach.id,
                    Assignment.status.in_(["offered", "accepted"]),
                )
            )
            or 0
        )

    def review(self, coach: User, resume_id: int) -> None:
        response = self.call(
            "POST",
            f"/api/v1/resumes/{resume_id}/review",
            coach,
            json={"summary": "Solid.", "scores": {"impact": 4, "clarity": 4}},
        )
        assert response.status_code == 200, response.json


def test_the_skill_matched_coach_is_chosen_and_notified(world: World) -> None:
    # The unmatched coach has been idle longest and has the most room: skill fit still wins.
    world.coach("Fred Frontend", ["frontend", "css"], capacity=10)
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=5)
    learner = world.user(Role.LEARNER, "Lou Learner")

    resume_id = world.upload(learner)

    resume = world.wait_status(resume_id, "assigned")
    assert resume.reviewer_id == mia.id
    [decision] = world.decisions(resume_id)
    assert decision.outcome == "offered"
    assert decision.reason.startswith("matched ml, python; 0 of 5 open")
    assert decision.components["coach"]["band"] == 2
    assert decision.components["alternatives"][0]["name"] == "Fred Frontend"
    [note] = world.wait(lambda: world.notified(mia, "resume_assigned"), "the coach notified")
    assert note.link.endswith(f"/coach/reviews/{resume_id}")
    # The checks ran in the worker before routing, and the learner was told.
    assert world.resume(resume_id).versions[0].checks
    world.wait(lambda: world.notified(learner, "resume_checked"), "the learner told")
    # A redelivered routing task changes nothing.
    world.send("resumes.route", resume_id)
    world.send("resumes.drain")
    time.sleep(0.5)
    assert len(world.decisions(resume_id)) == 1


def test_a_coach_at_capacity_gets_nothing(world: World) -> None:
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=1)
    fred = world.coach("Fred Frontend", ["frontend"], capacity=5)
    learner = world.user(Role.LEARNER, "Lou Learner")

    first = world.upload(learner)
    assert world.wait_status(first, "assigned").reviewer_id == mia.id
    second = world.upload(learner)

    assert world.wait_status(second, "assigned").reviewer_id == fred.id
    assert world.open_count(mia) == 1
    assert world.decisions(second)[-1].reason == "no skill match; 0 of 5 open; 1 excluded: 1 full"


def test_a_new_version_goes_back_to_the_last_reviewer(world: World) -> None:
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=5)
    learner = world.user(Role.LEARNER, "Lou Learner")
    resume_id = world.upload(learner)
    world.wait_status(resume_id, "assigned")
    world.review(mia, resume_id)
    # A better fit with more room arrives; continuity still wins for version 2.
    world.coach("Sol Sql", ["ml", "python", "sql", "mlops"], capacity=10)

    response = world.call(
        "POST",
        f"/api/v1/resumes/{resume_id}/versions",
        learner,
        data={"file": (io.BytesIO(make_pdf(pages=2)), "cv-v2.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201

    resume = world.wait(
        lambda: (
            (r := world.resume(resume_id)).status == "assigned" and r.current_version == 2 and r
        ),
        "version 2 assigned",
    )
    assert resume.reviewer_id == mia.id
    assert "reviewed v1" in world.decisions(resume_id)[-1].reason


def test_a_decline_routes_to_someone_else(world: World) -> None:
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=5)
    fred = world.coach("Fred Frontend", ["frontend"], capacity=5)
    learner = world.user(Role.LEARNER, "Lou Learner")
    resume_id = world.upload(learner)
    world.wait_status(resume_id, "assigned")

    response = world.call(
        "POST", f"/api/v1/resumes/{resume_id}/decline", mia, json={"reason": "Conflict of interest"}
    )
    assert response.status_code == 200

    resume = world.wait(
        lambda: (r := world.resume(resume_id)).reviewer_id == fred.id and r, "rerouted to Fred"
    )
    assert resume.status == "assigned"
    assert world.decisions(resume_id)[-1].reason.endswith("1 excluded: 1 declined")
    assert world.call("GET", f"/api/v1/resumes/{resume_id}", mia).status_code == 404


def test_an_offer_not_accepted_in_the_window_expires_and_is_routed_again(world: World) -> None:
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=5)
    fred = world.coach("Fred Frontend", ["frontend"], capacity=5)
    learner = world.user(Role.LEARNER, "Lou Learner")
    resume_id = world.upload(learner)
    world.wait_status(resume_id, "assigned")
    # The window passes (24 h by default): move the deadline instead of waiting.
    world.writing()
    db.session.execute(
        update(Assignment)
        .where(Assignment.resume_id == resume_id, Assignment.status == "offered")
        .values(expires_at=Assignment.offered_at)
    )
    db.session.commit()

    world.send("resumes.expire_offers")
    world.send("resumes.expire_offers")  # the beat may run it twice: one expiry, one new offer

    world.wait(lambda: world.resume(resume_id).reviewer_id == fred.id, "rerouted after expiry")
    time.sleep(0.5)
    statuses = Counter(
        a.status
        for a in db.session.scalars(select(Assignment).where(Assignment.resume_id == resume_id))
    )
    assert statuses == {"expired": 1, "offered": 1}
    assert [d.coach_id for d in world.decisions(resume_id)] == [mia.id, fred.id]
    assert world.decisions(resume_id)[-1].reason.endswith("1 excluded: 1 expired")
    world.wait(lambda: world.notified(mia, "resume_offer_expired"), "Mia told")
    # Accepting a lapsed offer is refused.
    assert world.call("POST", f"/api/v1/resumes/{resume_id}/accept", mia).status_code == 404


def test_unassigned_resumes_drain_oldest_first_when_capacity_frees(world: World) -> None:
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=1)
    staff = world.user(Role.STAFF, "Sam Staff")
    learner = world.user(Role.LEARNER, "Lou Learner")
    first = world.upload(learner)
    world.wait_status(first, "assigned")
    second = world.upload(learner)
    world.wait_status(second, "unassigned")
    third = world.upload(learner)
    world.wait_status(third, "unassigned")
    assert world.decisions(second)[-1].reason == "no eligible coach; 1 excluded: 1 full"
    world.wait(lambda: len(world.notified(staff, "resume_unassigned")) == 2, "staff told twice")

    world.review(mia, first)  # capacity frees: the drain runs by itself

    assert world.wait_status(second, "assigned").reviewer_id == mia.id
    time.sleep(0.5)
    assert world.resume(third).status == "unassigned"
    assert len(world.decisions(third)) == 1  # not re-decided while nobody has room
    # A coach back from leave (here: a new one) is picked up by the periodic drain.
    grace = world.coach("Grace Ml", ["ml"], capacity=2)
    world.send("resumes.drain")
    assert world.wait_status(third, "assigned").reviewer_id == grace.id


def test_200_resumes_across_10_coaches_stay_within_capacity_and_balanced(world: World) -> None:
    ml = [world.coach(f"Ml Coach {i}", ["ml", "python"], capacity=25) for i in range(5)]
    other = [world.coach(f"Web Coach {i}", ["frontend"], capacity=25) for i in range(5)]
    learners = [world.user(Role.LEARNER, f"Learner {i}") for i in range(4)]
    pdf = make_pdf()

    ids = [world.upload(learners[i % 4], pdf) for i in range(200)]

    world.wait(
        lambda: (
            db.session.scalar(
                select(func.count(Resume.id)).where(
                    Resume.id.in_(ids), Resume.status == ResumeStatus.ASSIGNED
                )
            )
            == 200
        ),
        "all 200 assigned",
        timeout=60,
    )
    counts = {coach.id: world.open_count(coach) for coach in ml + other}
    assert all(counts[c.id] <= 25 for c in ml + other)
    # The better-matched coaches fill first, evenly; the rest share what is left, evenly.
    assert [counts[c.id] for c in ml] == [25] * 5
    other_counts = [counts[c.id] for c in other]
    assert sum(other_counts) == 75
    assert max(other_counts) - min(other_counts) <= 1
    assert (
        db.session.scalar(
            select(func.count(RoutingDecision.id)).where(RoutingDecision.resume_id.in_(ids))
        )
        == 200
    )


def test_a_file_the_parser_cannot_read_fails_only_its_own_task(world: World) -> None:
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=5)
    learner = world.user(Role.LEARNER, "Lou Learner")
    broken = make_unparseable_pdf()  # passes the request's checks, not the full parse

    bad = world.upload(learner, broken)
    good = world.upload(learner)

    resume = world.wait_status(bad, "cancelled")
    [check] = resume.versions[0].checks
    assert check["passed"] is False and "damaged" in check["message"]
    assert world.wait_status(good, "assigned").reviewer_id == mia.id
    [note] = world.wait(lambda: world.notified(learner, "resume_unreadable"), "learner told")
    assert "damaged" in note.body


def test_the_beat_warns_the_coach_and_escalates_to_staff_each_once(
    world: World, live_database: str, live_redis_url: str
) -> None:
    """The due-time scan as it runs in production: a real `celery beat` process schedules it (here
    every half second) and the worker runs it; many runs, one warning and one escalation."""
    mia = world.coach("Mia Ml", ["ml", "python"], capacity=5)
    staff = world.user(Role.STAFF, "Sam Staff")
    learner = world.user(Role.LEARNER, "Lou Learner")
    resume_id = world.upload(learner)
    world.wait_status(resume_id, "assigned")
    beat = Beat(
        worker_env(
            live_database, live_redis_url, None, **QUICK, RESUME_SCAN_INTERVAL_SECONDS="0.5"
        ),
        RUN_DIR / "logs",
    )
    beat.start()
    try:
        # 75 % of the review window has passed: the coach is warned.
        world.writing()
        db.session.execute(
            update(Assignment)
            .where(Assignment.resume_id == resume_id)
            .values(warn_at=Assignment.offered_at)
        )
        db.session.commit()
        world.wait(lambda: world.notified(mia, "review_due_soon"), "the coach warned", 30)
        # The due time passes: staff are told (and the coach, in-app).
        world.writing()
        db.session.execute(
            update(Assignment)
            .where(Assignment.resume_id == resume_id)
            .values(due_at=Assignment.offered_at)
        )
        db.session.commit()
        world.wait(lambda: world.notified(staff, "review_overdue"), "staff told", 30)
        time.sleep(2.5)  # several more scans
    finally:
        beat.stop()
    assert len(world.notified(mia, "review_due_soon")) == 1
    assert len(world.notified(staff, "review_overdue")) == 1
    assert [e.event for e in world.resume(resume_id).events].count("escalated") == 1
    assert "resumes.scan_due" in beat.log()
