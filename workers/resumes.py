"""Tasks of this domain: thin wrappers, ids in, one service call, one commit.

Every task is idempotent (a finished analysis, a routed résumé, a stamped warning are no-ops the
second time), so ``acks_late`` redelivery is safe. A busy SQLite writer lock or a PostgreSQL
serialisation hiccup, or file storage that does not answer, is retried with backoff.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from services import resumes
from services.db import db
from services.resumes import routing
from services.storage import StorageUnavailable

_RETRY = {
    "acks_late": True,
    # A busy database, or file storage not answering (the parse reads the stored file).
    "autoretry_for": (OperationalError, StorageUnavailable),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(name="resumes.analyse", **_RETRY)
def analyse(version_id: int) -> bool:
    """Parse (in a limited child process) and check one uploaded version, then hand it on.

    Three steps, with the read transaction ended before the parse: it may take seconds, and no
    transaction should stay open (or, on SQLite, go stale) meanwhile."""
    job = resumes.prepare_analysis(version_id)
    db.session.commit()
    if job is None:
        return False
    outcome = resumes.run_analysis(job)
    readable = resumes.record_analysis(job, outcome)
    db.session.commit()
    return readable


@shared_task(name="resumes.route", **_RETRY)
def route(resume_id: int) -> int | None:
    decision = routing.route(resume_id)
    db.session.commit()
    return decision.coach_id if decision else None


@shared_task(name="resumes.drain", **_RETRY)
def drain() -> int:
    """Route unassigned résumés (oldest first) when capacity has freed."""
    routed = routing.drain()
    db.session.commit()
    return routed


@shared_task(name="resumes.expire_offers", **_RETRY)
def expire_offers() -> int:
    expired = routing.expire_offers()
    db.session.commit()
    expired += routing.hand_off_time_off()
    db.session.commit()
    return expired


@shared_task(name="resumes.scan_due", **_RETRY)
def scan_due() -> tuple[int, int]:
    counts = routing.scan_due()
    db.session.commit()
    return counts
