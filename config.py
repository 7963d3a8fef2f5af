"""Settings from the environment, with working one-machine defaults (README, Configuration)."""

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
        # Reverse proxies in front of the web hosts that set X-Forwarded-For and -Proto: with 1,
        # the client's address (the sign-in limit's key) and HTTPS (HSTS, secure cookies) are
        # read from the proxy's headers. 0: no proxy, the headers are ignored.
        "PROXY_COUNT": int(env.get("PROXY_COUNT", "0")),
        "MAX_UPLOAD_MB": max_upload_mb,
        # Multipart overhead on top of the file; the résumé service checks the file size exactly.
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024 + 256 * 1024,
        # Résumé routing: a coach accepts an offer within this window, and reviews by the due time
        # (warned at 75 % of it, staff told when it passes).
        "RESUME_ACCEPT_HOURS": float(env.get("RESUME_ACCEPT_HOURS", "24")),
        "RESUME_DUE_HOURS": float(env.get("RESUME_DUE_HOURS", "72")),
        # A coach may correct a sent review for this long after sending it; the learner is told.
        "REVIEW_CORRECTION_HOURS": float(env.get("REVIEW_CORRECTION_HOURS", "24")),
        # The full parse of an upload runs in a child process with these limits.
        "RESUME_PARSE_TIMEOUT_SECONDS": float(env.get("RESUME_PARSE_TIMEOUT_SECONDS", "30")),
        "RESUME_PARSE_MEMORY_MB": int(env.get("RESUME_PARSE_MEMORY_MB", "512")),
        # How often the beat scans for lapsed offers, due-time warnings and escalations (each scan
        # is safe to run twice).
        "RESUME_SCAN_INTERVAL_SECONDS": float(env.get("RESUME_SCAN_INTERVAL_SECONDS", "60")),
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
        # "Forgot your password?": how long a reset link works, and how often one may be asked for
        # (per address asked about, and per client address).
        "PASSWORD_RESET_MINUTES": int(env.get("PASSWORD_RESET_MINUTES", "60")),
        "RESET_RATE_LIMIT": env.get("RESET_RATE_LIMIT", "3 per hour"),
        # A signed-in session ends after this long without a request, and this long after sign-in.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": int(env.get("SESSION_ABSOLUTE_HOURS", "12")),
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), default=production),
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), default=production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        **_notification_settings(env),
        **_booking_settings(env),
        **_storage_settings(env),
        **_observability_settings(env),
    }


def _storage_settings(env: dict[str, str]) -> dict[str, Any]:
    """Where uploaded files live (issue 16): the folder UPLOAD_DIR (one machine), or any
    S3-compatible object store at STORAGE_URL=s3://bucket/prefix (several machines)."""
    url = env.get("STORAGE_URL", "").strip()
    if url:
        from services.storage import parse_url

        try:
            parse_url(url)
        except ValueError as exc:
            raise ConfigError(f"STORAGE_URL: {exc}.") from exc
    style = env.get("S3_ADDRESSING_STYLE", "auto")
    if style not in {"auto", "path", "virtual"}:
        raise ConfigError("S3_ADDRESSING_STYLE must be auto, path or virtual.")
    return {
        "STORAGE_URL": url,
        # For a store other than AWS: its address, e.g. http://seaweedfs:8333 (empty: AWS S3).
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL", ""),
        "S3_REGION": env.get("S3_REGION", "us-east-1"),
        # Empty: boto3's own chain (AWS_ACCESS_KEY_ID and friends, an instance profile).
        "S3_ACCESS_KEY_ID": env.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": env.get("S3_SECRET_ACCESS_KEY", ""),
        # "path" for most self-hosted stores (MinIO, SeaweedFS), "auto" for AWS.
        "S3_ADDRESSING_STYLE": style,
        # A store that does not answer fails an upload quickly (a 503 problem), never hangs it.
        "S3_CONNECT_TIMEOUT_SECONDS": float(env.get("S3_CONNECT_TIMEOUT_SECONDS", "2")),
        "S3_READ_TIMEOUT_SECONDS": float(env.get("S3_READ_TIMEOUT_SECONDS", "30")),
        "S3_MAX_ATTEMPTS": int(env.get("S3_MAX_ATTEMPTS", "3")),
        # An object no row names (its upload's commit failed) is deleted this long after its
        # last upload, by the beat's sweep at this interval.
        "STORAGE_ORPHAN_GRACE_HOURS": float(env.get("STORAGE_ORPHAN_GRACE_HOURS", "24")),
        "STORAGE_SWEEP_INTERVAL_SECONDS": float(env.get("STORAGE_SWEEP_INTERVAL_SECONDS", "3600")),
    }


def _observability_settings(env: dict[str, str]) -> dict[str, Any]:
    """Logs and metrics (issue 16)."""
    log_format = env.get("LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in {"text", "json"}:
        raise ConfigError("LOG_FORMAT must be text or json.")
    return {
        # "json": one JSON object a line (request id, user, route, status, duration; task name,
        # id, duration, outcome). "text": lines for a person.
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        # /metrics (Prometheus) answers only a request with "Authorization: Bearer <token>";
        # without a token set, /metrics answers 404.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
    }


def _booking_settings(env: dict[str, str]) -> dict[str, Any]:
    """Mock-interview booking policy (issue 4). Per-type buffers, notice, horizon and cutoff live
    on each interview type (staff change them with PATCH /api/v1/interview-types/<slug>)."""
    return {
        # Start times lie on this grid, in minutes from the Unix epoch (:00 and :30 by default).
        "BOOKING_SLOT_STEP_MINUTES": int(env.get("BOOKING_SLOT_STEP_MINUTES", "30")),
        "BOOKING_COACH_DAILY_CAP": int(env.get("BOOKING_COACH_DAILY_CAP", "6")),
        "BOOKING_MAX_UPCOMING_PER_TYPE": int(env.get("BOOKING_MAX_UPCOMING_PER_TYPE", "2")),
        "BOOKING_MAX_RESCHEDULES": int(env.get("BOOKING_MAX_RESCHEDULES", "2")),
        "BOOKING_NO_SHOW_LIMIT": int(env.get("BOOKING_NO_SHOW_LIMIT", "3")),
        "BOOKING_NO_SHOW_WINDOW_DAYS": int(env.get("BOOKING_NO_SHOW_WINDOW_DAYS", "60")),
        "BOOKING_SUSPENSION_DAYS": int(env.get("BOOKING_SUSPENSION_DAYS", "14")),
        "BOOKING_WAITLIST_HOLD_MINUTES": int(env.get("BOOKING_WAITLIST_HOLD_MINUTES", "30")),
        # Each booking gets its own unguessable room under this address.
        "BOOKING_MEETING_BASE_URL": env.get("BOOKING_MEETING_BASE_URL", "https://meet.jit.si"),
        # How often the beat scans for due reminders and waitlist offers to pass on.
        "BOOKING_SCAN_INTERVAL_SECONDS": float(env.get("BOOKING_SCAN_INTERVAL_SECONDS", "60")),
        # Coaches' own calendar feeds (issue 15): how often each is read, how long before a feed
        # not read is stale, and whether a stale feed's last known busy times still block.
        "CALENDAR_FEED_INTERVAL_MINUTES": int(env.get("CALENDAR_FEED_INTERVAL_MINUTES", "15")),
        "CALENDAR_FEED_STALE_HOURS": int(env.get("CALENDAR_FEED_STALE_HOURS", "24")),
        "CALENDAR_FEED_STALE_BLOCKS": _bool(env.get("CALENDAR_FEED_STALE_BLOCKS"), default=True),
        "CALENDAR_FEED_MAX_BYTES": int(env.get("CALENDAR_FEED_MAX_BYTES", str(5 * 1024 * 1024))),
        "CALENDAR_FEED_TIMEOUT_SECONDS": float(env.get("CALENDAR_FEED_TIMEOUT_SECONDS", "10")),
        # Host names a feed may be read from even on a private or loopback address: for tests
        # only (a comma-separated list; empty, so every such address is refused, by default).
        "CALENDAR_FEED_ALLOWED_HOSTS": [
            h.strip().lower()
            for h in env.get("CALENDAR_FEED_ALLOWED_HOSTS", "").split(",")
            if h.strip()
        ],
    }


def _notification_settings(env: dict[str, str]) -> dict[str, Any]:
    """The outbox relay, email retries and the Celery limits they must fit inside (issue 3)."""
    settings: dict[str, Any] = {
        # How often beat runs the relay.
        "OUTBOX_RELAY_INTERVAL_SECONDS": float(env.get("OUTBOX_RELAY_INTERVAL_SECONDS", "5")),
        # How long an event, delivery or job may sit past its hand-over before the relay hands it
        # over again; it then waits as long once more, so a slow worker is never flooded with
        # copies. A hand-over known to have failed (Redis down) waits for the next run only.
        "OUTBOX_RELAY_AFTER_SECONDS": float(env.get("OUTBOX_RELAY_AFTER_SECONDS", "30")),
        # A worker running an outbox job holds it this long, renewed every quarter of it while
        # the task runs: a worker that dies has its jobs handed over again within about this
        # long (plus a relay interval), whatever the task time limits (see services/outbox.py).
        "OUTBOX_JOB_LEASE_SECONDS": float(env.get("OUTBOX_JOB_LEASE_SECONDS", "20")),
        # Email retries: exponential backoff with jitter from the base, capped, then failed.
        "NOTIFY_RETRY_BASE_SECONDS": float(env.get("NOTIFY_RETRY_BASE_SECONDS", "2")),
        "NOTIFY_RETRY_MAX_SECONDS": float(env.get("NOTIFY_RETRY_MAX_SECONDS", "600")),
        "NOTIFY_MAX_ATTEMPTS": int(env.get("NOTIFY_MAX_ATTEMPTS", "8")),
        # A delivery still "sending" this long after it was claimed lost its worker mid-send: it
        # is marked failed for staff (it may have gone out, so it is never resent on its own).
        "NOTIFY_STUCK_AFTER_SECONDS": float(env.get("NOTIFY_STUCK_AFTER_SECONDS", "360")),
        "NOTIFY_SWEEP_INTERVAL_SECONDS": float(env.get("NOTIFY_SWEEP_INTERVAL_SECONDS", "60")),
        # Celery's soft and hard time limits, and the broker's redelivery timeout (see below).
        "TASK_SOFT_TIME_LIMIT_SECONDS": int(env.get("TASK_SOFT_TIME_LIMIT_SECONDS", "240")),
        "TASK_TIME_LIMIT_SECONDS": int(env.get("TASK_TIME_LIMIT_SECONDS", "300")),
        "BROKER_VISIBILITY_TIMEOUT_SECONDS": int(
            env.get("BROKER_VISIBILITY_TIMEOUT_SECONDS", "3600")
        ),
    }
    check_notification_settings(settings)
    return settings


def check_notification_settings(cfg: dict[str, Any]) -> None:
    """Raise ConfigError unless the limits nest: no redelivery of a task that may still run."""
    soft, hard = cfg["TASK_SOFT_TIME_LIMIT_SECONDS"], cfg["TASK_TIME_LIMIT_SECONDS"]
    visibility = cfg["BROKER_VISIBILITY_TIMEOUT_SECONDS"]
    if not 0 < soft < hard:
        raise ConfigError("TASK_SOFT_TIME_LIMIT_SECONDS must be below TASK_TIME_LIMIT_SECONDS.")
    if not hard < visibility:
        raise ConfigError("BROKER_VISIBILITY_TIMEOUT_SECONDS must exceed TASK_TIME_LIMIT_SECONDS.")
    if not cfg["NOTIFY_RETRY_MAX_SECONDS"] < visibility:
        raise ConfigError(
            "NOTIFY_RETRY_MAX_SECONDS must be below BROKER_VISIBILITY_TIMEOUT_SECONDS."
        )
    if not cfg["NOTIFY_STUCK_AFTER_SECONDS"] > hard:
        raise ConfigError("NOTIFY_STUCK_AFTER_SECONDS must exceed TASK_TIME_LIMIT_SECONDS.")
    if cfg["NOTIFY_MAX_ATTEMPTS"] < 1:
        raise ConfigError("NOTIFY_MAX_ATTEMPTS must be at least 1.")


# The broker's queues: the relay's own, small jobs, notifications, heavy work (résumé parsing).
QUEUES = ("relay", "default", "notifications", "heavy")


def celery_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The one place Celery is configured; the web client and the workers both use it."""
    hard_limit = int(cfg.get("TASK_TIME_LIMIT_SECONDS", 300))
    return {
        "broker_url": cfg["REDIS_URL"],
        # Results are not used: tasks change the database, which is the record.
        "task_ignore_result": True,
        # JSON only: a message can never carry code to run (pickle would).
        "task_serializer": "json",
        "accept_content": ["json"],
        # Beat schedules and message times in UTC, like every time the service stores.
        "timezone": "UTC",
        "enable_utc": True,
        # A task is acknowledged only when it finished, so a killed worker's task is redelivered...
        "task_acks_late": True,
        # ...including when the worker process itself died (SIGKILL, OOM), not only on a clean stop.
        "task_reject_on_worker_lost": True,
        # One message at a time per process (the notifications queue included): a dying worker
        # holds at most one unacknowledged task per process, and no task waits behind a slow one.
        "worker_prefetch_multiplier": 1,
        # Redis redelivers an unacknowledged task after this; it must exceed the longest run time
        # (the hard limit) and every retry countdown (NOTIFY_RETRY_MAX_SECONDS); config checks it.
        "broker_transport_options": {
            "visibility_timeout": int(cfg.get("BROKER_VISIBILITY_TIMEOUT_SECONDS", 3600))
        },
        # A stuck task gets an exception it can clean up after (soft), then is killed (hard).
        "task_soft_time_limit": int(cfg.get("TASK_SOFT_TIME_LIMIT_SECONDS", 240)),
        "task_time_limit": hard_limit,
        # A task running when Redis drops finishes its work (its redelivered copy is a no-op)
        # rather than being cut off in the middle of an SMTP conversation.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # Web processes publish and must not hang on a Redis that is down: the outbox keeps it.
        "broker_connection_timeout": 2,
        # Workers and beat wait for Redis however long it is down, instead of exiting.
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # A publish retries once at once (a pooled connection goes stale when Redis restarts),
        # then fails: the outbox marks the row and the relay hands it over at its next run.
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.1,
            "interval_max": 0.1,
        },
        # Anything without a route (small jobs) goes here.
        "task_default_queue": "default",
        # Declared, so a plain `celery -A workers worker` consumes all four.
        "task_queues": [Queue(name) for name in QUEUES],  # type: ignore[no-untyped-call]
        # Notifications never wait behind heavy work (résumé parsing): separate queues, and a
        # deployment may give each its own workers (`-Q notifications`, `-Q heavy`). The relay,
        # the one recovery path (a dead worker's jobs, a failed hand-over), has a queue of its
        # own: in the notifications queue, behind a backlog longer than its interval, every copy
        # expired unrun and a dead worker's jobs were never handed on (the multi-host test).
        "task_routes": {
            "outbox.relay": {"queue": "relay"},
            "notifications.*": {"queue": "notifications"},
            "outbox.*": {"queue": "notifications"},
            "resumes.*": {"queue": "heavy"},
        },
        # The worker logs through the app's logging setup.
        "worker_hijack_root_logger": False,
    }
