"""Outside ``writing`` a request only reads (web.transactions, services.db.autocommit_reads): on
PostgreSQL its statements run in autocommit, so no transaction is open between them (no BEGIN and
no ROLLBACK round trips), while a change inside ``writing`` runs in one transaction; and a change
made outside ``writing`` raises before anything of it is written, on both databases."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, select, update

from services import accounts
from services.db import WriteOutsideWriter, db, writer
from services.models import User
from tests.conftest import app_config

PASSWORD = "correct horse battery"


def _learner() -> Any:
    with writer():
        user = accounts.create_user(
            email=f"reader-{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            role="learner",
            name="Ada Reader",
        )
        db.session.commit()
    return user


def test_reads_run_outside_a_transaction_and_a_change_inside_one(
    live_database: str, live_client: Any, live_ctx: None
) -> None:
    if not live_database.startswith("postgresql"):
        pytest.skip("SQLite's driver runs outside a transaction unless told (services.db)")
    user = _learner()
    email = user.email
    token = live_client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert token.status_code == 201, token.json
    bearer = {"Authorization": f"Bearer {token.json['token']}"}

    seen: list[tuple[str, TransactionStatus]] = []

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        status = conn.connection.driver_connection.info.transaction_status
        seen.append((statement.split(None, 1)[0].upper(), status))

    event.listen(db.engine, "after_cursor_execute", after)
    try:
        me = live_client.get("/api/v1/me", headers=bearer)
        assert me.status_code == 200 and me.json["email"] == email
        reads = list(seen)
        seen.clear()
        changed = live_client.patch("/api/v1/me", json={"name": "Ada Lovelace"}, headers=bearer)
        assert changed.status_code == 200, changed.json
        change = list(seen)
    finally:
        event.remove(db.engine, "after_cursor_execute", after)

    assert reads and {status for _, status in reads} == {TransactionStatus.IDLE}
    updates = [status for verb, status in change if verb == "UPDATE"]
    assert updates and set(updates) == {TransactionStatus.INTRANS}
    assert db.session.scalar(select(User.name).where(User.email == email)) == "Ada Lovelace"


@pytest.fixture
def probe_app(live_database: str, live_redis_url: str) -> Any:
    """The app with two views that change a user outside ``writing``: by the ORM, and in bulk."""
    from web import create_app

    app = create_app(app_config(live_database, live_redis_url))

    @app.route("/probe/rename/<int:user_id>")
    def rename(user_id: int) -> str:
        user = db.session.get(User, user_id)
        assert user is not None
        user.name = "Changed outside writing"
        db.session.flush()
        return "flushed"

    @app.route("/probe/bulk/<int:user_id>")
    def bulk(user_id: int) -> str:
        db.session.execute(
            update(User).where(User.id == user_id).values(name="Changed outside writing")
        )
        return "updated"

    return app


@pytest.mark.parametrize("view", ["rename", "bulk"])
def test_a_change_outside_writing_raises_and_writes_nothing(
    probe_app: Any, view: str, caplog: pytest.LogCaptureFixture
) -> None:
    with probe_app.app_context():
        user_id = _learner().id
        db.session.remove()
    response = probe_app.test_client().get(f"/probe/{view}/{user_id}")
    assert response.status_code == 500
    raised = [record.exc_info[0] for record in caplog.records if record.exc_info]
    assert raised == [WriteOutsideWriter]
    with probe_app.app_context():
        db.session.remove()
        assert db.session.scalar(select(User.name).where(User.id == user_id)) == "Ada Reader"
        db.session.remove()
