"""Hands jobs to Celery by task name, off the request thread, so no request waits on Redis."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import Celery

import config
from services.outbox import Handover

log = logging.getLogger(__name__)


class BrokerDispatcher:
    """Publishes in a background thread; a publish the broker refused is reported to
    ``on_failure`` at once (the outbox marks its row; the relay hands it over at its next run)."""

    def __init__(
        self, settings: dict[str, Any], on_failure: Callable[[Handover], None] | None = None
    ) -> None:
        self.celery = Celery("web", set_as_current=False)
        self.celery.config_from_object(config.celery_settings(settings))
        self.on_failure = on_failure
        # Fail at once when Redis is down (the outbox keeps the job and the relay hands it over
        # later); kombu would otherwise retry the connection for broker_connection_timeout on
        # every publish, and the jobs behind it would queue up in this thread.
        self.celery.conf.broker_transport_options = {
            **self.celery.conf.broker_transport_options,
            "max_retries": 0,
        }
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-dispatch")

    def __call__(self, handover: Handover) -> None:
        self._pool.submit(self._send, handover)

    def _send(self, handover: Handover) -> None:
        try:
            # One immediate retry (config's publish policy): a pooled connection goes stale when
            # Redis restarts.
            self.celery.send_task(handover.task, args=list(handover.args), headers=handover.headers)
        except Exception as exc:  # broker down: marked for the relay's next run
            log.warning("broker unavailable for %s%r: %s", handover.task, handover.args, exc)
            if self.on_failure is not None:
                self.on_failure(handover)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every job handed so far has been published (or given up); for tests."""
        self._pool.submit(lambda: None).result(timeout=timeout)
