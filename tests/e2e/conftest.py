"""A real HTTP server on localhost and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import app_config, create_database, drop_database, free_port, upgrade_database

pytestmark = pytest.mark.e2e


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Chromium is not installed: run scripts/test.sh, which installs it")
    return path


@pytest.fixture(scope="session")
def e2e_database() -> Iterator[str]:
    url = create_database("sqlite")
    upgrade_database(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def server_app(e2e_database: str, redis_server: Any) -> Any:
    from services import demo
    from services.db import db
    from web import create_app

    app = create_app(app_config(e2e_database, redis_server.url))
    with app.app_context():
        demo.seed_demo()
        db.session.commit()
    return app


@pytest.fixture(scope="session")
def base_url(server_app: Any) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, server_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, timezone_id="America/Chicago")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
