"""Several hosts on one machine: network namespaces joined by veth pairs on a bridge, each with
its own address, its own processes and its own folders (no host shares a disk path with another).
Used by tests/integration/test_hosts.py; needs root and iproute2, HAProxy, PostgreSQL's server
binaries, redis-server and weed (scripts/test.sh installs them)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
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
    http-response set-header X-Served-By %s
{servers}
"""


def start_haproxy(host: Host, backends: dict[str, str]) -> str:
    servers = "\n".join(
        f"    server {name} {address}:8000 check inter 500ms fall 2 rise 2"
        for name, address in backends.items()
    )
    config = host.folder / "haproxy.cfg"
    config.write_text(HAPROXY.format(address=host.address, servers=servers))
    host.start("haproxy", ["haproxy", "-db", "-f", str(config)])
    return f"http://{host.address}:8080"
