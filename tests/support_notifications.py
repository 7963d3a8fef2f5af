"""Shared helpers for the notification tests: a beat process, a slow SMTP server, quick settings."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import ROOT, Mailbox

# Settings that make the relay, the retries and the stuck sweep run in seconds, not minutes. They
# keep the nesting config checks: stuck-after > hard limit < visibility timeout > retry cap.
QUICK = {
    "OUTBOX_RELAY_INTERVAL_SECONDS": "0.5",
    "OUTBOX_RELAY_AFTER_SECONDS": "2",
    "NOTIFY_RETRY_BASE_SECONDS": "0.2",
    "NOTIFY_RETRY_MAX_SECONDS": "1",
    "NOTIFY_MAX_ATTEMPTS": "5",
    "NOTIFY_SWEEP_INTERVAL_SECONDS": "1",
    "TASK_SOFT_TIME_LIMIT_SECONDS": "4",
    "TASK_TIME_LIMIT_SECONDS": "5",
    "NOTIFY_STUCK_AFTER_SECONDS": "6",
}


class Beat:
    """A real `celery -A workers beat` process (the scheduler that runs the relay)."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        directory.mkdir(parents=True, exist_ok=True)
        self.schedule = directory / f"beat-{uuid.uuid4().hex[:6]}"
        self.log_path = directory / f"{self.schedule.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.schedule),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class SlowMailbox(Mailbox):
    """A real SMTP server that keeps each message, then takes ``delay`` seconds to answer: a
    worker killed meanwhile never learns that its email went out."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "it") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def deliveries_to(app: Any, addresses: Iterable[str]) -> list[Any]:
    """Fresh rows from the live database (committed by other processes)."""
    from services.db import db
    from services.models import Delivery

    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Delivery)
                .where(Delivery.to_address.in_(list(addresses)))
                .order_by(Delivery.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
        return rows


def count_by_address(messages: Iterable[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        counts[str(message["To"])] = counts.get(str(message["To"]), 0) + 1
    return counts


def task_finished(worker_log: str, task_id: str) -> bool:
    """Whether the worker's log shows the task with this id as done (succeeded or failed)."""
    return any(
        f"[{task_id}]" in line and ("succeeded" in line or "raised" in line)
        for line in worker_log.splitlines()
    )
