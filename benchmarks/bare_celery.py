"""The bare Celery baseline measured beside the pipelines: one no-op task with a Redis result
backend, on the same acks-late settings. `celery -A benchmarks.bare_celery:bare worker -Q bare`
imports only this much; the benchmark points it at its own Redis with BENCH_BROKER_URL."""

from __future__ import annotations

import os
import time

from celery import Celery

bare = Celery("bare", set_as_current=False)
bare.conf.update(
    broker_url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
    result_backend=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="bare",
    worker_hijack_root_logger=False,
)


@bare.task(name="bare.noop")
def noop() -> None:
    return None


def use_broker(url: str) -> None:
    """Point this process's client at the benchmark's Redis (broker and results)."""
    bare.conf.update(broker_url=url, result_backend=url)


def round_trips(count: int, warmup: int = 1) -> list[float]:
    """Seconds for each `noop.delay().get()`: publish, run, store and fetch the result."""
    for _ in range(warmup):
        noop.delay().get(timeout=30)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        noop.delay().get(timeout=30)
        samples.append(time.perf_counter() - started)
    return samples
