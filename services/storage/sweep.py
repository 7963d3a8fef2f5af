"""Orphans swept: objects no row names, older than a grace period, are deleted (never a row).

An upload writes its object, then commits the row naming it; a commit that fails leaves an object
no row names. The sweep deletes such objects once they are older than the grace period (an upload
refreshes the time of an object it finds already there, so the grace runs from the last upload
of those bytes), checking the database again just before each delete.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select

from services.db import db, utcnow
from services.models import ResumeVersion
from services.storage import Storage

log = logging.getLogger(__name__)

# Every column that names a stored object by its SHA-256.
REFERENCES = (ResumeVersion.sha256,)
BATCH = 500


@dataclass(frozen=True)
class SweepResult:
    objects: int  # objects looked at
    deleted: int
    scratch_deleted: int


def referenced(shas: set[str]) -> set[str]:
    """Those of ``shas`` a row names."""
    found: set[str] = set()
    items = sorted(shas)
    for column in REFERENCES:
        for at in range(0, len(items), BATCH):
            chunk = items[at : at + BATCH]
            found.update(db.session.scalars(select(column).where(column.in_(chunk)).distinct()))
    return found


def sweep(store: Storage, grace: dt.timedelta, *, now: dt.datetime | None = None) -> SweepResult:
    """Delete objects older than ``grace`` that no row names, and stale scratch files."""
    cutoff = (now or utcnow()) - grace
    seen = 0
    old: set[str] = set()
    for info in store.objects():
        seen += 1
        if info.modified < cutoff:
            old.add(info.sha256)
    orphans = old - referenced(old)
    db.session.rollback()  # end the read: each orphan is looked up afresh below
    deleted = 0
    for sha in sorted(orphans):
        now_info = store.stat(sha)
        if now_info is None or now_info.modified >= cutoff:
            continue  # gone already, or uploaded again meanwhile
        if referenced({sha}):
            db.session.rollback()
            continue
        db.session.rollback()
        store.delete(sha)
        deleted += 1
        log.info("storage sweep: deleted orphan object %s (%d bytes)", sha, now_info.size)
    scratch = store.sweep_scratch(cutoff)
    return SweepResult(objects=seen, deleted=deleted, scratch_deleted=scratch)
