"""Copying every stored object from one backend to another, each verified by its hash
(`flask --app wsgi storage migrate --to s3://bucket/prefix`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from services.db import db
from services.storage import Storage, StorageUnavailable, sha256_of
from services.storage.sweep import REFERENCES

log = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    copied: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)  # present and verified
    damaged: list[str] = field(default_factory=list)  # the source's bytes do not hash to the name
    failed: list[str] = field(default_factory=list)  # the copy did not read back the same
    missing: list[str] = field(default_factory=list)  # a row names it; the source lacks it

    @property
    def ok(self) -> bool:
        return not (self.damaged or self.failed or self.missing)


def migrate(
    source: Storage, target: Storage, *, say: Callable[[str], None] = lambda _: None
) -> MigrationReport:
    """Copy each of ``source``'s objects to ``target`` and read it back from there: it counts as
    copied only when the target's bytes hash to its name. Objects already in ``target`` are
    verified the same way, so running it again finishes an interrupted run. Raises
    StorageUnavailable when the target does not answer at all."""
    report = MigrationReport()
    for info in source.objects():
        sha = info.sha256
        with source.local_copy(sha) as path:
            if sha256_of(path) != sha:
                report.damaged.append(sha)
                say(f"damaged: {sha} (its bytes in the source do not hash to its name)")
                continue
            present = target.stat(sha)
            if present is None or present.size != info.size:
                target.put(sha, path)
                bucket = report.copied
            else:
                bucket = report.already_there
        try:
            verified = target.read_hash(sha) == sha
        except StorageUnavailable:
            verified = False
        if verified:
            bucket.append(sha)
        else:
            report.failed.append(sha)
            say(f"failed: {sha} (the copy does not read back the same bytes)")
    for column in REFERENCES:
        for sha in db.session.scalars(select(column).distinct()):
            if source.stat(sha) is None and target.stat(sha) is None:
                report.missing.append(sha)
                say(f"missing: {sha} (a row names it; neither store has it)")
    db.session.rollback()
    return report
