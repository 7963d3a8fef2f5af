"""Settings from the environment, with working one-machine defaults (see API.md, Configuration)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from kombu import Queue  # type: ignore[attr-defined]

ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", ROOT / "instance"))


class ConfigError(RuntimeError):
    """The configuration cannot work (e.g. production without SECRET_KEY)."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """PostgreSQL URLs use psycopg 3, whatever scheme the environment gives."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _secret_key(env: dict[str, str], production: bool) -> str:
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"]
    if production:
        raise ConfigError("SECRET_KEY must be set in production (APP_ENV=production).")
    # Development: generated once and kept, so sessions survive a restart.
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from ``env`` (the process environment by default)."""
    env = dict(os.environ if env is None else env)
    production = env.get("APP_ENV", "development") == "production"
    if production and _bool(env.get("FLASK_DEBUG")):
        raise ConfigError("Debug mode must be off in production.")
    redis_url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    base_url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    max_upload_mb = int(env.get("MAX_UPLOAD_MB", "5"))
    return {
        "APP_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(env, production),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            env.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'career_services.sqlite3'}")
        ),
        "REDIS_URL": redis_url,
        "BASE_URL": base_url,
        "UPLOAD_DIR": env.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads")),
        "MAX_UPLOAD_MB": max_upload_mb,
        # Multipart overhead on top of the file; the résumé service checks the file size exactly.
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024 + 256 * 1024,
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_DEFAULT_SENDER": env.get(
            "MAIL_DEFAULT_SENDER", "Career Services <careers@localhost>"
        ),
        # Without MAIL_SERVER, development mail goes to files here (and a log line): never dropped.
        "MAIL_FILE_DIR": env.get("MAIL_FILE_DIR", str(INSTANCE_DIR / "mail")),
        "API_TOKEN_TTL_HOURS": int(env.get("API_TOKEN_TTL_HOURS", "24")),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "5 per minute"),
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), default=production),
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), default=production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def celery_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The one place Celery is configured; the web client and the workers both use it."""
    return {
        "broker_url": cfg["REDIS_URL"],
        # Results are not used: tasks change the database, which is the record.
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # A task is acknowledged only when it finished, so a killed worker's task is redelivered...
        "task_acks_late": True,
        # ...including when the worker process itself died (SIGKILL, OOM), not only on a clean stop.
        "task_reject_on_worker_lost": True,
        # One message at a time per process: a dying worker holds at most one unacknowledged task.
        "worker_prefetch_multiplier": 1,
        # Redis redelivers an unacknowledged task after this; it must exceed the longest run time
        # (hard limit 300 s) and every retry countdown (capped at 600 s below).
        "broker_transport_options": {"visibility_timeout": 3600},
        # A stuck task is stopped rather than holding a worker process forever.
        "task_soft_time_limit": 240,
        "task_time_limit": 300,
        # Web processes publish and must not hang on a Redis that is down: the outbox keeps it.
        "broker_connection_timeout": 2,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": "default",
        # Declared, so a plain `celery -A workers worker` consumes all three.
        "task_queues": [Queue(name) for name in ("default", "notifications", "heavy")],  # type: ignore[no-untyped-call]
        "task_routes": {
            "notifications.*": {"queue": "notifications"},
            "outbox.*": {"queue": "notifications"},
            "resumes.*": {"queue": "heavy"},
        },
        "worker_hijack_root_logger": False,
    }
