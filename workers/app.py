"""The Celery application bound to a Flask app, so every task runs in an app context."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

import config
import services
from services import outbox
from services.db import db, writer

TASK_MODULES = ["workers.notifications", "workers.outbox", "workers.bookings", "workers.resumes"]

BEAT_SCHEDULE = {
    # The relay hands over what a stopped broker or a dead process left behind.
    "outbox-relay": {"task": "outbox.relay", "schedule": 5.0},
    # Deliveries a dead worker left "sending" are marked failed, for staff to see and retry.
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60.0},
    # Résumés: offers past the accept window are routed again; unassigned ones take freed
    # capacity (coach back from leave, capacity raised); due-time warnings and escalations;
    # analyses whose job was lost are handed over again. Each scans the database: safe twice.
    "resumes-expire-offers": {"task": "resumes.expire_offers", "schedule": 60.0},
    "resumes-drain": {"task": "resumes.drain", "schedule": 30.0},
    "resumes-scan-due": {"task": "resumes.scan_due", "schedule": 60.0},
    "resumes-sweep": {"task": "resumes.sweep", "schedule": 60.0},
    # Bookings: 24 h and 1 h reminders (each once), waitlist offers lapsing and freed slots.
    "bookings-reminders": {"task": "bookings.send_reminders", "schedule": 60.0},
    "bookings-waitlist": {"task": "bookings.match_waitlist", "schedule": 60.0},
}

# Entries whose interval a setting may change (tests and benchmarks run the scheduler faster).
SCHEDULE_SETTINGS = {
    "outbox-relay": "OUTBOX_RELAY_INTERVAL_SECONDS",
    "notifications-sweep": "NOTIFY_SWEEP_INTERVAL_SECONDS",
    "bookings-reminders": "BOOKING_SCAN_INTERVAL_SECONDS",
    "bookings-waitlist": "BOOKING_SCAN_INTERVAL_SECONDS",
    "resumes-expire-offers": "RESUME_SCAN_INTERVAL_SECONDS",
    "resumes-scan-due": "RESUME_SCAN_INTERVAL_SECONDS",
    "resumes-sweep": "RESUME_SCAN_INTERVAL_SECONDS",
}


def beat_schedule(settings: Any) -> dict[str, dict[str, Any]]:
    """BEAT_SCHEDULE with configured intervals; a run that waited past the next one expires
    unrun (every periodic job scans the database, so the next run does its work)."""
    schedule = {name: dict(entry) for name, entry in BEAT_SCHEDULE.items()}
    for name, setting in SCHEDULE_SETTINGS.items():
        if name in schedule and settings.get(setting):
            schedule[name]["schedule"] = float(settings[setting])
    for entry in schedule.values():
        interval = entry["schedule"]
        if isinstance(interval, int | float):
            entry["options"] = {"expires": max(float(interval), 1.0), **entry.get("options", {})}
    return schedule


def create_flask_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The workers' own minimal Flask app: settings and the database, no web routes."""
    app = Flask("workers", instance_path=str(config.INSTANCE_DIR))
    app.config.update(config.load())
    app.config.update(overrides or {})
    services.init_app(app)
    return app


def create_celery(flask_app: Flask | None = None) -> Celery:
    flask_app = flask_app or create_flask_app()

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            # Tasks write: on SQLite their transactions take the write lock up front.
            with writer(), flask_app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    # Each task gets a fresh session; nothing uncommitted survives it.
                    db.session.remove()

    celery_app = Celery(flask_app.import_name, task_cls=FlaskTask)
    celery_app.config_from_object(config.celery_settings(flask_app.config))
    celery_app.conf.beat_schedule = beat_schedule(flask_app.config)
    celery_app.conf.include = TASK_MODULES
    celery_app.set_default()
    flask_app.extensions["celery"] = celery_app

    def dispatch(task_name: str, args: tuple[Any, ...]) -> None:
        celery_app.send_task(task_name, args=list(args), retry=False)

    outbox.set_dispatcher(flask_app, dispatch)
    return celery_app
