"""Each request's id, its log line and its metrics; Prometheus figures at /metrics.

A request takes the id the proxy sent (``X-Request-ID``, if it is a plain token) or gets a new
one; it is in every log line the request writes, in the answer's ``X-Request-ID``, and in the
headers of every task the request causes (services.outbox), so a worker's lines carry it too.

/metrics answers only ``Authorization: Bearer <METRICS_TOKEN>`` (404 without a token set, 401
with a wrong one). It is not part of the API, so not in its OpenAPI document.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services import logs
from services import metrics as figures

log = logging.getLogger("web.requests")

REQUEST_ID_HEADER = "X-Request-ID"
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{8,128}")

# Per process; with several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (docs/deployment.md) so
# a scrape sums every worker's.
REQUESTS = Counter(
    "http_requests_total",
    "Requests answered, by route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request (its body excepted when streamed), by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route() -> str:
    """The route's pattern (``/api/v1/resumes/<int:resume_id>``), never the raw path: bounded."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


# (route, method, status) -> its request counter and latency histogram (prometheus_client's
# ``labels`` takes a lock and builds its key on each call). Bounded: routes are rule patterns.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _series(route: str, method: str, status: int) -> tuple[Any, Any]:
    key = (route, method, status)
    found = _children.get(key)
    if found is None:
        found = _children[key] = (
            REQUESTS.labels(route, method, str(status)),
            LATENCY.labels(route, method),
        )
    return found


def _user_id() -> int | None:
    for name in ("api_user", "_login_user"):
        user = g.get(name)
        if user is not None and getattr(user, "is_authenticated", False):
            return getattr(user, "id", None)
    return None


class BacklogCollector(Collector):
    """Figures read from the database and Redis at each scrape (the same from every process)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("database_up", "1 if the database answered the scrape, else 0.")
        try:
            with self.app.app_context():
                snap = figures.snapshot(self.app.config["REDIS_URL"])
        except Exception:  # the database is down: say so, and still serve the request figures
            logging.getLogger(__name__).warning("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        waiting = GaugeMetricFamily(
            "outbox_backlog", "Outbox rows no worker has finished, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "outbox_oldest_age_seconds",
            "Age of the oldest unfinished outbox row, by kind (0 when none waits).",
            labels=["kind"],
        )
        for kind, backlog in snap.outbox.items():
            waiting.add_metric([kind], backlog.waiting)
            oldest.add_metric([kind], backlog.oldest_age_seconds)
        yield waiting
        yield oldest
        failed = GaugeMetricFamily(
            "notification_deliveries_failed", "Emails given up on, waiting for staff."
        )
        failed.add_metric([], snap.deliveries_failed)
        yield failed
        depth = GaugeMetricFamily(
            "celery_queue_depth", "Messages waiting in each broker queue.", labels=["queue"]
        )
        for queue, count in snap.queue_depth.items():
            depth.add_metric([queue], count)
        yield depth
        broker = GaugeMetricFamily("broker_up", "1 if Redis answered the scrape, else 0.")
        broker.add_metric([], 1 if snap.queue_depth else 0)
        yield broker


def _registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(BacklogCollector(app))
    return registry


def metrics() -> Response:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = Response("A metrics token is needed.\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = current_app.extensions["metrics.registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.extensions["metrics.registry"] = _registry(app)
    # Each request's line is the log collector's record of it (LOG_FORMAT=json: request id, user,
    # route, status, duration). In text mode gunicorn's access log (the Procfile's
    # --access-logfile -) already has a line per request, so ours is DEBUG there: not written,
    # nor even built, unless LOG_LEVEL=DEBUG.
    line_level = logging.INFO if app.config.get("LOG_FORMAT") == "json" else logging.DEBUG
    app.add_url_rule("/metrics", "metrics", metrics)

    @app.before_request
    def _start() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        rid = given if _TOKEN.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        g.request_id = rid
        g.request_log_tokens = logs.request_id.set(rid)

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is None:
            return response
        duration = time.perf_counter() - started
        route = _route()
        counted, timed = _series(route, request.method, response.status_code)
        counted.inc()
        timed.observe(duration)
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if log.isEnabledFor(line_level) and route != "/metrics" and not route.startswith("/static"):
            log.log(
                line_level,
                "%s %s %s %.1f ms",
                request.method,
                route,
                response.status_code,
                duration * 1000,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                    "user_id": _user_id(),
                },
            )
        return response

    @app.teardown_request
    def _unbind(exc: BaseException | None) -> None:
        token = g.pop("request_log_tokens", None)
        if token is not None:
            logs.request_id.reset(token)
