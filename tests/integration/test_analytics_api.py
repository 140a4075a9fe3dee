"""Dwell analytics and the status lens through the HTTP API, on the demo data set."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import Services, build_services
from orderloom.core.settings import Settings
from orderloom.sim.demo import load_demo
from tests.integration.conftest import Api


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API over the demo data for the whole module: loading the demo takes a couple of seconds."""
    path = tmp_path_factory.mktemp("analytics") / "api.db"
    svc = build_services(Settings(db_url=f"sqlite:///{path}"))
    load_demo(svc)
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "finance", "ops", "admin")}
    keys["consumer"] = svc.keys.create("consumer", "C-1")[0]
    keys["demo_consumer"] = svc.keys.create("consumer", "C-DEMO-002")[0]
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        _quiet(svc)
        yield Api(client, svc, keys)
    svc.close()


def _quiet(svc: Services, settle_s: float = 1.5, limit_s: float = 90.0) -> None:
    """Wait until the in-process pipeline (monitors, playbooks) has answered the demo, so the log stops moving."""
    deadline, last, since = time.monotonic() + limit_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        now = svc.store.last_position()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return
        time.sleep(0.2)


def test_ops_get_a_heatmap_of_dwell_by_hour(demo: Api) -> None:
    r = demo.client.get("/v1/analytics/dwell", params={"by": "hour", "metric": "p50"}, headers=demo.as_("ops"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["columns"] == list(range(24))
    assert doc["rows"]
    assert len(doc["values"]) == len(doc["rows"]) == len(doc["counts"])
    assert sum(map(sum, doc["counts"])) == doc["steps"] == sum(row["count"] for row in doc["rows"])
    assert doc["position"] == demo.services.store.last_position()
    for x, y, value, count in doc["data"]:
        assert doc["values"][y][x] == value
        assert doc["counts"][y][x] == count


def test_filters_by_stage_and_node_narrow_the_rows(demo: Api) -> None:
    r = demo.client.get(
        "/v1/analytics/dwell", params={"by": "day", "stage": "warehouse", "node": "SH-CW-01"}, headers=demo.as_("cs")
    )
    assert r.status_code == 200, r.text
    assert {(row["node"], row["stage"]) for row in r.json()["rows"]} == {("SH-CW-01", "warehouse")}


def test_a_bad_parameter_is_named_in_a_422(demo: Api) -> None:
    r = demo.client.get("/v1/analytics/dwell", params={"by": "week", "from": "soon"}, headers=demo.as_("ops"))
    assert r.status_code == 422
    assert {p["field"] for p in r.json()["error"]["problems"]} == {"by", "from"}


@pytest.mark.parametrize("role", ["consumer", "finance"])
def test_roles_outside_operations_may_not_read_dwell_analytics(demo: Api, role: str) -> None:
    r = demo.client.get("/v1/analytics/dwell", headers=demo.as_(role))
    assert r.status_code == 403


def test_customer_service_may_read_but_not_export(demo: Api) -> None:
    assert demo.client.get("/v1/analytics/dwell", headers=demo.as_("cs")).status_code == 200
    assert demo.client.get("/v1/analytics/dwell/export", headers=demo.as_("cs")).status_code == 403


def test_a_parquet_export_reads_back_with_the_heatmaps_counts(demo: Api, tmp_path: Path) -> None:
    r = demo.client.get("/v1/analytics/dwell/export", params={"format": "parquet"}, headers=demo.as_("ops"))
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    path = tmp_path / "dwell.parquet"
    path.write_bytes(r.content)
    with duckdb.connect() as con:
        (total,) = con.execute("SELECT sum(count) FROM read_parquet(?)", [str(path)]).fetchone() or (None,)
    heat = demo.client.get("/v1/analytics/dwell", headers=demo.as_("ops")).json()
    assert total == heat["steps"]


def test_a_csv_export_of_steps_has_a_header_and_a_row_per_step(demo: Api) -> None:
    r = demo.client.get(
        "/v1/analytics/dwell/export", params={"format": "csv", "rows": "steps"}, headers=demo.as_("ops")
    )
    assert r.status_code == 200, r.text
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("oid,shipment,from_type,to_type,node,stage")
    heat = demo.client.get("/v1/analytics/dwell", headers=demo.as_("ops")).json()
    assert len(lines) - 1 == heat["steps"]


def test_an_unknown_export_format_is_named(demo: Api) -> None:
    r = demo.client.get("/v1/analytics/dwell/export", params={"format": "xlsx"}, headers=demo.as_("admin"))
    assert r.status_code == 422
    assert [p["field"] for p in r.json()["error"]["problems"]] == ["format"]


def test_the_lens_shows_the_stalled_line_haul_order_as_stuck(demo: Api) -> None:
    r = demo.client.get("/v1/orders/OL-DEMO-0003/lens", headers=demo.as_("ops"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["stuck"] is True
    assert doc["stuck_at"]["last"]["type"] == "linehaul.in_transit"
    assert any(t["overdue"] for t in doc["stuck_at"]["timers"])
    assert all(s["duration_s"] > 0 for s in doc["steps"])


def test_the_lens_finds_an_order_by_its_source_order_number(demo: Api) -> None:
    placed = demo.services.store.read_stream("OL-DEMO-0003")[0]
    link = {
        "id": "link-SO-0003",
        "type": "order.ref_linked",
        "source": "tests",
        "oid": "OL-DEMO-0003",
        "time": placed.time,
        "data": {"system": "erp", "number": "SO-0003"},
    }
    assert demo.client.post("/v1/events", json={"events": [link]}, headers=demo.as_("ops")).status_code == 200
    r = demo.client.get("/v1/orders/SO-0003/lens", params={"system": "erp"}, headers=demo.as_("cs"))
    assert r.status_code == 200, r.text
    assert r.json()["oid"] == "OL-DEMO-0003"


def test_a_consumer_lens_shows_their_own_order_through_their_eyes_only(demo: Api) -> None:
    r = demo.client.get("/v1/orders/OL-DEMO-0003/lens", headers=demo.as_("demo_consumer"))
    assert r.status_code == 200, r.text
    doc = r.json()
    visible = {tid for tid, t in demo.services.dictionary.types.items() if t.view("consumer").visible}
    named = {s["from"]["type"] for s in doc["steps"]} | {w["last"]["type"] for w in doc["waiting"]}
    assert named <= visible
    assert doc["role"] == "consumer"
    other = demo.client.get("/v1/orders/OL-DEMO-0001/lens", headers=demo.as_("demo_consumer"))
    assert other.status_code == 404
    peek = demo.client.get("/v1/orders/OL-DEMO-0003/lens", params={"role": "ops"}, headers=demo.as_("demo_consumer"))
    assert peek.status_code == 403
