"""The Flask app factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

import config
import services
from services import outbox
from services.db import db


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(config.INSTANCE_DIR),
        template_folder=str(config.ROOT / "templates"),
        static_folder=str(config.ROOT / "static"),
    )
    app.config.update(config.load())
    app.config.update(test_config or {})
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    app.jinja_env.add_extension("jinja2.ext.do")
    from web import formatting

    formatting.init_app(app)
    services.init_app(app)
    _init_extensions(app)
    _init_dispatch(app)

    from web import api, auth, cli, coach, errors, learner, public, security_headers, staff

    api.init_app(app)
    errors.init_app(app)  # after the API's: its handlers replace flask-smorest's
    public.init_app(app)
    auth.init_app(app)
    learner.init_app(app)
    coach.init_app(app)
    staff.init_app(app)
    security_headers.init_app(app)
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from services import accounts
    from web.extensions import csrf, limiter, login_manager, migrate

    csrf.init_app(app)
    limiter.init_app(app)
    migrate.init_app(app, db, directory=str(config.ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(accounts.load_session_user)


def _init_dispatch(app: Flask) -> None:
    from web.dispatch import BrokerDispatcher

    def failed(handover: outbox.Handover) -> None:
        with app.app_context():
            outbox.handover_failed([handover])

    dispatcher = BrokerDispatcher(app.config, on_failure=failed)
    outbox.set_dispatcher(app, dispatcher)
