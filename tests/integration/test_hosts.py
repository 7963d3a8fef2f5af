"""The whole system across hosts on one machine (short form): network namespaces made here (ip
netns, veth, a bridge), two web hosts behind HAProxy (round robin, health-checked on /readyz), two
worker hosts, one beat, and PostgreSQL, Redis and SeaweedFS each on a host of its own at its own
address. No host shares a folder with another: uploads live in SeaweedFS, every host has its own
scratch and instance folders. Nothing is mocked.

Under load from several clients it checks that a session from one web host is accepted by the
other, that the sign-in rate limit holds across both, that a résumé uploaded through one host is
parsed by a worker on another and downloaded through either, and that every email goes out once;
then one fault at a time: a web host killed, a worker host killed mid-batch, a second beat, Redis
restarted, SeaweedFS restarted. It prints what it measured (the fault table)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_DIR, Mailbox, free_port
from tests.support_auth import sign_in
from tests.support_hosts import (
    S3_KEY,
    S3_SECRET,
    Network,
    start_haproxy,
    start_postgres,
    start_redis,
    start_seaweedfs,
    wait_for,
)
from tests.support_notifications import QUICK
from tests.support_resumes import make_pdf
from tests.support_server import HttpClient

pytestmark = pytest.mark.hosts

PASSWORD = "correct horse battery"
REPO = Path(__file__).resolve().parent.parent.parent


def _missing_tools() -> list[str]:
    needed = ["ip", "haproxy", "redis-server", "runuser"]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if shutil.which("weed") is None and not (Path(sys.executable).parent / "weed").exists():
        missing.append("weed")
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        missing.append("postgresql (server binaries)")
    return missing


class Cluster:
    def __init__(self) -> None:
        self.net = Network(RUN_DIR / "hosts")
        add = self.net.add
        self.db, self.redis, self.s3 = add("db", 10), add("redis", 11), add("s3", 12)
        self.web = {"web1": add("web1", 21), "web2": add("web2", 22)}
        self.workers = {"worker1": add("worker1", 31), "worker2": add("worker2", 32)}
        self.beat = add("beat", 41)
        self.proxy = add("proxy", 5)
        self.mailbox = Mailbox()
        self.smtp: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        admin = start_postgres(self.db)
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE career_services")
        self.database_url = f"postgresql://postgres@{self.db.address}:5432/career_services"
        self.redis_url = start_redis(self.redis)
        self.s3_endpoint = start_seaweedfs(self.s3)
        smtp_port = free_port()
        self.smtp = Controller(self.mailbox, hostname=self.net.gateway, port=smtp_port)
        self.smtp.start()
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "the-one-secret-every-host-shares",
            "STORAGE_URL": "s3://uploads/career-services",
            "S3_ENDPOINT_URL": self.s3_endpoint,
            "S3_ACCESS_KEY_ID": S3_KEY,
            "S3_SECRET_ACCESS_KEY": S3_SECRET,
            "S3_ADDRESSING_STYLE": "path",
            "S3_CONNECT_TIMEOUT_SECONDS": "1",
            "S3_MAX_ATTEMPTS": "1",
            "MAIL_SERVER": self.net.gateway,
            "MAIL_PORT": str(smtp_port),
            "BASE_URL": "http://careers.test",
            "LOG_FORMAT": "json",
            "LOGIN_RATE_LIMIT": "5 per minute",
            "PROXY_COUNT": "1",
            # Recovery in seconds, not minutes (the relay, the lease, the stuck sweep).
            **QUICK,
            "OUTBOX_RELAY_INTERVAL_SECONDS": "1",
            "OUTBOX_RELAY_AFTER_SECONDS": "3",
            "OUTBOX_JOB_LEASE_SECONDS": "6",
            "TASK_SOFT_TIME_LIMIT_SECONDS": "20",
            "TASK_TIME_LIMIT_SECONDS": "25",
            "NOTIFY_STUCK_AFTER_SECONDS": "30",
        }
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=REPO,
            env=self.host_env(self.beat),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        for host in self.web.values():
            self.start_web(host)
        for name, host in self.workers.items():
            self.start_worker(name, host)
        self.start_beat(self.beat, "beat")
        self.url = start_haproxy(self.proxy, {n: h.address for n, h in self.web.items()})
        wait_for(lambda: self.served_by_both("/readyz"), 90, "both web hosts behind the proxy")

    def host_env(self, host: Any) -> dict[str, str]:
        return {
            **self.env,
            "INSTANCE_DIR": str(host.folder / "instance"),
            "UPLOAD_DIR": str(host.folder / "scratch"),
        }

    def start_web(self, host: Any) -> None:
        host.start(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"{host.address}:8000",
                "--workers",
                "2",
                "--threads",
                "4",
                "wsgi:app",
            ],
            self.host_env(host),
        )

    def start_worker(self, name: str, host: Any) -> None:
        host.start(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{name}@%h",
            ],
            self.host_env(host),
        )
        wait_for(lambda: " ready." in host.log("worker"), 90, f"{name} ready")

    def start_beat(self, host: Any, label: str) -> None:
        host.start(
            label,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "beat",
                "--schedule",
                str(host.folder / f"{label}-schedule"),
            ],
            self.host_env(host),
        )

    def served_by_both(self, path: str) -> bool:
        import requests

        seen = set()
        for _ in range(6):
            response = requests.get(self.url + path, timeout=5)
            if response.status_code == 200:
                seen.add(response.headers.get("X-Served-By"))
        return seen == {"web1", "web2"}

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return list(conn.execute(query, params).fetchall())

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=REPO,
            env=self.host_env(self.beat),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
        self.net.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("the multi-host test makes network namespaces: run it as root")
    if missing := _missing_tools():
        pytest.fail(f"missing for the multi-host test: {', '.join(missing)} (scripts/test.sh)")
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.close()


def token_for(cluster: Cluster, email: str) -> str:
    http = HttpClient(cluster.url)
    response = http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.raw.text
    return str(response.raw.json()["token"])


def upload(cluster: Cluster, token: str, data: bytes, request_id: str | None = None) -> Any:
    import requests

    headers = {"Authorization": f"Bearer {token}"}
    if request_id:
        headers["X-Request-ID"] = request_id
    return requests.post(
        cluster.url + "/api/v1/resumes",
        data={"target_role": "ML engineer"},
        files={"file": ("cv.pdf", data, "application/pdf")},
        headers=headers,
        timeout=30,
    )


def pending_analyses(cluster: Cluster) -> int:
    return int(
        cluster.sql("SELECT count(*) FROM resume_version WHERE analysis_status = 'pending'")[0][0]
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


class Load:
    """Clients uploading résumés through the proxy until stopped; every answer recorded."""

    def __init__(self, cluster: Cluster, tokens: list[str]) -> None:
        self.cluster = cluster
        self.tokens = tokens
        self.results: list[tuple[float, int | None, str | None]] = []  # (time, status, served by)
        self.accepted: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(t,)) for t in tokens]

    def _run(self, token: str) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            data = make_pdf([f"Load {uuid.uuid4().hex}", f"attempt {n}"])
            try:
                response = upload(self.cluster, token, data)
                status, by = response.status_code, response.headers.get("X-Served-By")
                if status == 201:
                    with self._lock:
                        self.accepted.append(int(response.json()["id"]))
            except Exception:
                status, by = None, None
            with self._lock:
                self.results.append((time.monotonic(), status, by))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def failures_after(self, at: float) -> list[tuple[float, int | None, str | None]]:
        return [r for r in self.results if r[0] >= at and r[1] != 201]


@pytest.mark.timeout(900)
def test_the_system_across_hosts_with_one_fault_at_a_time(cluster: Cluster) -> None:
    table: list[tuple[str, str, str, str, str]] = []
    learners = []
    for i in range(3):
        email = f"learner{i}-{uuid.uuid4().hex[:6]}@example.com"
        cluster.cli(
            "users", "create", "--email", email, "--password", PASSWORD, "--role", "learner"
        )
        learners.append(email)
    coach = f"coach-{uuid.uuid4().hex[:6]}@example.com"
    cluster.cli(
        "users", "create", "--email", coach, "--password", PASSWORD, "--role", "coach",
        "--expertise", "ml", "--capacity", "500",
    )  # fmt: skip

    # A session cookie from one web host is accepted by the other.
    browser = HttpClient(cluster.url)
    sign_in(browser, learners[0])
    pages = [browser.get("/dashboard") for _ in range(6)]
    assert [p.status_code for p in pages] == [200] * 6
    assert {p.headers["X-Served-By"] for p in pages} == {"web1", "web2"}

    # Tokens first: the sign-in limit counts failures per client address, and this test is one.
    tokens = [token_for(cluster, email) for email in learners[:2]]

    # The sign-in rate limit holds across both hosts (5 failures a minute, counted in Redis).
    victim = learners[2]
    attempts = []
    for _ in range(7):
        response = HttpClient(cluster.url).post(
            "/api/v1/auth/token", json={"email": victim, "password": "wrong password here"}
        )
        attempts.append((response.status_code, response.headers.get("X-Served-By")))
    assert [s for s, _ in attempts] == [401] * 5 + [429] * 2, attempts
    assert {h for _, h in attempts[:5]} == {"web1", "web2"}

    # Uploaded through one host, parsed by a worker on another, downloaded through either.
    data = make_pdf(["Ada Lovelace", "ada@example.com", "Python machine learning"])
    request_id = f"hosts-{uuid.uuid4().hex}"
    response = upload(cluster, tokens[0], data, request_id)
    assert response.status_code == 201, response.text
    resume_id = response.json()["id"]
    uploaded_by = response.headers["X-Served-By"]
    wait_for(lambda: pending_analyses(cluster) == 0, 60, "the upload parsed")
    parsed_on = [
        name
        for name, host in cluster.workers.items()
        if any(
            e.get("task_name") == "resumes.analyse" and e.get("request_id") == request_id
            for e in json_lines(host.log("worker"))
        )
    ]
    assert len(parsed_on) == 1, parsed_on
    import requests

    downloads = [
        requests.get(
            f"{cluster.url}/api/v1/resumes/{resume_id}/file",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            timeout=30,
        )
        for _ in range(4)
    ]
    assert all(d.status_code == 200 and d.content == data for d in downloads)
    assert {d.headers["X-Served-By"] for d in downloads} == {"web1", "web2"}
    print(f"\nupload via {uploaded_by}, parsed on {parsed_on[0]}, downloaded via web1 and web2")

    # Fault 1: a web host killed under load.
    with Load(cluster, tokens) as load:
        wait_for(lambda: len(load.accepted) >= 4, 60, "load running")
        killed_at = time.monotonic()
        cluster.web["web1"].kill("gunicorn")
        wait_for(
            lambda: sum(1 for r in load.results if r[0] > killed_at + 1 and r[1] == 201) >= 6,
            60,
            "uploads going on through web2",
        )
    failed = load.failures_after(killed_at)
    recovered = max((r[0] for r in failed), default=killed_at) - killed_at
    after = [r for r in load.results if r[0] > killed_at + recovered + 0.01]
    assert after and all(r[2] == "web2" for r in after if r[1] == 201)
    wait_for(lambda: pending_analyses(cluster) == 0, 60, "every accepted upload parsed")
    kept = {row[0] for row in cluster.sql("SELECT id FROM resume")}
    assert set(load.accepted) <= kept  # nothing accepted is lost
    table.append(
        (
            "web host killed",
            f"{len(failed)} of {len([r for r in load.results if r[0] >= killed_at])}",
            "0",
            f"{recovered:.1f} s",
            "0",
        )
    )
    cluster.start_web(cluster.web["web1"])
    wait_for(lambda: cluster.served_by_both("/readyz"), 90, "web1 back behind the proxy")

    # Fault 2: a worker host killed mid-batch; its jobs finish on the other within 60 s.
    for i in range(6):
        assert upload(cluster, tokens[i % 2], make_pdf([f"Batch {i} {uuid.uuid4().hex}"])).ok
    killed_at = time.monotonic()
    cluster.workers["worker1"].kill("worker")
    wait_for(lambda: pending_analyses(cluster) == 0, 60, "the batch parsed on worker2")
    worker_recovered = time.monotonic() - killed_at
    table.append(("worker host killed", "-", "0", f"{worker_recovered:.1f} s", "0"))
    cluster.start_worker("worker1", cluster.workers["worker1"])

    # Fault 3: a second beat started by mistake (on a worker host): jobs run once per period.
    cluster.start_beat(cluster.workers["worker2"], "beat2")
    wait_for(
        lambda: (
            sum(h.log("worker").count("this copy skipped") for h in cluster.workers.values()) >= 3
        ),
        60,
        "the second beat's copies skipped",
    )
    cluster.workers["worker2"].kill("beat2", signal.SIGTERM)
    runs: Counter[tuple[str, int]] = Counter()
    for host in cluster.workers.values():
        for e in json_lines(host.log("worker")):
            if e.get("periodic") and e.get("outcome") != "skipped" and e.get("period") is not None:
                runs[(e["periodic"], e["period"])] += 1
    assert runs and max(runs.values()) == 1, runs.most_common(3)
    table.append(("second beat", "-", "0", "-", "0 (each job once per period)"))

    # Fault 4: Redis restarted: uploads are accepted meanwhile, their work done after.
    cluster.redis.kill("redis", signal.SIGTERM)
    during = upload(cluster, tokens[0], make_pdf([f"During Redis {uuid.uuid4().hex}"]))
    restarted_at = time.monotonic()
    start_redis(cluster.redis)
    wait_for(lambda: pending_analyses(cluster) == 0, 60, "work done after Redis came back")
    redis_recovered = time.monotonic() - restarted_at
    table.append(
        (
            "Redis restarted",
            "0" if during.status_code == 201 else "1",
            "0",
            f"{redis_recovered:.1f} s",
            "0",
        )
    )
    assert during.status_code == 201, during.text

    # Fault 5: SeaweedFS restarted: uploads meanwhile get a clear 503, nothing half-stored.
    before = cluster.sql("SELECT count(*) FROM resume_version")[0][0]
    cluster.s3.kill("seaweedfs", signal.SIGTERM)
    refused = upload(cluster, tokens[1], make_pdf([f"During S3 {uuid.uuid4().hex}"]))
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "storage_unavailable"
    assert cluster.sql("SELECT count(*) FROM resume_version")[0][0] == before
    restarted_at = time.monotonic()
    start_seaweedfs(cluster.s3)
    back = wait_for(
        lambda: (
            r
            if (
                r := upload(cluster, tokens[1], make_pdf([f"After {uuid.uuid4().hex}"]))
            ).status_code
            == 201
            else None
        ),
        60,
        "uploads working after SeaweedFS came back",
    )
    assert back.status_code == 201
    s3_recovered = time.monotonic() - restarted_at
    wait_for(lambda: pending_analyses(cluster) == 0, 60, "the upload after parsed")
    table.append(("SeaweedFS restarted", "1 (a 503 problem)", "0", f"{s3_recovered:.1f} s", "0"))

    # Every email went out once: none is left pending; one a killed worker was sending is marked
    # failed for staff after NOTIFY_STUCK_AFTER_SECONDS (it may have gone out: never resent).
    def settled() -> bool:
        rows = cluster.sql("SELECT count(*) FROM delivery WHERE status IN ('pending', 'sending')")
        return not rows[0][0]

    wait_for(settled, 90, "every email sent or marked failed")
    statuses = dict(cluster.sql("SELECT status, count(*) FROM delivery GROUP BY status"))
    # A delivery's Message-ID is stable (services/mail.py): a second send would repeat it.
    ids = Counter(m["Message-ID"] for m in cluster.mailbox.messages)
    assert cluster.mailbox.messages and max(ids.values()) == 1, ids.most_common(3)

    print(
        f"\n{len(load.results)} uploads under load; {len(cluster.mailbox.messages)} emails, each"
        f" once; {statuses.get('failed', 0)} marked failed for staff (a killed worker's)"
    )
    print(f"{'fault':<22} {'in flight lost':<18} {'work lost':<10} {'recovered in':<13} duplicates")
    for row in table:
        print(f"{row[0]:<22} {row[1]:<18} {row[2]:<10} {row[3]:<13} {row[4]}")
