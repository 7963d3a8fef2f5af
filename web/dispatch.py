"""Hands jobs to Celery by task name, off the request thread, so no request waits on Redis."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import Celery

import config

log = logging.getLogger(__name__)

_ONE_QUICK_RETRY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}


class BrokerDispatcher:
    """Publishes in a background thread; with the broker down, the outbox relay hands over later."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.celery = Celery("web", set_as_current=False)
        self.celery.config_from_object(config.celery_settings(settings))
        # Fail at once when Redis is down (the outbox keeps the job and the relay hands it over
        # later); kombu would otherwise retry the connection for broker_connection_timeout on
        # every publish, and the jobs behind it would queue up in this thread.
        self.celery.conf.broker_transport_options = {
            **self.celery.conf.broker_transport_options,
            "max_retries": 0,
        }
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-dispatch")

    def __call__(self, task_name: str, args: tuple[Any, ...]) -> None:
        self._pool.submit(self._send, task_name, args)

    def _send(self, task_name: str, args: tuple[Any, ...]) -> None:
        try:
            # One immediate retry: a pooled connection goes stale when Redis restarts.
            self.celery.send_task(
                task_name, args=list(args), retry=True, retry_policy=_ONE_QUICK_RETRY
            )
        except Exception as exc:  # broker down: the relay will hand it over
            log.warning("broker unavailable for %s%r: %s", task_name, args, exc)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every job handed so far has been published (or given up); for tests."""
        self._pool.submit(lambda: None).result(timeout=timeout)
