"""Streamed answers whose body reads the database: the one way views build them.

A streamed body runs after the view has returned, while the server sends it: the request's
session has been removed by then and every object it loaded (the signed-in user too) is
detached. So the body gets an application context, and with it a database session, of its own
for as long as it runs; it takes plain values (ids, filters), never the request's objects.

A body that ends in a record of its own (an export's audit entry) writes it only after its last
line has been produced, in a short write transaction; an export that fails or is abandoned half
way (the client went away) records nothing. The end of the transfer goes out only after that
record is committed, so a client that got a complete answer knows it was recorded, and one whose
export failed sees a broken transfer (the server closes the connection before the final chunk),
never a truncated file passed off as whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from flask import current_app

from services.db import write_intent
from web.transactions import writing

# Records are sent in chunks of about this size: one write per chunk, not one per line.
CHUNK_BYTES = 64 * 1024


def streamed(
    records: Callable[[], Iterable[str]], finished: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The body of a streamed answer: ``records()`` run in an application context (and database
    session) of its own, its records sent in chunks of about CHUNK_BYTES; then, once every record
    was produced, ``finished(number of records)`` in a write transaction of its own."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> Iterator[bytes]:
        with app.app_context():
            count = 0
            buffer: list[str] = []
            size = 0
            for record in records():
                count += 1
                buffer.append(record)
                size += len(record)
                if size >= CHUNK_BYTES:
                    yield "".join(buffer).encode()
                    buffer, size = [], 0
            if buffer:
                yield "".join(buffer).encode()
            if finished is not None:
                token = write_intent.set(True)  # SQLite: BEGIN IMMEDIATE, queue for the lock
                try:
                    with writing():
                        finished(count)
                finally:
                    write_intent.reset(token)

    return run()
