"""Recovery through the outbox, with the shipped timing defaults: real Redis stopped and started
again, a real worker SIGKILLed mid-batch, real beat and SMTP, on SQLite and on PostgreSQL.

The deadlines below are acceptance bounds (Redis answering -> everything handed over and done;
a worker's death -> its jobs finished by another), not speed measurements; the measured times are
printed for the record."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import RUN_DIR, RedisServer, Worker, app_config, flush_dispatch, worker_env
from tests.support_booking import at, future_weekday
from tests.support_notifications import Beat, wait_until
from tests.support_resumes import GOOD_TEXT, make_pdf

pytestmark = pytest.mark.worker

PASSWORD = "correct horse battery"
# Redis answering -> every résumé accepted meanwhile assigned, every email received.
AFTER_REDIS_BOUND = 20.0
# A worker's SIGKILL -> every job it held finished by another worker.
AFTER_KILL_BOUND = 60.0


class Stack:
    """This test's own Redis, worker(s) and beat on the module's live database: shipped defaults
    (no quick relay, grace, lease or visibility settings)."""

    def __init__(self, database_url: str, directory: Any, mail_port: int) -> None:
        from web import create_app

        self.redis = RedisServer(directory / "redis")
        self.redis.start()
        self.env = worker_env(
            database_url, self.redis.url, mail_port, UPLOAD_DIR=str(RUN_DIR / "uploads")
        )
        self.workers: list[Worker] = []
        self.beat = Beat(self.env, RUN_DIR / "logs")
        self.app = create_app(app_config(database_url, self.redis.url))
        self.client = self.app.test_client()

    def worker(self) -> Worker:
        worker = Worker(self.env, RUN_DIR / "logs" / f"worker-recovery-{uuid.uuid4().hex[:6]}.log")
        worker.start(concurrency=2)
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.beat.stop()
        self.redis.stop()

    def logs(self) -> str:
        return "\n".join(w.log()[-2000:] for w in self.workers) + self.beat.log()[-1500:]

    def people(self, coaches: int, learners: int, capacity: int) -> dict[str, Any]:
        from services import accounts
        from services.booking import interview_types
        from services.db import db
        from services.models import AvailabilityRule

        suffix = uuid.uuid4().hex[:6]
        with self.app.app_context():
            interview_types.ensure_defaults()
            coach_ids = []
            for i in range(coaches):
                coach = accounts.create_user(
                    email=f"coach-{i}-{suffix}@example.com",
                    password=PASSWORD,
                    role="coach",
                    name=f"Coach {i}",
                    expertise=["ml", "python"],
                    review_capacity=capacity,
                )
                for weekday in range(7):
                    db.session.add(
                        AvailabilityRule(
                            coach_id=coach.id,
                            weekday=weekday,
                            start_time=dt.time(0),
                            end_time=dt.time(23),
                        )
                    )
                coach_ids.append(coach.id)
            tokens, emails = [], []
            for i in range(learners):
                learner = accounts.create_user(
                    email=f"learner-{i}-{suffix}@example.com",
                    password=PASSWORD,
                    role="learner",
                    name=f"Learner {i}",
                )
                secret, _ = accounts.issue_token(learner, dt.timedelta(hours=2))
                tokens.append(secret)
                emails.append(learner.email)
            db.session.commit()
            db.session.remove()
        return {"coach_ids": coach_ids, "tokens": tokens, "emails": emails}

    def upload(self, token: str, index: int) -> int:
        pdf = make_pdf([*GOOD_TEXT, f"Reference {uuid.uuid4().hex} {index}"])
        response = self.client.post(
            "/api/v1/resumes",
            data={"target_role": "ML engineer", "file": (io.BytesIO(pdf), "cv.pdf")},
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.json
        return int(response.json["id"])

    def book(self, token: str, start: dt.datetime) -> int:
        response = self.client.post(
            "/api/v1/bookings",
            json={"type": "coding", "start": start.isoformat()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.json
        return int(response.json["id"])

    def statuses(self, resume_ids: list[int]) -> list[str]:
        from services.db import db
        from services.models import Resume

        with self.app.app_context():
            rows = db.session.execute(
                select(Resume.id, Resume.status).where(Resume.id.in_(resume_ids))
            ).all()
            db.session.remove()
        return [status for _, status in sorted(rows)]

    def analyses(self, resume_ids: list[int]) -> list[str]:
        from services.db import db
        from services.models import ResumeVersion

        with self.app.app_context():
            rows = db.session.scalars(
                select(ResumeVersion.analysis_status).where(ResumeVersion.resume_id.in_(resume_ids))
            ).all()
            db.session.remove()
        return list(rows)

    def all_assigned(self, resume_ids: list[int]) -> bool:
        """Every résumé analysed (its checks run) and offered to a coach."""
        return self.statuses(resume_ids) == ["assigned"] * len(resume_ids) and self.analyses(
            resume_ids
        ) == ["done"] * len(resume_ids)

    def jobs_left(self) -> int:
        from services.db import db
        from services.models import OutboxJob

        with self.app.app_context():
            count = len(db.session.scalars(select(OutboxJob.id)).all())
            db.session.remove()
        return count


@pytest.fixture
def stack(live_database: str, smtp_server: Any, tmp_path: Any) -> Any:
    mailbox, port = smtp_server
    built = Stack(live_database, tmp_path, port)
    built.mailbox = mailbox  # type: ignore[attr-defined]
    yield built
    built.stop()


def no_email_twice(mailbox: Any) -> None:
    """Each email's Message-ID comes from its delivery's unique key: a second copy repeats it."""
    ids = Counter(str(message["Message-ID"]) for message in mailbox.messages)
    assert [key for key, n in ids.items() if n > 1] == []


def test_everything_accepted_while_redis_was_down_is_done_soon_after_it_answers(
    stack: Stack, live_database: str
) -> None:
    mailbox = stack.mailbox  # type: ignore[attr-defined]
    people = stack.people(coaches=2, learners=7, capacity=10)
    stack.worker()
    stack.beat.start()
    wait_until(lambda: "beat: Starting" in stack.beat.log(), timeout=30, what="beat starting")

    stack.redis.stop()
    resume_ids = [stack.upload(token, i) for i, token in enumerate(people["tokens"][:5])]
    day = future_weekday(3)
    bookers = people["tokens"][5:]
    booking_ids = [stack.book(token, at(day, 9 + 2 * i)) for i, token in enumerate(bookers)]
    flush_dispatch(stack.app)  # each hand-over was tried, and failed, off the request
    assert len(resume_ids) == 5 and len(booking_ids) == 2
    time.sleep(15)  # an outage long enough for Celery's reconnect backoff to grow
    assert stack.statuses(resume_ids) == ["submitted"] * 5
    assert not mailbox.messages

    stack.redis.start()
    answered = time.monotonic()
    booked = set(people["emails"][5:])
    wait_until(
        lambda: stack.all_assigned(resume_ids),
        timeout=AFTER_REDIS_BOUND,
        what=f"every résumé assigned\n{stack.logs()}",
    )
    assigned_after = time.monotonic() - answered
    wait_until(
        lambda: booked <= {str(m["To"]) for m in mailbox.messages},
        timeout=AFTER_REDIS_BOUND,
        what=f"both booking confirmations received\n{stack.logs()}",
    )
    mailed_after = time.monotonic() - answered
    print(
        f"\n[{live_database.split(':')[0]}] Redis answering -> last résumé assigned "
        f"{assigned_after:.1f}s, last confirmation email received {mailed_after:.1f}s"
    )
    confirmations = [m for m in mailbox.messages if str(m["To"]) in booked]
    assert sorted(str(m["To"]) for m in confirmations) == sorted(booked)
    assert all(str(m["Subject"]).startswith("Booked:") for m in confirmations)
    no_email_twice(mailbox)


def test_a_sigkilled_workers_jobs_are_finished_by_another_within_a_minute(
    stack: Stack, live_database: str
) -> None:
    mailbox = stack.mailbox  # type: ignore[attr-defined]
    people = stack.people(coaches=4, learners=20, capacity=10)
    stack.beat.start()
    resume_ids = [stack.upload(token, i) for i, token in enumerate(people["tokens"])]
    flush_dispatch(stack.app)
    # The whole batch waits in the broker when the worker starts: it is killed with work left.
    doomed = stack.worker()
    # Mid-analysis: the worker has taken an analysis (its message unacknowledged) and not
    # finished it. It is frozen (SIGSTOP) to look, so what is seen is what it holds when killed;
    # the log is watched closely, as a fast machine runs the whole batch in about a second.
    assert doomed.process is not None
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"never caught the worker mid-analysis\n{stack.logs()}"
        if not analysis_in_flight(doomed.log()):
            time.sleep(0.002)
            continue
        signal_worker(doomed.process.pid, signal.SIGSTOP)
        if analysis_in_flight(doomed.log()):
            break
        signal_worker(doomed.process.pid, signal.SIGCONT)
    signal_worker(doomed.process.pid, signal.SIGKILL)  # the whole worker: parent and pool
    killed = time.monotonic()
    doomed.process.wait(timeout=10)
    doomed.process = None
    assert stack.statuses(resume_ids).count("assigned") < len(resume_ids)
    stack.worker()

    wait_until(
        lambda: stack.all_assigned(resume_ids),
        timeout=AFTER_KILL_BOUND,
        what=f"every résumé assigned\n{stack.statuses(resume_ids)}\n{stack.logs()}",
    )
    assigned_after = time.monotonic() - killed
    wait_until(lambda: stack.jobs_left() == 0, timeout=AFTER_KILL_BOUND, what="no job left")
    finished_after = time.monotonic() - killed
    print(
        f"\n[{live_database.split(':')[0]}] SIGKILL -> last résumé assigned "
        f"{assigned_after:.1f}s, last outbox job finished {finished_after:.1f}s"
    )
    no_email_twice(mailbox)


def signal_worker(pid: int, sig: int) -> None:
    """Signal a worker's pool processes, then the worker itself (pool first: a frozen parent
    must not see a child finish)."""
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), sig)
    os.kill(pid, sig)


def analysis_in_flight(worker_log: str) -> bool:
    received = re.findall(r"Task resumes\.analyse\[([0-9a-f-]+)\] received", worker_log)
    done = set(re.findall(r"\[([0-9a-f-]+)\] (?:succeeded|raised|retry)", worker_log))
    return any(task_id not in done for task_id in received)
