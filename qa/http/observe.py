"""Per-request observability: a request id, one structured log line, and Prometheus metrics.

Metrics are per process (a registry per app): with several gunicorn workers, each scrape of
/metrics reaches one worker and shows its own counts. Run one worker with more threads, or
scrape each worker, when exact totals matter.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               disable_created_metrics, generate_latest)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from qa.errors import QAError

log = logging.getLogger("qa.request")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
disable_created_metrics()  # *_created series only add noise to a scrape


class _IndexCollector(Collector):
    """The served index's version and size, read at scrape time so a reload shows at once."""

    def __init__(self, service):
        self.service = service

    def collect(self) -> Iterator:
        try:
            served = self.service.store().info
        except QAError:
            return
        info = InfoMetricFamily("qa_index", "index version in service")
        info.add_metric([], {"version": served.version, "model": served.model})
        yield info
        counts = GaugeMetricFamily("qa_index_items", "items in the served index", labels=["kind"])
        for kind in ("articles", "chunks", "segments"):
            counts.add_metric([kind], getattr(served, kind))
        yield counts
        yield GaugeMetricFamily("qa_index_bytes", "bytes of the served index's files", value=served.bytes)


def _request_id() -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _CLIENT_ID.fullmatch(given) else uuid.uuid4().hex


def init_app(app: Flask, service) -> None:
    """Wire the request id, the log line and /metrics into `app`."""
    registry = CollectorRegistry()
    requests_total = Counter("qa_http_requests", "HTTP requests by endpoint, method and status",
                             ["endpoint", "method", "status"], registry=registry)
    latency = Histogram("qa_http_request_duration_seconds", "time to answer a request, by endpoint",
                        ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
    registry.register(_IndexCollector(service))

    @app.before_request
    def start() -> None:
        g.request_id = _request_id()
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        # Errors raised before `start` ran (e.g. a malformed request) still get an id.
        rid = g.get("request_id") or uuid.uuid4().hex
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        requests_total.labels(endpoint, request.method, str(response.status_code)).inc()
        latency.labels(endpoint).observe(seconds)
        response.headers[REQUEST_ID_HEADER] = rid
        log.info(json.dumps(_record(rid, response.status_code, seconds), ensure_ascii=False))
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _record(rid: str, status: int, seconds: float) -> dict:
    """The log line's fields; the question itself only at DEBUG (it may be personal)."""
    result = g.get("result")
    record = {"request_id": rid, "method": request.method, "path": request.path, "status": status,
              "latency_ms": round(seconds * 1000, 2),
              "top_score": result.passages[0].score if result is not None and result.passages else None,
              "abstained": result.abstained if result is not None else None,
              "evidence": result.evidence if result is not None else None}
    if result is not None and log.isEnabledFor(logging.DEBUG):
        record["question"] = result.question
    return record
