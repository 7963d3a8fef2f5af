"""Streamed answers whose body reads the database: the one way views build them.

A streamed body runs after the view has returned, while the server sends it. ``flask.
stream_with_context`` runs it inside the request's own contexts, pushed again around it: the
request, ``g`` and ``db.session`` work there, and in a test whose app context spans its requests
(the rolled-back test transaction, the access matrix's savepoints) the body reads in the very
session the view used. But Flask tears the request down when the view returns, before the server
reads the body: the teardown removes the view's session, and the body reads in a fresh one (the
teardown runs again, and removes that one, when the body ends or is closed). So a body takes plain
values (ids, filters) and loads what it needs itself; it never uses an object the view loaded
(``current_user`` is detached there).

A body that ends in a record of its own (an export's audit entry) writes it only after its last
line has been produced, in a write transaction of its own; an export that fails or is abandoned
half way (the client went away and the server closed the body) records nothing. The end of the
transfer goes out only after that record is committed, so a client that got a complete answer
knows it was recorded, and one whose export failed sees a broken transfer (gunicorn closes the
connection before the final chunk), never a truncated file passed off as whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from flask import stream_with_context

from web.transactions import writing

# Records are sent in chunks of about this size: one write per chunk, not one per record.
CHUNK_BYTES = 64 * 1024


def streamed(
    records: Iterable[str], finished: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The body of a streamed answer, in the request's contexts: ``records`` (a generator made in
    the view, not yet started: it runs as the body is read) sent in chunks of about CHUNK_BYTES;
    then, once every record was produced and sent, ``finished(number of records)`` in a write
    transaction of its own (on SQLite it queues for the write lock: BEGIN IMMEDIATE)."""

    def body() -> Iterator[bytes]:
        lines = iter(records)
        try:
            count = 0
            buffer: list[bytes] = []
            size = 0
            for record in lines:
                data = record.encode()
                count += 1
                buffer.append(data)
                size += len(data)
                if size >= CHUNK_BYTES:
                    yield b"".join(buffer)
                    buffer, size = [], 0
            if buffer:
                yield b"".join(buffer)
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()  # an abandoned body: its generator ends here, in the request's contexts
        if finished is not None:
            # No yield in here: the write is begun and ended within one step of the body.
            with writing():
                finished(count)

    return stream_with_context(body())
