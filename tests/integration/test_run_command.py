"""The README's first command, as a newcomer meets it: a clean copy of the repository, no Redis
answering where the settings point, and the address the script prints is where the site answers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTING = re.compile(r"Career Services is starting at (http://\S+)")


def _clean_copy(target: Path) -> None:
    """The files a clone has (tracked ones, as they are now): no instance/, no caches."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        source = ROOT / os.fsdecode(name)
        if not source.exists():  # deleted in the working tree, not yet committed
            continue
        destination = target / os.fsdecode(name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    # The packages are the same lock files' (the test command installed them): reuse that
    # environment rather than download it again; ensure_venv checks the lock files' stamp.
    (target / ".venv").symlink_to((ROOT / ".venv").resolve())


@pytest.mark.worker
def test_run_sh_serves_at_the_address_it_prints_when_no_redis_answers(tmp_path: Path) -> None:
    clone = tmp_path / "career-services"
    _clean_copy(clone)
    port, redis_port = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PORT": str(port),
        # Nothing listens there: the script must start its own Redis.
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        printed = None
        status = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and status != 200:
            assert process.poll() is None, log_path.read_text(errors="replace")
            output = log_path.read_text(errors="replace")
            if printed is None and (match := STARTING.search(output)):
                printed = match.group(1)
            if printed is not None:
                try:
                    status = requests.get(f"{printed}/readyz", timeout=10).status_code
                except (requests.ConnectionError, requests.Timeout):
                    status = None
            if status != 200:
                time.sleep(0.5)
        output = log_path.read_text(errors="replace")
        assert printed == f"http://127.0.0.1:{port}", output
        assert status == 200, output
        assert "starting Redis" in output
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
