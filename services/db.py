"""The database handle, the declarative base and time helpers shared by every model."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain
from typing import TYPE_CHECKING, Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, SessionTransaction, registry
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic can alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:  # keyset cursors decode times by this
        return dt.datetime

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime()},
    )


db = SQLAlchemy(model_class=Base)

# Flask-SQLAlchemy builds db.Model at run time; type checkers see the declarative base it extends.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy, not pysqlite, issue BEGIN, so SAVEPOINT works (SQLAlchemy docs, "Serializable
    # isolation / Savepoints / Transactional DDL" for pysqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA busy_timeout=15000")  # concurrent writers queue instead of failing
    cursor.close()


# A pooled PostgreSQL connection is checked (a round trip) before it is handed out only when it
# has been idle a while: after a restart of the server or a dropped link, the request gets a fresh
# connection instead of an error, as pool_pre_ping would do, but a connection used a moment ago is
# not asked again (pool_pre_ping asked before every checkout: a second round trip on every
# request). A failed check invalidates the pool; the checkout then makes a new connection.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "idle_since"


@event.listens_for(Pool, "connect")
@event.listens_for(Pool, "checkin")
def _idle_from_now(dbapi_connection: Any, connection_record: Any) -> None:
    if connection_record is not None:
        connection_record.info[_IDLE_SINCE] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    idle_since = connection_record.info.get(_IDLE_SINCE, float("-inf"))
    if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # no transaction left open by the check
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.autocommit = autocommit
    except Exception as error:
        raise InvalidatePoolError(f"pooled connection failed its check: {error}") from error


# SQLite has one writer at a time. A transaction that reads and only later writes fails at once
# ("database is locked", SQLITE_BUSY_SNAPSHOT) if another writer committed in between; busy_timeout
# does not help there (https://www.sqlite.org/isolation.html). So a unit of work that will write
# (a POST, a task) says so up front and its transactions start with BEGIN IMMEDIATE: they queue for
# the write lock (up to busy_timeout) and then see the newest data. Reads stay concurrent (WAL).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


# PostgreSQL: outside a writer, a web request's reads run in autocommit (web.transactions), so
# they cost no BEGIN and no ROLLBACK round trip. At PostgreSQL's READ COMMITTED, the isolation
# used here, each statement of a transaction reads its own snapshot anyway, so a run of reads sees
# nothing different. Such a request writes nothing: a flush with changes raises (below) instead of
# committing statement by statement, on SQLite too, so both databases keep the one rule.
autocommit_reads: ContextVar[bool] = ContextVar("autocommit_reads", default=False)


class WriteOutsideWriter(RuntimeError):
    """A change flushed in a stretch that only reads (a request outside ``web.transactions``'s
    ``writing``): a programming error, raised before any of it is written."""


_READING = "autocommit_reads"  # a pooled connection's ``info`` key: put in autocommit to read


@event.listens_for(Pool, "checkout")
def _autocommit_if_reading(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection) or dbapi_connection.autocommit:
        return  # SQLite's are in autocommit already; so is an engine's at AUTOCOMMIT isolation
    if _only_reading():
        dbapi_connection.autocommit = True
        connection_record.info[_READING] = True


@event.listens_for(Pool, "checkin")
def _end_autocommit(dbapi_connection: Any, connection_record: Any) -> None:
    reading = connection_record is not None and connection_record.info.pop(_READING, None)
    if reading and dbapi_connection is not None:
        dbapi_connection.autocommit = False


def _only_reading() -> bool:
    return autocommit_reads.get() and not write_intent.get()


def is_change(session: Session, obj: Any) -> bool:
    """Whether flushing ``obj`` would write it: new, deleted, or with a column or collection
    changed (a loaded object merely looked at is in ``session.dirty`` without a change)."""
    return obj in session.new or obj in session.deleted or session.is_modified(obj)


@event.listens_for(Session, "before_flush")
def _no_writes_while_reading(session: Session, flush_context: Any, instances: Any) -> None:
    if _only_reading() and any(
        is_change(session, obj) for obj in chain(session.new, session.dirty, session.deleted)
    ):
        raise WriteOutsideWriter("a change outside a writer: make it in web.transactions.writing")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_writes_while_reading(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _only_reading():
        raise WriteOutsideWriter("a change outside a writer: make it in web.transactions.writing")


@contextmanager
def writer() -> Iterator[None]:
    """A unit of work that will write (a CLI command, a task): its transactions start as writers.
    Do slow work (password hashing, parsing, rendering) before its first query, or in ``reader``."""
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextmanager
def reader() -> Iterator[None]:
    """Inside a writer, a stretch that only reads, for the slow work a change needs first
    (checking a password): its transactions start deferred, so no write lock is held meanwhile.
    Enter it with no transaction open; end its transaction before writing (web.transactions)."""
    token = write_intent.set(False)
    try:
        yield
    finally:
        write_intent.reset(token)


class ChangeWatch:
    """Which sessions' transactions change rows of some kinds: by the ORM (``before_flush``, where
    ``changes`` says whether an object's state is a change) or by a bulk statement through the
    session (``do_orm_execute``). A process keeps what it read under a version, and reads through
    while its own session holds changes (``pending``); once such a transaction ends, committed or
    rolled back, ``ended`` runs. Made once per kind of kept facts, at import."""

    def __init__(
        self,
        name: str,
        kinds: tuple[type[Any], ...],
        changes: Callable[[Session, Any], bool],
        ended: Callable[[], None] | None = None,
    ) -> None:
        self.key = f"changes:{name}"  # the session's ``info`` key while it holds changes
        self.kinds, self.changes, self.ended = kinds, changes, ended
        event.listen(Session, "before_flush", self._note)
        event.listen(Session, "do_orm_execute", self._note_bulk)
        event.listen(Session, "after_transaction_end", self._end)

    def pending(self, session: Session) -> bool:
        return bool(session.info.get(self.key))

    def _note(self, session: Session, flush_context: Any, instances: Any) -> None:
        if session.info.get(self.key):
            return
        for obj in chain(session.new, session.dirty, session.deleted):
            if isinstance(obj, self.kinds) and self.changes(session, obj):
                session.info[self.key] = True
                return

    def _note_bulk(self, state: ORMExecuteState) -> None:
        if state.is_update or state.is_delete or state.is_insert:
            mapper = state.bind_mapper
            if mapper is not None and issubclass(mapper.class_, self.kinds):
                state.session.info[self.key] = True

    def _end(self, session: Session, transaction: SessionTransaction) -> None:
        changed = transaction.parent is None and session.info.pop(self.key, None)
        if changed and self.ended is not None:
            self.ended()


# A hot read of a few plain values (a version, a token's owner) asked on every request: SQLAlchemy
# compiles the statement once per dialect, and it then runs straight on a pooled DBAPI connection,
# outside the ORM (one statement, so it reads one snapshot). Where the session already has a
# transaction under way, or is bound to one connection (an outer transaction), the read runs in it
# instead, so it sees what that transaction sees. Either way the values come back as the driver
# gives them (no column types applied): use them as keys, or for columns the driver already
# returns as Python values.
_compiled: dict[tuple[Any, str], tuple[str, list[str] | None, dict[str, Any]]] = {}


def _session_and_bind() -> tuple[Any, Any]:
    """The request's session if it has one yet (none is made for asking), and what it reads
    through: the engine, or the connection it is bound to."""
    scoped = db.session
    session = scoped() if scoped.registry.has() else None
    bind = session.get_bind() if session is not None else scoped.session_factory.kw.get("bind")
    return session, bind if bind is not None else db.engine


def current_session_and_bind() -> tuple[Any, Any]:
    """The request's session if one is made yet (None otherwise), and what it reads through (an
    engine, or the connection of an outer transaction): the key of what a process keeps per
    database."""
    return _session_and_bind()


def fast_rows(statement: Any, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of a Core ``statement`` (a module-level constant: it is compiled once and kept),
    with ``params`` for its ``bindparam``s."""
    session, bind = _session_and_bind()
    dialect = bind.dialect
    key = (statement, dialect.name)
    compiled = _compiled.get(key)
    if compiled is None:
        done = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        positions = list(done.positiontup) if dialect.positional else None
        compiled = (done.string, positions, done.construct_params())
        _compiled[key] = compiled
    sql, positions, defaults = compiled
    values = {**defaults, **params}
    args: Any = tuple(values[name] for name in positions) if positions is not None else values
    if not isinstance(bind, Engine) or (session is not None and session.in_transaction()):
        in_session = (session or db.session()).connection()
        return [tuple(row) for row in in_session.exec_driver_sql(sql, args)]
    pooled = bind.raw_connection()
    # PostgreSQL: the one statement in autocommit, so no BEGIN and ROLLBACK round trips around it
    # (SQLite's connections are in autocommit already, see _sqlite_pragmas).
    autocommit = dialect.name == "postgresql"
    try:
        if autocommit:
            pooled.driver_connection.autocommit = True  # type: ignore[union-attr]
        cursor = pooled.cursor()
        try:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    finally:
        if autocommit:
            pooled.driver_connection.autocommit = False  # type: ignore[union-attr]
        pooled.close()  # back to the pool (which rolls back whatever is left)
    return [tuple(row) for row in rows]
