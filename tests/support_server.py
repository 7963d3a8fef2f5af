"""The app under a real gunicorn, as production runs it (the Procfile's settings), and a
``requests`` client for it that speaks like the Flask test client, so tests.support_auth signs
in through it. Used by the tests (the ``live_server`` fixture) and by the benchmarks."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests  # imported where used: the load benchmark's gevent must patch ssl first

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``url`` answers at all (any status): the app has booted in a worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 (our own loopback server)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


@contextlib.contextmanager
def gunicorn(
    app: str,
    env: dict[str, str],
    *,
    workers: int = 2,
    threads: int = 4,
    ready_path: str = "/healthz",
    log_path: Path | None = None,
    timeout: float = 60.0,
    port: int | None = None,
) -> Iterator[str]:
    """gunicorn serving ``app`` ("module:attr") on ``port`` (a free one if not given) with the
    Procfile's settings; yields its base URL. Its error log goes to ``log_path`` when given."""
    port = port or _free_port()
    log = log_path.open("ab") if log_path is not None else None
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    try:
        # Every worker booted: a few requests, since each may land on any of them.
        for _ in range(workers * 2):
            _wait_for_http(f"http://127.0.0.1:{port}{ready_path}", process, timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if log is not None:
            log.close()


class HttpResponse:
    """A ``requests`` response with the Flask test response's ``get_data``."""

    def __init__(self, response: requests.Response) -> None:
        self.raw = response
        self.status_code = response.status_code
        self.headers = response.headers

    def get_data(self, as_text: bool = False) -> Any:
        return self.raw.text if as_text else self.raw.content


class HttpClient:
    """A browser-like client of a live server: cookies kept, redirects not followed (as the
    Flask test client), paths relative to ``base_url``."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.open("POST", path, **kwargs)

    def open(self, method: str, path: str, **kwargs: Any) -> HttpResponse:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        return HttpResponse(self.session.request(method, self.base_url + path, **kwargs))

    def stream(self, path: str, **kwargs: Any) -> requests.Response:
        """A GET whose body is read as it arrives (close it, or use it as a context manager)."""
        return self.session.get(
            self.base_url + path, stream=True, allow_redirects=False, timeout=60, **kwargs
        )
