"""Several hosts on one machine: network namespaces joined by veth pairs on a bridge, each with
its own address, its own processes and its own folders (no host shares a disk path with another).

The whole system on them (``Cluster``: two web hosts behind HAProxy, two worker hosts, one beat,
PostgreSQL, Redis and SeaweedFS each on a host of its own), a steady mixed load of many clients
(``Load``: uploads and downloads, slot searches, bookings and cancellations, coaches' reviews), and
the scenario that checks it and breaks it one fault at a time (``run_scenario``), printing the
fault table. Used by tests/integration/test_hosts.py (the short form) and benchmarks/hosts.py (the
long one); needs root and iproute2, HAProxy, PostgreSQL's server binaries, redis-server and weed
(scripts/test.sh installs them). Every setting is the shipped default except where the hosts'
addresses go: recovery is measured as it would be in production."""

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@dataclass
class Host:
    name: str
    ns: str
    address: str
    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    cleanup: list[Path] = field(default_factory=list)  # folders outside the run's, removed after

    def start(self, label: str, argv: list[str], env: dict[str, str] | None = None) -> Path:
        """Run ``argv`` on this host (in its namespace), its output in its own log."""
        log_path = self.folder / f"{label}.log"
        log = log_path.open("ab")
        self.processes[label] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *argv],
            cwd=ROOT,
            env=env or os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes its children too
        )
        return log_path

    def kill(self, label: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(label, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log(self, label: str) -> str:
        path = self.folder / f"{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Network:
    """A bridge in the root namespace (the test's own address, .1) and a namespace per host."""

    def __init__(self, folder: Path) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.subnet = f"10.{150 + int(self.tag[:2], 16) % 100}.{int(self.tag[2:], 16) % 250}"
        self.bridge = f"csbr{self.tag}"
        self.folder = folder
        self.hosts: dict[str, Host] = {}
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def add(self, name: str, last_octet: int) -> Host:
        ns = f"cs{self.tag}-{name}"
        outside, inside = f"cs{self.tag}{last_octet}a", f"cs{self.tag}{last_octet}b"
        address = f"{self.subnet}.{last_octet}"
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "link", "set", inside, "netns", ns)
        run("ip", "link", "set", outside, "master", self.bridge)
        run("ip", "link", "set", outside, "up")
        run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", inside)
        run("ip", "-n", ns, "link", "set", inside, "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        host = Host(name, ns, address, folder)
        self.hosts[name] = host
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            for label in list(host.processes):
                host.kill(label)
            subprocess.run(["ip", "netns", "del", host.ns], capture_output=True)
            for folder in host.cleanup:
                shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout}s (last error: {last})")


# --- the services, each on its host ---------------------------------------------------------------


def start_postgres(host: Host) -> str:
    """A PostgreSQL cluster of the host's own, listening on its address; returns an admin URL."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries:
        raise RuntimeError("PostgreSQL's server binaries are missing (apt-get install postgresql)")
    bin_dir = binaries[-1]
    # The cluster's own folder (the test run's is root's alone): the host's disk, kept apart.
    import tempfile

    data = Path(tempfile.mkdtemp(prefix="cs-hosts-pg-"))
    shutil.chown(data, "postgres", "postgres")
    host.cleanup.append(data)
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 10.0.0.0/8 trust\n")
    host.start(
        "postgres",
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-c",
            f"listen_addresses={host.address}",
            "-c",
            f"unix_socket_directories={data}",
            "-c",
            "max_connections=200",
            "-c",
            "fsync=off",
        ],
    )
    url = f"postgresql://postgres@{host.address}:5432/postgres"

    def answers() -> bool:
        import psycopg

        psycopg.connect(url, connect_timeout=2).close()
        return True

    wait_for(answers, 60, "PostgreSQL answering")
    return url


def start_redis(host: Host) -> str:
    host.start(
        "redis",
        [
            "redis-server",
            "--bind",
            host.address,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--dir",
            str(host.folder),
            "--protected-mode",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ],
    )

    def answers() -> bool:
        import redis

        return bool(redis.Redis(host=host.address, port=6379, socket_timeout=1).ping())

    wait_for(answers, 30, "Redis answering")
    return f"redis://{host.address}:6379/0"


S3_KEY, S3_SECRET = "hosts-test", "hosts-test-secret"


def start_seaweedfs(host: Host) -> str:
    config = host.folder / "s3.json"
    if not config.exists():
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "app",
                            "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    (host.folder / "data").mkdir(exist_ok=True)
    host.start(
        "seaweedfs",
        [
            weed,
            "server",
            f"-ip={host.address}",
            f"-ip.bind={host.address}",
            f"-dir={host.folder / 'data'}",
            "-s3",
            "-s3.port=8333",
            f"-s3.config={config}",
            "-volume.max=16",
            "-master.volumeSizeLimitMB=64",
        ],
    )
    endpoint = f"http://{host.address}:8333"

    def answers() -> bool:
        client = s3_client(endpoint)
        try:
            client.create_bucket(Bucket="uploads")
        except Exception as exc:
            if "BucketAlreadyExists" not in str(exc) and "AlreadyOwned" not in str(exc):
                raise
        client.put_object(Bucket="uploads", Key="ready", Body=b"ok")
        return True

    wait_for(answers, 120, "SeaweedFS taking writes")
    return endpoint


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        config=Config(
            s3={"addressing_style": "path"}, connect_timeout=2, retries={"max_attempts": 1}
        ),
    )


HAPROXY = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option redispatch
    option forwardfor
    retries 1
frontend web
    bind {address}:8080
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    option allbackups
    http-response set-header X-Served-By %s
{servers}
"""


def start_haproxy(host: Host, backends: dict[str, str]) -> str:
    """Round robin over the hosts /readyz passes. When it fails on every host at once, the
    cause is shared (Redis or the database is away), not a host: the same hosts, unchecked, as
    backups then take the traffic (fail open), for the app to answer what it can."""
    servers = "\n".join(
        [
            f"    server {name} {address}:8000 check inter 500ms fall 2 rise 2"
            for name, address in backends.items()
        ]
        + [f"    server {name}-open {address}:8000 backup" for name, address in backends.items()]
    )
    config = host.folder / "haproxy.cfg"
    config.write_text(HAPROXY.format(address=host.address, servers=servers))
    host.start("haproxy", ["haproxy", "-db", "-f", str(config)])
    return f"http://{host.address}:8080"


# --- the system on its hosts ----------------------------------------------------------------------

PASSWORD = "correct horse battery"
BOOKED_TYPE = "technical-ml"
REVIEW = {
    "summary": "Lead with the results; tighten the project bullets.",
    "scores": {"impact": 4, "clarity": 3, "ml_relevance": 5, "formatting": 4, "ats_readiness": 4},
}


@dataclass(frozen=True)
class Shape:
    """How many clients and how long each fault is watched: the test's short form by default."""

    uploaders: int = 3
    bookers: int = 3
    coaches: int = 2  # each a client reviewing what is offered to it
    # Between one client's rounds: a steady load one worker host alone keeps up with (each upload
    # is a parse; each booking made and cancelled, four emails), as sizing for a host lost asks.
    upload_pause: float = 2.5
    booking_pause: float = 1.5
    review_pause: float = 1.0
    hold: float = 5.0  # seconds the load goes on after each fault has recovered
    burst: int = 6  # uploads sent just before the worker host is killed

    @property
    def learners(self) -> int:
        return self.uploaders + self.bookers + 1  # and one: the rate limit's victim


SEED = """
import datetime as dt
from services import accounts
from services.booking import interview_types
from services.db import db
from services.models import AvailabilityRule
from web import create_app
from web.transactions import writing
with create_app().app_context():
    with writing():
        interview_types.ensure_defaults()
    for i in range({learners}):
        with writing():
            accounts.create_user(email=f"hosts-learner{{i}}@example.com", password={password!r},
                                 role="learner", name=f"Learner {{i}}")
    for i in range({coaches}):
        with writing():
            coach = accounts.create_user(
                email=f"hosts-coach{{i}}@example.com", password={password!r}, role="coach",
                name=f"Coach {{i}}", expertise=["ml", "python"], review_capacity=1000)
            for day in range(7):
                db.session.add(AvailabilityRule(coach_id=coach.id, weekday=day,
                                                start_time=dt.time(0), end_time=dt.time(23, 59)))
"""


class Cluster:
    """PostgreSQL, Redis and SeaweedFS on hosts of their own; web1 and web2 behind HAProxy on the
    proxy host; worker1 and worker2; the beat. Every process runs with the shipped defaults but
    for the addresses, the shared SECRET_KEY, the object store and JSON logs."""

    def __init__(self, folder: Path) -> None:
        from tests.conftest import Mailbox

        self.net = Network(folder)
        add = self.net.add
        self.db, self.redis, self.s3 = add("db", 10), add("redis", 11), add("s3", 12)
        self.web = {"web1": add("web1", 21), "web2": add("web2", 22)}
        self.workers = {"worker1": add("worker1", 31), "worker2": add("worker2", 32)}
        self.beat = add("beat", 41)
        self.proxy = add("proxy", 5)
        self.mailbox = Mailbox()
        self.smtp: Any = None

    @staticmethod
    def missing_tools() -> list[str]:
        needed = ["ip", "haproxy", "redis-server", "runuser"]
        missing = [tool for tool in needed if shutil.which(tool) is None]
        if shutil.which("weed") is None and not (Path(sys.executable).parent / "weed").exists():
            missing.append("weed")
        if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
            missing.append("postgresql (server binaries)")
        return missing

    def start(self) -> None:
        import psycopg
        from aiosmtpd.controller import Controller

        from tests.conftest import free_port

        admin = start_postgres(self.db)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE career_services")
        self.database_url = f"postgresql://postgres@{self.db.address}:5432/career_services"
        self.redis_url = start_redis(self.redis)
        self.s3_endpoint = start_seaweedfs(self.s3)
        smtp_port = free_port()
        self.smtp = Controller(self.mailbox, hostname=self.net.gateway, port=smtp_port)
        self.smtp.start()
        # What docs/deployment.md says every host is given; nothing else differs from the defaults.
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
            "MAIL_SERVER": self.net.gateway,
            "MAIL_PORT": str(smtp_port),
            "BASE_URL": "http://careers.test",
            "LOG_FORMAT": "json",
            "PROXY_COUNT": "1",
        }
        self.flask("db", "upgrade")
        for host in self.web.values():
            self.start_web(host)
        for name, host in self.workers.items():
            self.start_worker(name, host)
        self.start_beat(self.beat, "beat")
        self.url = start_haproxy(self.proxy, {n: h.address for n, h in self.web.items()})
        wait_for(lambda: self.served_by_both("/readyz"), 90, "both web hosts behind the proxy")

    def host_env(self, host: Host) -> dict[str, str]:
        return {
            **self.env,
            "INSTANCE_DIR": str(host.folder / "instance"),
            "UPLOAD_DIR": str(host.folder / "scratch"),
        }

    def start_web(self, host: Host) -> None:
        host.start(
            "gunicorn",
            [
                sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                "--bind", f"{host.address}:8000", "--workers", "2", "--threads", "4", "wsgi:app",
            ],
            self.host_env(host),
        )  # fmt: skip

    def start_worker(self, name: str, host: Host) -> None:
        host.start(
            "worker",
            [
                sys.executable, "-m", "celery", "-A", "workers", "worker", "--concurrency", "2",
                "--without-gossip", "--without-mingle", "--hostname", f"{name}@%h",
            ],
            self.host_env(host),
        )  # fmt: skip
        wait_for(lambda: " ready." in host.log("worker"), 90, f"{name} ready")

    def start_beat(self, host: Host, label: str) -> None:
        host.start(
            label,
            [
                sys.executable, "-m", "celery", "-A", "workers", "beat",
                "--schedule", str(host.folder / f"{label}-schedule"),
            ],
            self.host_env(host),
        )  # fmt: skip

    def served_by_both(self, path: str) -> bool:
        import requests

        seen = set()
        for _ in range(6):
            response = requests.get(self.url + path, timeout=5)
            if response.status_code == 200:
                seen.add(response.headers.get("X-Served-By"))
        return seen == set(self.web)

    def flask(self, *args: str, script: str | None = None) -> str:
        """A command on the beat host (``flask --app wsgi …``, or a Python script)."""
        argv = ["-c", script] if script else ["-m", "flask", "--app", "wsgi", *args]
        done = subprocess.run(
            [sys.executable, *argv],
            cwd=ROOT,
            env=self.host_env(self.beat),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return list(conn.execute(query, params).fetchall())

    def count(self, query: str, *params: Any) -> int:
        return int(self.sql(query, *params)[0][0])

    def token(self, email: str) -> str:
        import requests

        response = requests.post(
            self.url + "/api/v1/auth/token", json={"email": email, "password": PASSWORD}, timeout=30
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def all_hosts(self) -> list[Host]:
        return list(self.net.hosts.values())

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
        self.net.close()


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


# --- the load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    at: float
    kind: str
    status: int | None  # None: no answer at all (the connection failed or timed out)
    by: str | None  # the web host that answered (HAProxy's X-Served-By)
    outcome: str  # "ok"; "refused": a rule's answer or a clear 503 problem; "failed"


OK = {"upload": 201, "download": 200, "slots": 200, "book": 201, "cancel": 200, "list": 200}
OK |= {"accept": 200, "review": 200}
# Answers a rule gives under contention (a slot taken, a learner's fair-use limit, an offer gone).
RULES = {"book": {409, 422}, "cancel": {409}, "accept": {409}, "review": {409}}


class Load:
    """Clients through the proxy until stopped, each answer recorded: learners uploading résumés
    (and downloading them again), learners searching slots, booking and cancelling, coaches
    accepting and reviewing what is offered to them."""

    def __init__(
        self, cluster: Cluster, shape: Shape, learners: list[str], coaches: list[str]
    ) -> None:
        self.cluster, self.shape = cluster, shape
        self.answers: list[Answer] = []
        self.uploads: list[int] = []
        self.bookings: list[int] = []
        self.cancelled: list[int] = []
        self.reviewed: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        up, book = learners[: shape.uploaders], learners[shape.uploaders :][: shape.bookers]
        self._threads = (
            [threading.Thread(target=self._uploader, args=(t,)) for t in up]
            + [threading.Thread(target=self._booker, args=(t,)) for t in book]
            + [threading.Thread(target=self._reviewer, args=(t,)) for t in coaches]
        )

    def _ask(self, kind: str, method: str, path: str, token: str, **kwargs: Any) -> Any:
        """One request; its answer recorded; the response if it is the kind's success."""
        import requests

        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = requests.request(
                method, self.cluster.url + path, headers=headers, timeout=30, **kwargs
            )
        except requests.RequestException:
            response = None
        status = None if response is None else response.status_code
        if status == OK[kind]:
            outcome = "ok"
        elif status in RULES.get(kind, ()) or (status == 503 and _storage_problem(response)):
            outcome = "refused"
        else:
            outcome = "failed"
        by = None if response is None else response.headers.get("X-Served-By")
        with self._lock:
            self.answers.append(Answer(time.monotonic(), kind, status, by, outcome))
        return response if outcome == "ok" else None

    def _uploader(self, token: str) -> None:
        from tests.support_resumes import make_pdf

        last: tuple[int, bytes] | None = None
        n = 0
        while not self._stop.is_set():
            n += 1
            data = make_pdf([f"Learner {uuid.uuid4().hex}", "Python machine learning", "PyTorch"])
            response = self._ask(
                "upload",
                "POST",
                "/api/v1/resumes",
                token,
                data={"target_role": "ML engineer"},
                files={"file": ("cv.pdf", data, "application/pdf")},
            )
            if response is not None:
                last = (int(response.json()["id"]), data)
                with self._lock:
                    self.uploads.append(last[0])
            if last is not None and n % 3 == 0:
                got = self._ask("download", "GET", f"/api/v1/resumes/{last[0]}/file", token)
                if got is not None and got.content != last[1]:
                    with self._lock:  # the wrong bytes are a failure, whatever the status
                        self.answers.append(
                            Answer(time.monotonic(), "download", 200, None, "failed")
                        )
            self._stop.wait(self.shape.upload_pause)

    def _booker(self, token: str) -> None:
        import datetime as dt
        import random

        while not self._stop.is_set():
            start = dt.date.today() + dt.timedelta(days=2)
            params = {
                "type": BOOKED_TYPE,
                "start": start.isoformat(),
                "end": (start + dt.timedelta(days=6)).isoformat(),
                "tz": "UTC",
            }
            found = self._ask("slots", "GET", "/api/v1/slots", token, params=params)
            slots = found.json().get("slots", []) if found is not None else []
            if slots:
                slot = random.choice(slots)
                body = {"type": BOOKED_TYPE, "start": slot["start"]}
                made = self._ask("book", "POST", "/api/v1/bookings", token, json=body)
                if made is not None:
                    booking_id = int(made.json()["id"])
                    with self._lock:
                        self.bookings.append(booking_id)
                    path = f"/api/v1/bookings/{booking_id}/cancel"
                    if self._ask("cancel", "POST", path, token, json={"reason": "load"}):
                        with self._lock:
                            self.cancelled.append(booking_id)
            self._stop.wait(self.shape.booking_pause)

    def _reviewer(self, token: str) -> None:
        while not self._stop.is_set():
            for status in ("assigned", "in_review"):
                params = {"status": status, "limit": 5}
                listed = self._ask("list", "GET", "/api/v1/resumes", token, params=params)
                for item in listed.json()["items"] if listed is not None else []:
                    path = f"/api/v1/resumes/{item['id']}"
                    if status == "assigned" and not self._ask(
                        "accept", "POST", path + "/accept", token
                    ):
                        continue
                    if self._ask("review", "POST", path + "/review", token, json=REVIEW):
                        with self._lock:
                            self.reviewed.append(int(item["id"]))
            self._stop.wait(self.shape.review_pause)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def since(self, at: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.at >= at]

    def wait_ok(self, n: int, after: float | None = None, by: str | None = None) -> None:
        start = time.monotonic() if after is None else after
        wait_for(
            lambda: (
                sum(1 for a in self.since(start) if a.outcome == "ok" and by in (None, a.by)) >= n
            ),
            90,
            f"{n} answers under load" + (f" from {by}" if by else ""),
        )


def _storage_problem(response: Any) -> bool:
    try:
        return bool(response.json().get("code") == "storage_unavailable")
    except ValueError:
        return False


# --- the scenario: what must hold across hosts, then one fault at a time --------------------------


@dataclass
class Row:
    fault: str
    in_flight: str  # requests that failed (not a rule's answer, not a clear 503) of those made
    work_lost: int
    recovered: str
    duplicates: int
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)

    def table(self) -> str:
        head = f"{'fault':<22} {'in flight lost':<24} {'work lost':<10} {'recovered in':<14} dup."
        body = [
            f"{r.fault:<22} {r.in_flight:<24} {r.work_lost:<10} {r.recovered:<14} {r.duplicates}"
            + (f"  ({r.note})" if r.note else "")
            for r in self.rows
        ]
        return "\n".join([head, *body])


class Scenario:
    def __init__(self, cluster: Cluster, shape: Shape) -> None:
        self.cluster, self.shape = cluster, shape
        self.report = Report()
        self.loads: list[Load] = []

    # -- what the faults are measured against --

    def outstanding_jobs(self) -> set[int]:
        rows = self.cluster.sql("SELECT id FROM outbox_job WHERE failed_at IS NULL")
        return {int(r[0]) for r in rows}

    def settle(self, timeout: float = 150) -> float:
        """Wait until every job is done (no outbox job left); the seconds it took."""
        started = time.monotonic()
        wait_for(lambda: not self.outstanding_jobs(), timeout, "every job done")
        return time.monotonic() - started

    def duplicate_emails(self) -> int:
        from collections import Counter

        ids = Counter(m["Message-ID"] for m in self.cluster.mailbox.messages)
        return sum(n - 1 for n in ids.values() if n > 1)

    def work_lost(self, load: Load) -> list[str]:
        """What a client was told was done but is not (after ``settle``)."""
        c, lost = self.cluster, []
        if load.uploads:
            kept = {r[0] for r in c.sql("SELECT id FROM resume WHERE id = ANY(%s)", load.uploads)}
            lost += [f"résumé {i} accepted, not kept" for i in set(load.uploads) - kept]
            unparsed = c.sql(
                "SELECT resume_id FROM resume_version WHERE resume_id = ANY(%s)"
                " AND analysis_status = 'pending'",
                load.uploads,
            )
            lost += [f"résumé {r[0]} never parsed" for r in unparsed]
        if load.bookings:
            rows = dict(c.sql("SELECT id, status FROM booking WHERE id = ANY(%s)", load.bookings))
            lost += [f"booking {i} accepted, not kept" for i in set(load.bookings) - set(rows)]
            lost += [
                f"booking {i} cancel lost" for i in load.cancelled if rows.get(i) != "cancelled"
            ]
        if load.reviewed:
            rows = c.sql(
                "SELECT id FROM resume WHERE id = ANY(%s) AND status <> 'reviewed'", load.reviewed
            )
            lost += [f"review of résumé {r[0]} lost" for r in rows]
        failed = c.count("SELECT count(*) FROM outbox_job WHERE failed_at IS NOT NULL")
        lost += [f"{failed} job(s) given up"] if failed else []
        return lost

    def under_load(self, fault: str, inject: Any) -> Row:
        """Run ``inject(load, t0) -> (recovered seconds, note)`` under a fresh load, then count."""
        c = self.cluster
        duplicates_before = self.duplicate_emails()
        with Load(c, self.shape, self.learner_tokens, self.coach_tokens) as load:
            load.wait_ok(8)
            t0 = time.monotonic()
            recovered, note = inject(load, t0)
            time.sleep(self.shape.hold)
        self.loads.append(load)
        answers = load.since(t0)
        failed = [a for a in answers if a.outcome == "failed"]
        clear = sum(1 for a in answers if a.outcome == "refused" and a.status == 503)
        self.settle()
        lost = self.work_lost(load)
        in_flight = f"{len(failed)} of {len(answers)}" + (f", {clear} clear 503" if clear else "")
        row = Row(
            fault,
            in_flight,
            len(lost),
            "-" if recovered is None else f"{recovered:.1f} s",
            self.duplicate_emails() - duplicates_before,
            note,
        )
        self.report.rows.append(row)
        kinds = sorted({f"{a.kind} {a.status} from {a.by or 'the proxy'}" for a in failed})
        self.report.say(
            f"{fault}: {len(answers)} requests, {len(failed)} failed {kinds}; lost {lost[:5]}"
        )
        return row

    # -- the run --

    def run(self) -> Report:
        c, shape, say = self.cluster, self.shape, self.report.say
        started = time.monotonic()
        c.flask(
            script=SEED.format(learners=shape.learners, coaches=shape.coaches, password=PASSWORD)
        )
        learners = [f"hosts-learner{i}@example.com" for i in range(shape.learners)]
        self.learner_tokens = [c.token(e) for e in learners[:-1]]
        self.coach_tokens = [c.token(f"hosts-coach{i}@example.com") for i in range(shape.coaches)]
        with Load(c, shape, self.learner_tokens, self.coach_tokens) as load:
            load.wait_ok(8)
            self.across_hosts(victim=learners[-1])
            time.sleep(shape.hold)
        self.loads.append(load)
        self.settle()
        assert not self.work_lost(load), self.work_lost(load)

        self.under_load("web host killed", self.kill_web)
        self.restart_web1()
        self.under_load("worker host killed", self.kill_worker)
        self.under_load("second beat", self.second_beat)
        self.under_load("Redis restarted", self.restart_redis)
        self.under_load("SeaweedFS restarted", self.restart_seaweedfs)
        self.finish()
        say(f"\n{self.report.table()}")
        say(f"(the whole run: {time.monotonic() - started:.0f} s)")
        return self.report

    def across_hosts(self, victim: str) -> None:
        """Under the load: a session from one host is the other's; the sign-in limit is both
        hosts'; a résumé uploaded through one host is parsed by a worker on another host and
        downloaded through the first."""
        import requests

        from tests.support_auth import sign_in
        from tests.support_resumes import make_pdf
        from tests.support_server import HttpClient

        c = self.cluster
        browser = HttpClient(c.url)
        sign_in(browser, "hosts-learner0@example.com", PASSWORD)
        pages = [browser.get("/dashboard") for _ in range(8)]
        assert [p.status_code for p in pages] == [200] * 8
        assert {p.headers["X-Served-By"] for p in pages} == set(c.web), "one host only"

        # Failed sign-ins sent to each web host in turn (as the proxy would, with the client's
        # address in X-Forwarded-For; under load its round robin need not alternate for us).
        attempts = []
        for n in range(7):
            name = sorted(c.web)[n % 2]
            response = requests.post(
                f"http://{c.web[name].address}:8000/api/v1/auth/token",
                json={"email": victim, "password": "wrong password here"},
                headers={"X-Forwarded-For": c.net.gateway},
                timeout=30,
            )
            attempts.append((response.status_code, name))
        assert [s for s, _ in attempts] == [401] * 5 + [429] * 2, attempts
        limited_by = {h for _, h in attempts[:5]}

        data = make_pdf(["Ada Lovelace", "ada@example.com", "Python machine learning"])
        request_id = f"hosts-{uuid.uuid4().hex}"
        token = self.learner_tokens[0]
        response = requests.post(
            c.url + "/api/v1/resumes",
            data={"target_role": "ML engineer"},
            files={"file": ("cv.pdf", data, "application/pdf")},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        resume_id, uploaded_by = response.json()["id"], response.headers["X-Served-By"]

        def parsed_on() -> list[str]:
            return [
                name
                for name, host in c.workers.items()
                if any(
                    e.get("task_name") == "resumes.analyse"
                    and e.get("request_id") == request_id
                    and e.get("outcome") == "success"
                    for e in json_lines(host.log("worker"))
                )
            ]

        worker = wait_for(parsed_on, 60, "the upload parsed")
        assert len(worker) == 1, worker
        served: set[str] = set()
        for _ in range(12):
            got = requests.get(
                f"{c.url}/api/v1/resumes/{resume_id}/file",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert got.status_code == 200 and got.content == data
            served.add(got.headers["X-Served-By"])
            if served == set(c.web):
                break
        assert uploaded_by in served and served == set(c.web), served
        self.report.say(
            f"one session cookie accepted by {sorted({p.headers['X-Served-By'] for p in pages})};"
            f" sign-in limit counted across {sorted(limited_by)} (5 × 401 then 429);"
            f" résumé uploaded via {uploaded_by}, parsed on {worker[0]},"
            f" downloaded via {sorted(served)}"
        )

    def kill_web(self, load: Load, t0: float) -> tuple[float, str]:
        c = self.cluster
        c.web["web1"].kill("gunicorn")
        load.wait_ok(10, after=t0 + 1, by="web2")
        failed = [a.at for a in load.since(t0) if a.outcome == "failed"]
        later = [a for a in load.since(max(failed, default=t0) + 0.01) if a.outcome == "ok"]
        assert later and {a.by for a in later} == {"web2"}, {a.by for a in later}
        return max(failed, default=t0) - t0, "the proxy sends all to web2"

    def restart_web1(self) -> None:
        self.cluster.start_web(self.cluster.web["web1"])
        wait_for(lambda: self.cluster.served_by_both("/readyz"), 90, "web1 back behind the proxy")

    def kill_worker(self, load: Load, t0: float) -> tuple[float, str]:
        from tests.support_resumes import make_pdf

        c = self.cluster
        token = self.learner_tokens[0]
        for i in range(self.shape.burst):
            response = load._ask(
                "upload",
                "POST",
                "/api/v1/resumes",
                token,
                data={"target_role": "ML engineer"},
                files={"file": ("cv.pdf", make_pdf([f"Batch {i} {uuid.uuid4().hex}"]))},
            )
            if response is not None:
                load.uploads.append(int(response.json()["id"]))
        # Mid-batch: jobs held by workers (claimed) and more queued behind them.
        wait_for(
            lambda: c.count("SELECT count(*) FROM outbox_job WHERE claimed_at IS NOT NULL"),
            30,
            "a job claimed",
        )
        batch = self.outstanding_jobs()
        held = c.count("SELECT count(*) FROM outbox_job WHERE claimed_at IS NOT NULL")
        killed_at = time.monotonic()
        c.workers["worker1"].kill("worker")

        def done() -> bool:
            return not c.sql("SELECT id FROM outbox_job WHERE id = ANY(%s)", list(batch))

        wait_for(done, 180, "the killed worker's jobs finished on worker2")
        recovered = time.monotonic() - killed_at
        c.start_worker("worker1", c.workers["worker1"])
        return recovered, f"{len(batch)} jobs outstanding at the kill, {held} held by workers"

    def second_beat(self, load: Load, t0: float) -> tuple[None, str]:
        c = self.cluster
        c.start_beat(c.workers["worker2"], "beat2")
        wait_for(
            lambda: (
                sum(h.log("worker").count("this copy skipped") for h in c.workers.values()) >= 3
            ),
            90,
            "the second beat's copies skipped",
        )
        c.workers["worker2"].kill("beat2", signal.SIGTERM)
        skipped = sum(h.log("worker").count("this copy skipped") for h in c.workers.values())
        return None, f"{skipped} copies skipped"

    def restart_redis(self, load: Load, t0: float) -> tuple[float, str]:
        c = self.cluster
        c.redis.kill("redis", signal.SIGKILL)
        time.sleep(3)  # the load goes on meanwhile: its jobs are kept in the outbox
        start_redis(c.redis)
        back_at = time.monotonic()
        waiting = self.outstanding_jobs()
        wait_for(
            lambda: not c.sql("SELECT id FROM outbox_job WHERE id = ANY(%s)", list(waiting)),
            120,
            "the jobs of Redis's gap done",
        )
        failed = [a.at for a in load.since(t0) if a.outcome == "failed"]
        done_at = max(time.monotonic(), max(failed, default=t0))
        came = time.monotonic() - back_at
        return done_at - t0, f"down 3 s; its {len(waiting)} waiting jobs done {came:.1f} s after"

    def restart_seaweedfs(self, load: Load, t0: float) -> tuple[float, str]:
        c = self.cluster
        c.s3.kill("seaweedfs", signal.SIGKILL)
        wait_for(
            lambda: any(a.kind == "upload" and a.status == 503 for a in load.since(t0)),
            30,
            "an upload refused while SeaweedFS is down",
        )
        start_seaweedfs(c.s3)
        restarted = time.monotonic()
        load.wait_ok(1, after=restarted)
        wait_for(
            lambda: any(a.kind == "upload" and a.outcome == "ok" for a in load.since(restarted)),
            60,
            "an upload accepted after SeaweedFS came back",
        )
        first_ok = min(
            a.at for a in load.since(restarted) if a.kind == "upload" and a.outcome == "ok"
        )
        gap = [a for a in load.since(t0) if a.at < first_ok and a.kind == "upload"]
        assert all(a.status in (201, 503) for a in gap), {a.status for a in gap}
        return first_ok - t0, f"{restarted - t0:.1f} s to restart weed"

    def finish(self) -> None:
        """Nothing half-stored; every email out once; no library's set-up lines in the logs."""
        from services.storage import object_name

        c, say = self.cluster, self.report.say
        client = s3_client(c.s3_endpoint)
        shas = [r[0] for r in c.sql("SELECT DISTINCT sha256 FROM resume_version")]
        missing = []
        for sha in shas:
            try:
                client.head_object(Bucket="uploads", Key=f"career-services/{object_name(sha)}")
            except Exception:
                missing.append(sha)
        assert not missing, f"rows naming no stored file: {missing[:3]}"

        def settled() -> bool:
            return not c.count("SELECT count(*) FROM delivery WHERE status = 'pending'")

        try:
            wait_for(settled, 240, "every email sent")
        except TimeoutError:
            waiting = c.sql(
                "SELECT id, kind, attempts, left(coalesce(last_error, ''), 120), next_attempt_at,"
                " relayed_at, handover_failed_at, now() FROM delivery WHERE status = 'pending'"
                " ORDER BY id LIMIT 5"
            )
            raise AssertionError(f"emails still pending: {waiting}") from None
        statuses = dict(c.sql("SELECT status, count(*) FROM delivery GROUP BY status"))
        sent, sending = statuses.get("sent", 0), statuses.get("sending", 0)
        messages = len(c.mailbox.messages)
        assert self.duplicate_emails() == 0
        # Each sent delivery arrived once; one a killed worker was sending may or may not have
        # (it stays "sending" until NOTIFY_STUCK_AFTER_SECONDS marks it failed: never resent).
        assert sent <= messages <= sent + sending, (sent, sending, messages)
        runs: dict[tuple[str, int], int] = {}
        for host in c.workers.values():
            for e in json_lines(host.log("worker")):
                if e.get("periodic") and e.get("outcome") != "skipped" and e.get("period"):
                    key = (e["periodic"], e["period"])
                    runs[key] = runs.get(key, 0) + 1
        twice = [k for k, n in runs.items() if n > 1]
        assert runs and not twice, twice[:3]
        noise = [h.name for h in c.all_hosts() for label in ("gunicorn", "worker", "beat")
                 if "setup plugin" in h.log(label)]  # fmt: skip
        assert not noise, f"alembic's set-up lines logged on {noise}"
        answers = sum(len(load.answers) for load in self.loads)
        made = {
            "uploads": sum(len(load.uploads) for load in self.loads),
            "bookings": sum(len(load.bookings) for load in self.loads),
            "reviews": sum(len(load.reviewed) for load in self.loads),
        }
        say(
            f"\n{answers} requests under load ({made}); {messages} emails at the SMTP sink, each"
            f" once ({sent} sent, {sending} left 'sending' by the killed worker); periodic jobs"
            f" {len(runs)} periods, each run once"
        )
