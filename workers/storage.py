"""Storage jobs: the beat's sweep of orphaned objects."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from flask import current_app

from services import storage
from services.db import db
from services.storage import sweep as storage_sweep


@shared_task(name="storage.sweep", acks_late=True)
def sweep() -> int:
    """Delete stored objects no row names, older than STORAGE_ORPHAN_GRACE_HOURS."""
    grace = dt.timedelta(hours=float(current_app.config["STORAGE_ORPHAN_GRACE_HOURS"]))
    result = storage_sweep.sweep(storage.current(), grace)
    db.session.commit()
    return result.deleted
