"""A second beat started by mistake: two real `celery beat` processes send every periodic job,
and a real worker runs each at most once per period (a Redis lock per period, as indico's
locked_task takes one), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.conftest import RUN_DIR, worker_env
from tests.support_notifications import Beat, wait_until

RUNNING = re.compile(r"periodic job outbox-relay: running for period (\d+)")
SKIPPED = re.compile(r"periodic job outbox-relay: already run in period (\d+); this copy skipped")


@pytest.mark.worker
def test_two_beats_still_run_each_periodic_job_once_per_period(
    live_database, live_redis_url, start_worker
):
    quick = {"OUTBOX_RELAY_INTERVAL_SECONDS": "1"}
    worker = start_worker(concurrency=2, **quick)
    env = worker_env(live_database, live_redis_url, None, **quick)
    beats = [Beat(env, RUN_DIR / "logs"), Beat(env, RUN_DIR / "logs")]
    for beat in beats:
        beat.start()
    try:
        wait_until(
            lambda: len(SKIPPED.findall(worker.log())) >= 5,
            timeout=90,
            what="five copies of the relay skipped",
        )
    finally:
        for beat in beats:
            beat.stop()
    log = worker.log()
    for beat in beats:  # both beats really sent it
        assert "Sending due task outbox-relay" in beat.log(), beat.log()[-2000:]
    runs = Counter(RUNNING.findall(log))
    skipped = SKIPPED.findall(log)
    assert runs and max(runs.values()) == 1, runs  # never twice in one period
    assert set(skipped) <= set(runs)  # a copy skipped because its period's run had the lock
