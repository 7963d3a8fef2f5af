"""The service's figures for monitoring, read when asked (web/metrics.py serves them at /metrics):
the work waiting in the outbox and in the broker's queues, and failed deliveries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import redis
from sqlalchemy import func, select

from services.db import db, utcnow
from services.models import Delivery, DeliveryStatus, OutboxEvent, OutboxJob

# The broker's queues (config.celery_settings declares them): a Redis list each.
QUEUES = ("relay", "default", "notifications", "heavy")


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest_age_seconds: float  # 0 when nothing waits


@dataclass(frozen=True)
class Snapshot:
    outbox: dict[str, Backlog]  # "event", "job", "delivery"
    deliveries_failed: int
    queue_depth: dict[str, int] = field(default_factory=dict)  # empty when Redis does not answer


def _backlog(count_and_oldest: tuple[int, dt.datetime | None], now: dt.datetime) -> Backlog:
    count, oldest = count_and_oldest
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return Backlog(int(count or 0), age)


def outbox_backlog(now: dt.datetime | None = None) -> dict[str, Backlog]:
    """What the outbox holds that no worker has finished: events not processed, jobs not done,
    deliveries not yet sent (pending or being sent), with the age of the oldest of each."""
    now = now or utcnow()
    events = db.session.execute(
        select(func.count(OutboxEvent.id), func.min(OutboxEvent.created_at)).where(
            OutboxEvent.processed_at.is_(None)
        )
    ).one()
    jobs = db.session.execute(
        select(func.count(OutboxJob.id), func.min(OutboxJob.created_at)).where(
            OutboxJob.failed_at.is_(None)
        )
    ).one()
    deliveries = db.session.execute(
        select(func.count(Delivery.id), func.min(Delivery.created_at)).where(
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING])
        )
    ).one()
    return {
        "event": _backlog(tuple(events), now),  # type: ignore[arg-type]
        "job": _backlog(tuple(jobs), now),  # type: ignore[arg-type]
        "delivery": _backlog(tuple(deliveries), now),  # type: ignore[arg-type]
    }


def deliveries_failed() -> int:
    """Emails given up on (retries spent, or lost mid-send), waiting for staff."""
    return int(
        db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.FAILED)
        )
        or 0
    )


def queue_depth(redis_url: str) -> dict[str, int]:
    """Messages waiting in each broker queue; empty if Redis does not answer."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        pipe = client.pipeline()
        for name in QUEUES:
            pipe.llen(name)
        return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
    except redis.RedisError:
        return {}
    finally:
        client.close()


def snapshot(redis_url: str) -> Snapshot:
    try:
        return Snapshot(
            outbox=outbox_backlog(),
            deliveries_failed=deliveries_failed(),
            queue_depth=queue_depth(redis_url),
        )
    finally:
        db.session.rollback()  # a read only: end it
