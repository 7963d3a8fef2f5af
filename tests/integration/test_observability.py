"""Logs say what the service does (no library set-up lines), as JSON when LOG_FORMAT=json with
the request's and the task's context, the request id handed from web to the task it causes; and
Prometheus figures at /metrics behind a token. Real processes: `flask`, gunicorn, a Celery worker,
Redis, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
import redis

from services import outbox
from services.db import db
from tests.conftest import ROOT, RUN_DIR, flush_dispatch, worker_env
from tests.support_resumes import make_pdf
from tests.support_server import HttpClient, gunicorn

PASSWORD = "correct horse battery"


# --- quiet starts ---------------------------------------------------------------------------------


def test_no_process_start_prints_the_libraries_set_up_lines(live_database):
    env = {**os.environ, "DATABASE_URL": live_database}
    for args in (
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "current"],
        [sys.executable, "-m", "flask", "--app", "wsgi", "users", "--help"],
        [sys.executable, "-c", "import wsgi, workers"],  # what gunicorn and celery load
    ):
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "setup plugin" not in done.stderr + done.stdout, args


# --- /metrics -------------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus' text format."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_need_the_token(app, client, monkeypatch):
    assert client.get("/metrics").status_code == 404  # no token set: no metrics at all
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "metrics-token-123")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-12"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-123"})
    assert right.status_code == 200
    assert right.headers["Content-Type"].startswith("text/plain")


def test_metrics_count_requests_by_route_and_show_queues_and_the_outbox(
    app, client, db_session, monkeypatch
):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "metrics-token-123")
    headers = {"Authorization": "Bearer metrics-token-123"}

    def scrape() -> str:
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    before = scrape()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    job = outbox.enqueue_after_commit("metrics.test_job", 1)
    db.session.commit()
    flush_dispatch(app)  # the job's own message is in the queue before it is counted
    broker = redis.Redis.from_url(app.config["REDIS_URL"])
    depth_before = broker.llen("default")
    broker.rpush("default", *(f"metrics-test-{i}" for i in range(3)))
    try:
        after = scrape()
    finally:
        broker.lrem("default", 0, "metrics-test-0")
        broker.lrem("default", 0, "metrics-test-1")
        broker.lrem("default", 0, "metrics-test-2")
        broker.close()

    ok = {"route": "/healthz", "method": "GET", "status": "200"}
    assert (sample(after, "http_requests_total", **ok) or 0) - (
        sample(before, "http_requests_total", **ok) or 0
    ) == 3
    assert sample(after, "http_requests_total", route="unmatched", status="404") is not None
    assert sample(after, "http_request_duration_seconds_count", route="/healthz") is not None
    assert sample(after, "celery_queue_depth", queue="default") == depth_before + 3
    assert sample(after, "celery_queue_depth", queue="heavy") is not None
    assert sample(after, "broker_up") == 1 and sample(after, "database_up") == 1
    assert (sample(after, "outbox_backlog", kind="job") or 0) >= 1
    assert (sample(after, "outbox_oldest_age_seconds", kind="job") or -1) >= 0
    assert sample(after, "outbox_backlog", kind="event") is not None
    assert sample(after, "notification_deliveries_failed") is not None
    assert job.id


def test_metrics_are_not_in_the_api_document(client):
    document = client.get("/api/v1/openapi.json").json
    assert not any("metrics" in path for path in document["paths"])


# --- JSON logs, web to worker ---------------------------------------------------------------------


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.mark.worker
def test_json_logs_carry_the_request_id_from_web_to_the_task_it_causes(
    live_app, live_database, live_redis_url, start_worker
):
    from services import accounts

    upload_dir = str(RUN_DIR / "uploads")
    worker = start_worker(LOG_FORMAT="json", UPLOAD_DIR=upload_dir)
    with live_app.app_context():
        learner = accounts.create_user(
            email=f"learner-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD, role="learner"
        )
        db.session.commit()
        learner_id = learner.id
        email = learner.email
        db.session.remove()
    env = worker_env(
        live_database,
        live_redis_url,
        None,
        UPLOAD_DIR=upload_dir,
        LOG_FORMAT="json",
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    log_path = RUN_DIR / "logs" / f"gunicorn-json-{uuid.uuid4().hex[:6]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    request_id = f"test-{uuid.uuid4().hex}"
    with gunicorn("wsgi:app", env, log_path=log_path) as url:
        http = HttpClient(url)
        token = http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert token.status_code == 201
        response = http.post(
            "/api/v1/resumes",
            data={"target_role": "ML engineer"},
            files={"file": ("cv.pdf", make_pdf(), "application/pdf")},
            headers={
                "Authorization": f"Bearer {token.raw.json()['token']}",
                "X-Request-ID": request_id,
            },
        )
        assert response.status_code == 201, response.raw.text
        assert response.headers["X-Request-ID"] == request_id
        deadline = time.monotonic() + 60
        analysed: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not analysed:
            analysed = [
                e
                for e in json_lines(worker.log())
                if e.get("task_name") == "resumes.analyse"
                and e.get("logger") == "workers.tasks"
                and e.get("request_id") == request_id
            ]
            time.sleep(0.2)
    assert analysed, worker.log()[-3000:]
    task_line = analysed[0]
    assert task_line["outcome"] == "success"
    assert task_line["task_id"] and isinstance(task_line["duration_ms"], float)

    web = [
        e
        for e in json_lines(log_path.read_text())
        if e.get("logger") == "web.requests" and e.get("request_id") == request_id
    ]
    assert len(web) == 1, log_path.read_text()[-3000:]
    line = web[0]
    assert line["route"] == "/api/v1/resumes" and line["method"] == "POST"
    assert line["status"] == 201 and line["user_id"] == learner_id
    assert isinstance(line["duration_ms"], float)
    # Every line the worker wrote after its start is one JSON object (its banner aside).
    started = worker.log().split(" ready.", 1)[1]
    for text_line in started.splitlines()[1:]:
        if text_line.strip():
            json.loads(text_line)
