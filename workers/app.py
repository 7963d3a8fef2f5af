"""The Celery application bound to a Flask app, so every task runs in an app context."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery, Task, signals
from celery.beat import PersistentScheduler
from celery.worker.consumer import Consumer
from flask import Flask

import config
import services
from services import logs, outbox
from services.db import db, writer

log = logging.getLogger(__name__)

TASK_MODULES = [
    "workers.notifications",
    "workers.outbox",
    "workers.bookings",
    "workers.resumes",
    "workers.storage",
]

BEAT_SCHEDULE = {
    # The relay hands over what a stopped broker or a dead process left behind.
    "outbox-relay": {"task": "outbox.relay", "schedule": 5.0},
    # Deliveries a dead worker left "sending" are marked failed, for staff to see and retry.
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60.0},
    # Résumés: offers past the accept window are routed again; unassigned ones take freed
    # capacity (coach back from leave, capacity raised); due-time warnings and escalations. Each
    # scans the database: safe twice. (Analysis and routing jobs are outbox jobs: the relay.)
    "resumes-expire-offers": {"task": "resumes.expire_offers", "schedule": 60.0},
    "resumes-drain": {"task": "resumes.drain", "schedule": 30.0},
    "resumes-scan-due": {"task": "resumes.scan_due", "schedule": 60.0},
    # Bookings: 24 h and 1 h reminders (each once), waitlist offers lapsing and freed slots.
    "bookings-reminders": {"task": "bookings.send_reminders", "schedule": 60.0},
    "bookings-waitlist": {"task": "bookings.match_waitlist", "schedule": 60.0},
    # Stored files no row names (an upload whose commit failed), past their grace period.
    "storage-sweep": {"task": "storage.sweep", "schedule": 3600.0},
    # Coaches' own calendars: each feed is read when due (every CALENDAR_FEED_INTERVAL_MINUTES).
    "bookings-calendar-feeds": {"task": "bookings.refresh_calendar_feeds", "schedule": 60.0},
}

# Entries whose interval a setting may change (tests and benchmarks run the scheduler faster).
SCHEDULE_SETTINGS = {
    "outbox-relay": "OUTBOX_RELAY_INTERVAL_SECONDS",
    "notifications-sweep": "NOTIFY_SWEEP_INTERVAL_SECONDS",
    "bookings-reminders": "BOOKING_SCAN_INTERVAL_SECONDS",
    "bookings-waitlist": "BOOKING_SCAN_INTERVAL_SECONDS",
    "resumes-expire-offers": "RESUME_SCAN_INTERVAL_SECONDS",
    "resumes-scan-due": "RESUME_SCAN_INTERVAL_SECONDS",
    "storage-sweep": "STORAGE_SWEEP_INTERVAL_SECONDS",
}

# How the worker's consumer and beat retry a lost broker connection. Celery's own defaults wait
# 2 s more after each failed try, up to 30 s: after an outage of a minute, the worker (and beat,
# which runs the relay) would come back up to half a minute after Redis did. A try costs one
# refused TCP connection, so retry every second. (Measured: both back within a second.)
RECONNECT = {"interval_start": 0, "interval_step": 1, "interval_max": 1}


class PromptReconnectConsumer(Consumer):  # type: ignore[misc]
    """The worker's consumer, reconnecting to the broker within a second of its return."""

    def ensure_connected(self, conn: Any) -> Any:
        ensure = conn.ensure_connection

        def prompt(*args: Any, **kwargs: Any) -> Any:
            return ensure(*args, **{**RECONNECT, **kwargs})

        conn.ensure_connection = prompt
        return super().ensure_connected(conn)


class PromptReconnectScheduler(PersistentScheduler):  # type: ignore[misc]
    """Beat's scheduler, sending again within a second of the broker's return."""

    def _ensure_connected(self) -> Any:
        def _error_handler(exc: Exception, interval: float) -> None:
            log.error("beat: connection error: %s; trying again in %s s", exc, interval)

        return self.connection.ensure_connection(
            _error_handler, self.app.conf.broker_connection_max_retries, **RECONNECT
        )


def beat_schedule(settings: Any) -> dict[str, dict[str, Any]]:
    """BEAT_SCHEDULE with configured intervals; a run that waited past the next one expires
    unrun (every periodic job scans the database, so the next run does its work)."""
    schedule = {name: dict(entry) for name, entry in BEAT_SCHEDULE.items()}
    for name, setting in SCHEDULE_SETTINGS.items():
        if name in schedule and settings.get(setting):
            schedule[name]["schedule"] = float(settings[setting])
    for name, entry in schedule.items():
        interval = entry["schedule"]
        if isinstance(interval, int | float):
            entry["options"] = {
                "expires": max(float(interval), 1.0),
                # Names the entry and the beat's interval, so a worker runs it at most once per
                # period (PeriodLock), whatever interval the worker's own settings give it.
                "headers": {PERIODIC_HEADER: name, PERIOD_HEADER: float(interval)},
                **entry.get("options", {}),
            }
    return schedule


PERIODIC_HEADER = "periodic"
PERIOD_HEADER = "period_seconds"


class PeriodLock:
    """At most one run of a periodic job per period, however many beats send it (a second beat
    started by mistake, on this host or another): like indico's ``locked_task``, a Redis lock,
    here one per period, so the copy that arrives second, even after the first finished, skips.

    The period is the Redis server's clock divided by the entry's interval, so every worker
    host agrees on it whatever its own clock says."""

    PREFIX = "career-services:periodic"

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._client: Any = None
        self._pid = 0

    def _redis(self) -> Any:
        import os

        import redis

        if self._client is None or self._pid != os.getpid():  # one client per (forked) process
            self._client = redis.Redis.from_url(
                self.redis_url, socket_connect_timeout=2, socket_timeout=2
            )
            self._pid = os.getpid()
        return self._client

    def claim(self, entry: str, interval: float, holder: str) -> tuple[bool, int | None]:
        """(whether this run may go ahead, its period). A run whose lock cannot be taken because
        Redis does not answer goes ahead: every periodic job is safe to run twice."""
        if interval <= 0:
            return True, None
        try:
            client = self._redis()
            seconds, micros = client.time()
            period = int((seconds + micros / 1e6) // interval)
            taken = client.set(
                f"{self.PREFIX}:{entry}:{period}", holder, nx=True, px=int(interval * 2000) + 1000
            )
        except Exception:  # Redis is down: it could not have delivered this copy anyway
            log.warning("periodic job %s: could not take its lock; running it", entry)
            return True, None
        return bool(taken), period


def create_flask_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The workers' own minimal Flask app: settings and the database, no web routes."""
    app = Flask("workers", instance_path=str(config.INSTANCE_DIR))
    app.config.update(config.load())
    app.config.update(overrides or {})
    logs.configure(app.config)
    services.init_app(app)
    return app


# --- logs: each task's lines carry its name, id and the request that caused it -------------------

_task_log = logging.getLogger("workers.tasks")
_running: dict[str, tuple[float, list[Any]]] = {}


@signals.setup_logging.connect
def _keep_our_logging(**_: Any) -> None:
    """Celery leaves logging to services.logs (configured with the app): one format everywhere."""


@signals.task_prerun.connect
def _task_started(task_id: str, task: Task, **_: Any) -> None:
    request_id = task.request.get(outbox.REQUEST_HEADER) if task.request else None
    tokens = [
        (logs.task_name, logs.task_name.set(task.name)),
        (logs.task_id, logs.task_id.set(task_id)),
        (logs.request_id, logs.request_id.set(request_id)),
    ]
    _running[task_id] = (time.perf_counter(), tokens)


@signals.task_postrun.connect
def _task_finished(task_id: str, task: Task, state: str | None = None, **_: Any) -> None:
    started, tokens = _running.pop(task_id, (None, []))
    if started is not None:
        duration = time.perf_counter() - started
        _task_log.info(
            "task %s %s in %.1f ms",
            task.name,
            (state or "unknown").lower(),
            duration * 1000,
            extra={"duration_ms": round(duration * 1000, 1), "outcome": (state or "").lower()},
        )
    for var, token in reversed(tokens):
        try:
            var.reset(token)
        except ValueError:  # set in another context (a thread pool): leave it to that one
            var.set(None)


def create_celery(flask_app: Flask | None = None) -> Celery:
    flask_app = flask_app or create_flask_app()

    schedule = beat_schedule(flask_app.config)
    period_lock = PeriodLock(flask_app.config["REDIS_URL"])

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            entry = self.request.get(PERIODIC_HEADER) if self.request else None
            if entry:
                interval = float(self.request.get(PERIOD_HEADER) or 0)
                go, period = period_lock.claim(str(entry), interval, str(self.request.id))
                if not go:
                    log.info(
                        "periodic job %s: already run in period %s; this copy skipped",
                        entry,
                        period,
                        extra={"periodic": entry, "period": period, "outcome": "skipped"},
                    )
                    return None
                log.info(
                    "periodic job %s: running for period %s",
                    entry,
                    period,
                    extra={"periodic": entry, "period": period},
                )
            # Tasks write: on SQLite their transactions take the write lock up front.
            with writer(), flask_app.app_context():
                try:
                    job_id = self.request.get(outbox.JOB_HEADER) if self.request else None
                    if job_id is None:
                        return self.run(*args, **kwargs)
                    return run_job(flask_app, int(job_id), lambda: self.run(*args, **kwargs))
                finally:
                    # Each task gets a fresh session; nothing uncommitted survives it.
                    db.session.remove()

    celery_app = Celery(flask_app.import_name, task_cls=FlaskTask)
    celery_app.config_from_object(config.celery_settings(flask_app.config))
    celery_app.conf.beat_schedule = schedule
    celery_app.conf.include = TASK_MODULES
    celery_app.set_default()
    flask_app.extensions["celery"] = celery_app

    # A consumer that comes back within a second of the broker (see PromptReconnectConsumer).
    celery_app.conf.worker_consumer = f"{__name__}:PromptReconnectConsumer"
    celery_app.conf.beat_scheduler = f"{__name__}:PromptReconnectScheduler"

    def dispatch(handover: outbox.Handover) -> None:
        # Raises when the broker is down: the outbox marks the row for the relay's next run.
        celery_app.send_task(handover.task, args=list(handover.args), headers=handover.headers)

    outbox.set_dispatcher(flask_app, dispatch)
    return celery_app


def run_job(flask_app: Flask, job_id: int, run: Any) -> Any:
    """Run an outbox job: claim its row (a lease), renew it while running, delete it when done.
    A copy of a job that finished, or that a live worker holds, does nothing (see services/outbox
    for why a lease and heartbeat, not the broker's visibility timeout, recover a dead worker's)."""
    attempt = outbox.claim_job(job_id)
    db.session.commit()
    if attempt is None:
        log.info("outbox job %s: finished or held elsewhere; nothing to do", job_id)
        return None
    try:
        with _heartbeat(flask_app, job_id, attempt):
            result = run()
    except BaseException:
        db.session.rollback()
        outbox.release_job(job_id, attempt)
        db.session.commit()
        raise
    outbox.finish_job(job_id)
    db.session.commit()
    return result


@contextmanager
def _heartbeat(flask_app: Flask, job_id: int, attempt: int) -> Iterator[None]:
    """Renew the job's lease every quarter lease while the block runs, from a thread of its own."""
    with flask_app.app_context():
        interval = outbox.job_lease().total_seconds() / 4
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with flask_app.app_context():
                    if not outbox.renew_job(job_id, attempt):
                        return  # the relay gave it to another worker: let that one hold it
            except Exception:  # a busy database: the next beat tries again, well within the lease
                log.warning("could not renew the lease of outbox job %s", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"outbox-job-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 15)
