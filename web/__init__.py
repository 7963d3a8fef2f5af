"""The Flask app factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

import config
import services
from services import logs, outbox
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
    if int(app.config.get("PROXY_COUNT", 0)) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    logs.configure(app.config)

    app.jinja_env.add_extension("jinja2.ext.do")
    from web import formatting

    formatting.init_app(app)
    services.init_app(app)
    _init_extensions(app)
    _init_write_intent(app)
    _init_dispatch(app)

    from web import (
        api,
        auth,
        cli,
        coach,
        errors,
        learner,
        observability,
        public,
        security_headers,
        staff,
    )

    observability.init_app(app)

    errors.init_app(app)
    api.init_app(app)  # registers flask-smorest's error handler; ours below takes precedence
    errors.init_app(app)
    public.init_app(app)
    auth.init_app(app)
    learner.init_app(app)
    coach.init_app(app)
    staff.init_app(app)
    security_headers.init_app(app)
    cli.init_app(app)
    return app


def _init_write_intent(app: Flask) -> None:
    """A request that may change state starts its transactions as a writer (see services.db)."""
    from flask import g, request

    from services.db import write_intent

    @app.before_request
    def _mark() -> None:
        if request.method not in {"GET", "HEAD", "OPTIONS"}:
            g.write_intent_token = write_intent.set(True)

    @app.teardown_request
    def _unmark(exc: BaseException | None) -> None:
        token = g.pop("write_intent_token", None)
        if token is not None:
            write_intent.reset(token)


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
