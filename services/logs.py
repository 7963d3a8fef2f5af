"""Logging for every process (web, worker, beat, CLI): what the service does, in lines for a
person (``LOG_FORMAT=text``, the default) or one JSON object a line (``LOG_FORMAT=json``).

Each record carries the context it was written in: the request's id and user (web), the task's
name and id (workers), and the request id of the web request that caused a task (handed on in
the task's headers, see services.outbox). Libraries' set-up chatter stays out.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

# The context of what runs now; web sets the first two per request, workers the others per task.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
task_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_name", default=None)
task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
_CONTEXT: dict[str, contextvars.ContextVar[Any]] = {
    "request_id": request_id,
    "user_id": user_id,
    "task_name": task_name,
    "task_id": task_id,
}

# Loggers whose INFO lines say what a library set up, not what the service did.
QUIET = {
    "alembic.runtime.plugins": logging.WARNING,  # seven "setup plugin ..." lines on every start
    "botocore": logging.WARNING,
    "boto3": logging.WARNING,
    "urllib3": logging.WARNING,
}

# LogRecord's own attributes: anything else on a record came in ``extra=`` and is logged too.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def context() -> dict[str, Any]:
    """The context values set now (unset ones left out)."""
    return {name: var.get() for name, var in _CONTEXT.items() if var.get() is not None}


class ContextFilter(logging.Filter):
    """Puts the current context on each record (as attributes, for either format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context, any ``extra=``
    fields, and the exception's text if there was one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line for a person, with the context at its end (``[request_id=… user_id=…]``)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        shown = {k: getattr(record, k) for k in _CONTEXT if getattr(record, k, None) is not None}
        return f"{line} [{' '.join(f'{k}={v}' for k, v in shown.items())}]" if shown else line


_HANDLER_NAME = "career-services"


def configure(settings: Mapping[str, Any]) -> None:
    """Set up the root logger once per process (again only if the format changes): one handler
    on stderr, the chosen format, the context filter, libraries quieted."""
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    fmt = str(settings.get("LOG_FORMAT", "text"))
    root = logging.getLogger()
    root.setLevel(str(settings.get("LOG_LEVEL", "INFO")))
    for handler in root.handlers:
        if handler.get_name() == _HANDLER_NAME:
            if getattr(handler, "log_format", None) == fmt:
                return
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.log_format = fmt  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    # A handler someone else installed (basicConfig, a test runner) stays; ours formats ours.
    root.addHandler(handler)
