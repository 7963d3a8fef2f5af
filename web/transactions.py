"""A change made by a request, as one write transaction: the one way views make it.

Every view that changes state does it in ``with writing():``, and nowhere else does ``web`` commit
or roll back. On SQLite there is one writer at a time, and a transaction that read before another
writer committed can no longer write (services.db): so ``writing`` ends the read transaction the
request has open (the sign-in or token check's) and starts the change as a writer, which queues for
the write lock before it reads anything. That is the one place a request asks for the lock.

Outside ``writing`` a request only reads: on PostgreSQL its reads run in autocommit, one round trip
each, and a change flushed there raises (services.db.WriteOutsideWriter) instead of being written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from services.db import autocommit_reads, db, reader, writer


def init_app(app: Flask) -> None:
    """A request reads in autocommit outside ``writing`` (services.db.autocommit_reads): on
    PostgreSQL its reads cost no BEGIN and ROLLBACK round trips, and anything it changes outside
    ``writing`` raises instead of being written."""

    @app.before_request
    def _read_in_autocommit() -> None:
        autocommit_reads.set(True)

    @app.teardown_request
    def _end_reading(error: BaseException | None) -> None:
        autocommit_reads.set(False)


@contextmanager
def writing() -> Iterator[None]:
    """The change, as one write transaction: committed when the block ends, rolled back (and the
    exception re-raised, for the view to answer) when anything in it raises."""
    db.session.commit()
    with writer():
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()


@contextmanager
def reading_first() -> Iterator[None]:
    """The slow, read-only part of a change (verifying a password), before ``writing``: ends any
    open transaction and reads without SQLite's write lock (services.db.reader), so other writers
    are not kept waiting through it. What it read is checked again, or written conditionally, in
    the write transaction that follows."""
    db.session.commit()
    with reader():
        yield
