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
    _init_sessions(app)
    _init_extensions(app)
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
        transactions,
    )

    transactions.init_app(app)  # first: every later hook's reads run as the request's
    observability.init_app(app)

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


def _init_sessions(app: Flask) -> None:
    from flask.sessions import SecureCookieSessionInterface

    from web.page_cache import vary_on_cookie

    class CookieSessions(SecureCookieSessionInterface):
        """Flask's signed-cookie sessions; a request without the cookie starts an empty session
        without building a signer for a cookie it does not have."""

        def open_session(self, app: Flask, request: Any) -> Any:
            if app.secret_key and self.get_cookie_name(app) not in request.cookies:
                return self.session_class()
            return super().open_session(app, request)

        def save_session(self, app: Flask, session: Any, response: Any) -> None:
            if session or session.modified:
                super().save_session(app, session, response)
            elif session.accessed:
                # Nothing to store or delete: only that the answer depends on the cookie.
                vary_on_cookie(response)

    app.session_interface = CookieSessions()


def _init_extensions(app: Flask) -> None:
    from flask import request

    from services import accounts
    from web.extensions import csrf, limiter, login_manager, migrate

    # CSRF is checked where it can apply, on the methods that change state (Flask-WTF's own hook
    # looks up every request's view first).
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    unsafe = frozenset(app.config["WTF_CSRF_METHODS"])

    @app.before_request
    def _csrf_protect() -> None:
        if request.method in unsafe and app.config["WTF_CSRF_ENABLED"]:
            csrf.protect(apply_exemptions=True)

    limiter.init_app(app)
    if not any(
        app.config.get(name)
        for name in ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
    ):
        # Every limit is a route's own (its decorator checks it as the view is called): with no
        # limit for the whole app, the limiter's before-request check would find nothing on every
        # request.
        app.before_request_funcs[None].remove(limiter._check_request_limit)
    _limiter_hooks_where_limited(app)
    migrate.init_app(app, db, directory=str(config.ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(accounts.load_session_user)


def _limiter_hooks_where_limited(app: Flask) -> None:
    """Flask-Limiter's after-request hook (its headers, its conditional deductions) and teardown
    run on every request, and each first builds the request's limiter state. A request that met
    no limit has none to act on: they run only where a limit was checked (its state exists)."""
    from flask.globals import request_ctx

    def limited() -> bool:
        return hasattr(request_ctx._get_current_object(), "_limiter_request_context")

    wrapped = 0
    after = app.after_request_funcs[None]
    for i, hook in enumerate(after):
        if getattr(getattr(hook, "func", None), "__name__", "") == "__inject_headers":

            def inject(response: Any, hook: Any = hook) -> Any:
                return hook(response) if limited() else response

            after[i] = inject
            wrapped += 1
    teardown = app.teardown_request_funcs[None]
    for i, hook in enumerate(teardown):
        if getattr(hook, "__name__", "") == "__release_context":

            def release(error: BaseException | None, hook: Any = hook) -> None:
                if limited():
                    hook(error)

            teardown[i] = release
            wrapped += 1
    if wrapped != 2:  # a Flask-Limiter release that names its hooks otherwise: say so at start
        raise RuntimeError("Flask-Limiter's after-request and teardown hooks were not found")


def _init_dispatch(app: Flask) -> None:
    from web.dispatch import BrokerDispatcher

    def failed(handover: outbox.Handover) -> None:
        with app.app_context():
            outbox.handover_failed([handover])

    dispatcher = BrokerDispatcher(app.config, on_failure=failed)
    outbox.set_dispatcher(app, dispatcher)
