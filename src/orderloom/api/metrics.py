"""Prometheus metrics: request rates and latencies per route, and how far each consumer trails the log.

Request counters live in each worker process (scrape every worker, or sum them
in Prometheus); the log's head and the consumers' checkpoints are read from the
database at scrape time, so every worker reports the same lag. A registry per
app keeps tests that build many apps independent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderloom.api.auth import Caller, caller
from orderloom.bootstrap import Services
from orderloom.core.errors import Forbidden
from orderloom.status.projections import status_projections

# Consumers that keep a checkpoint in the view store besides the status views.
OTHER_CONSUMERS = ("relay", "routing-commands", "playbooks", "monitor_state")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LogLag(Collector):
    """The log's head position and each consumer's checkpoint, read when scraped."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterable[GaugeMetricFamily]:
        head = self.svc.store.last_position()
        position = GaugeMetricFamily("orderloom_log_position", "Position of the newest event in the log")
        position.add_metric([], head)
        checkpoint = GaugeMetricFamily(
            "orderloom_consumer_checkpoint", "Last log position a consumer has applied", labels=["consumer"]
        )
        lag = GaugeMetricFamily(
            "orderloom_consumer_lag_events", "Events a consumer still has to apply", labels=["consumer"]
        )
        for name in self._consumers():
            at = self.svc.views.checkpoint(name)
            checkpoint.add_metric([name], at)
            lag.add_metric([name], max(0, head - at))
        return [position, checkpoint, lag]

    def _consumers(self) -> Iterator[str]:
        yield from (p.view for p in status_projections(self.svc.dictionary))
        yield from OTHER_CONSUMERS


class _RequestMetrics:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware): counts and times requests."""

    def __init__(self, app: ASGIApp, requests: Counter, seconds: Histogram) -> None:
        self.app, self.requests, self.seconds = app, requests, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The route's template, not the raw path, so order ids do not explode the label set.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.requests.labels(scope["method"], route, str(status[0])).inc()
            self.seconds.labels(route).observe(time.perf_counter() - started)


def install(app: FastAPI, svc: Services) -> None:
    """Count requests on `app` and serve `GET /metrics` to ops and admin keys."""
    registry = CollectorRegistry()
    requests = Counter(
        "orderloom_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=registry
    )
    seconds = Histogram(
        "orderloom_http_request_seconds", "Time to answer, by route", ["route"], buckets=BUCKETS, registry=registry
    )
    registry.register(_LogLag(svc))
    app.add_middleware(_RequestMetrics, requests=requests, seconds=seconds)
    router = APIRouter(tags=["ops"])

    @router.get("/metrics", summary="Prometheus metrics (ops and admin keys)", response_class=Response)
    def metrics(request: Request, who: Annotated[Caller, Depends(caller)]) -> Response:
        if who.role not in ("ops", "admin"):
            raise Forbidden(f"the {who.role} role may not read metrics (ops and admin may)")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
