"""A pooled PostgreSQL connection that has been idle a while is checked before it is handed out
(services.db): one the server dropped is replaced without the caller seeing an error; one used a
moment ago is handed out unchecked (no second round trip per request)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

import config
from services import db as services_db


@pytest.fixture
def engine(database_url: str) -> Any:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server's connections")
    engine = sa.create_engine(config.normalise_database_url(database_url), pool_size=1)
    yield engine
    engine.dispose()


def backend_pid(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


def statements(engine: Any, run: Any) -> list[str]:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    run()
    return seen


def test_an_idle_connection_the_server_dropped_is_replaced_unseen(engine, database_url):
    pid = backend_pid(engine)
    terminate(database_url, pid)
    time.sleep(services_db.PING_AFTER_IDLE_SECONDS + 0.2)
    assert backend_pid(engine) != pid  # a new connection, and no error


def test_a_connection_used_a_moment_ago_is_not_checked_again(engine):
    backend_pid(engine)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
    checks: list[str] = []
    original = raw.cursor

    def cursor(*args: Any, **kwargs: Any) -> Any:
        checks.append("cursor")
        return original(*args, **kwargs)

    raw.cursor = cursor
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        assert checks == ["cursor"]  # the statement's own cursor only: no check before it
        time.sleep(services_db.PING_AFTER_IDLE_SECONDS + 0.2)
        checks.clear()
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        assert checks == ["cursor", "cursor"]  # the check, then the statement
    finally:
        raw.cursor = original
