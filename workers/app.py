"""The Celery application bound to a Flask app, so every task runs in an app context."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

import config
import services
from services import outbox
from services.db import db

TASK_MODULES = ["workers.notifications", "workers.outbox", "workers.bookings", "workers.resumes"]

BEAT_SCHEDULE = {
    # The relay hands over what a stopped broker or a dead process left behind.
    "outbox-relay": {"task": "outbox.relay", "schedule": 5.0},
}


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
            with flask_app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    # Each task gets a fresh session; nothing uncommitted survives it.
                    db.session.remove()

    celery_app = Celery(flask_app.import_name, task_cls=FlaskTask)
    celery_app.config_from_object(config.celery_settings(flask_app.config))
    celery_app.conf.beat_schedule = BEAT_SCHEDULE
    celery_app.conf.include = TASK_MODULES
    celery_app.set_default()
    flask_app.extensions["celery"] = celery_app

    def dispatch(task_name: str, args: tuple[Any, ...]) -> None:
        celery_app.send_task(task_name, args=list(args), retry=False)

    outbox.set_dispatcher(flask_app, dispatch)
    return celery_app
