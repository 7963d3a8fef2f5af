"""Writers on the embedded SQLite default queue for the write lock instead of failing, and the slow
part of a write (Argon2) runs before the lock is taken, never while holding it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.conftest import ROOT, flush_dispatch

# SQLite only: these are about its single write lock (PostgreSQL locks rows).
pytestmark = pytest.mark.parametrize("live_database", ["sqlite"], indirect=True)

PASSWORD = "correct horse battery"
CREATE = [sys.executable, "-m", "flask", "--app", "wsgi", "users", "create"]


class WriterDuringHashing(PasswordHasher):
    """The real Argon2 hasher which, each time it starts hashing or verifying, has a second
    connection write and commit with no patience (busy_timeout 0): that succeeds only if the unit
    of work doing the hashing holds no write lock meanwhile."""

    def __init__(self, path: str, bystander_email: str) -> None:
        super().__init__()
        self.path, self.bystander_email = path, bystander_email
        self.signer_email = ""  # a learner with PASSWORD, made before the probe was put in
        self.commits: list[str] = []
        self.refusals: list[str] = []

    def _write_meanwhile(self, during: str) -> None:
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE \"user\" SET name = name || '.' WHERE email = ?", (self.bystander_email,)
            )
            conn.execute("COMMIT")
            self.commits.append(during)
        except sqlite3.OperationalError as exc:
            self.refusals.append(f"{during}: {exc}")
        finally:
            conn.close()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._write_meanwhile("hash")
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self._write_meanwhile("verify")
        return super().verify(hash, password)


def _sqlite_path(url: str) -> str:
    return str(make_url(url).database)


def _user(app: Any, email: str) -> Any:
    from services.db import db
    from services.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.remove()
        return user


def _make_users(app: Any, *emails: str) -> None:
    from services.accounts import operations as accounts
    from services.db import db

    with app.app_context():
        for email in emails:
            accounts.create_user(email=email, password=PASSWORD, role="learner")
        db.session.commit()
        db.session.remove()


@pytest.fixture
def probe(live_app, live_database, monkeypatch) -> WriterDuringHashing:
    from services.accounts import operations as accounts

    suffix = uuid.uuid4().hex[:6]
    bystander, signer = f"bystander-{suffix}@example.com", f"signer-{suffix}@example.com"
    _make_users(live_app, bystander, signer)
    hasher = WriterDuringHashing(_sqlite_path(live_database), bystander)
    hasher.signer_email = signer
    monkeypatch.setattr(accounts, "_hasher", hasher)
    return hasher


def _csrf(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_a_sign_in_holds_no_write_lock_while_it_verifies_the_password(live_app, live_client, probe):
    token = _csrf(live_client, "/sign-in")

    response = live_client.post(
        "/sign-in", data={"email": probe.signer_email, "password": PASSWORD, "csrf_token": token}
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    assert probe.refusals == []
    assert probe.commits == ["verify"]


def test_a_token_request_holds_no_write_lock_while_it_verifies_the_password(
    live_app, live_client, probe
):
    response = live_client.post(
        "/api/v1/auth/token", json={"email": probe.signer_email, "password": PASSWORD}
    )

    assert response.status_code == 201, response.json
    assert probe.refusals == []
    assert probe.commits == ["verify"]


def test_users_create_hashes_before_it_reads_so_a_write_meanwhile_does_not_fail_it(live_app, probe):
    # Another process commits while the command hashes the password: a transaction that had
    # read before that could no longer write ("database is locked", at once).
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"

    result = live_app.test_cli_runner().invoke(
        args=["users", "create", "--email", email, "--password", PASSWORD, "--role", "coach"]
    )

    assert result.exit_code == 0, result.output
    assert probe.commits == ["hash"] and probe.refusals == []
    assert _user(live_app, email).role == "coach"


@pytest.mark.worker
def test_eight_users_create_at_once_and_a_worker_writing_all_succeed(
    live_app, live_database, live_redis_url, start_worker, tmp_path: Path
):
    from services import outbox
    from services.db import db
    from services.models import OutboxEvent, User

    # Work for the worker: welcome notifications to fan out and send, each a few writes.
    recipient = f"welcome-{uuid.uuid4().hex[:6]}@example.com"
    _make_users(live_app, recipient)
    with live_app.app_context():
        user_id = _user(live_app, recipient).id
        events = [outbox.record("account.registered", user_id=user_id).id for _ in range(20)]
        db.session.commit()
        db.session.remove()
    worker = start_worker(concurrency=2)
    flush_dispatch(live_app)

    env = {
        **os.environ,
        "DATABASE_URL": live_database,
        "REDIS_URL": live_redis_url,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
    }
    emails = [f"crowd-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(8)]
    commands = [
        subprocess.Popen(
            [*CREATE, "--email", email, "--password", f"{PASSWORD} {n}", "--role", "learner"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, email in enumerate(emails)
    ]
    outcomes = [(*command.communicate(timeout=300), command.returncode) for command in commands]

    assert [code for _, _, code in outcomes] == [0] * 8, [err[-800:] for _, err, _ in outcomes]
    with live_app.app_context():
        rows = db.session.execute(select(User.email, User.id).where(User.email.in_(emails)))
        made = dict(rows.tuples().all())
        assert sorted(made) == sorted(emails)
        assert sorted(int(out.strip().splitlines()[-1]) for out, _, _ in outcomes) == sorted(
            made.values()
        )
        # The worker's writes went through as well.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pending = db.session.scalar(
                select(func.count(OutboxEvent.id)).where(
                    OutboxEvent.id.in_(events), OutboxEvent.processed_at.is_(None)
                )
            )
            db.session.rollback()
            if pending == 0:
                break
            time.sleep(0.2)
        assert pending == 0, worker.log()[-3000:]
        db.session.remove()
    assert "database is locked" not in worker.log()
