"""`GET /metrics`: per-route request counts and latencies, and each consumer's lag behind the log."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.status.orders import place_order
from tests.unit._support import order_body


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_by_route_template_and_show_consumers_catching_up(tmp_path: Path) -> None:
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'm.db'}"))
    ops, consumer = svc.keys.create("ops")[0], svc.keys.create("consumer", customer="C-1")[0]
    for n in range(1, 31):
        assert place_order(svc.intake, order_body(f"OL-MET-{n:04d}"), source="t", actor=None).created
    head = svc.store.last_position()
    with TestClient(create_app(services=svc)) as c:
        h = {"Authorization": f"Bearer {ops}"}
        for oid in ("OL-MET-0001", "OL-MET-0002", "OL-NOPE"):
            c.get(f"/v1/orders/{oid}/chain", headers=h)
        deadline = time.monotonic() + 20
        while True:  # the in-process consumers apply the demo log in the background
            samples = _samples(c.get("/metrics", headers=h).text)
            lag = samples[("orderloom_consumer_lag_events", (("consumer", "order_status"),))]
            if lag == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)

        chain = ("method", "GET"), ("route", "/v1/orders/{oid}/chain")
        assert samples[("orderloom_http_requests_total", (*chain, ("status", "200")))] == 2
        assert samples[("orderloom_http_requests_total", (*chain, ("status", "404")))] == 1
        assert samples[("orderloom_http_request_seconds_count", (("route", "/v1/orders/{oid}/chain"),))] == 3
        assert samples[("orderloom_log_position", ())] >= head > 0
        assert lag == 0
        assert samples[("orderloom_consumer_checkpoint", (("consumer", "order_status"),))] >= head
        assert ("orderloom_consumer_lag_events", (("consumer", "relay"),)) in samples

        assert c.get("/metrics").status_code == 401
        denied = c.get("/metrics", headers={"Authorization": f"Bearer {consumer}"})
        assert denied.status_code == 403 and "ops and admin" in denied.json()["error"]["message"]
    svc.close()
