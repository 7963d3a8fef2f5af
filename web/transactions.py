"""A change made by a request, as one write transaction: the one way views start and end it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.db import begin_write, db, reader
from services.errors import DomainError


def start_write() -> None:
    """End whatever read transaction is open (the sign-in or token check's, or one a caller
    sharing the session began before the request's write intent applied) and start a writing one,
    before anything is read for the change: on SQLite a transaction that read before another
    writer committed can no longer write (services.db.begin_write)."""
    db.session.commit()
    begin_write()


@contextmanager
def writing() -> Iterator[None]:
    """``start_write``, the change, then commit; a refused change (DomainError) is rolled back
    and re-raised for the view to answer."""
    start_write()
    try:
        yield
    except DomainError:
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
