"""The router's capacity prices: a node that the last hour's demand fills up costs more in the next decisions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from tests.integration.conftest import Api

# Two warehouses for Nanjing: the near one is cheaper but turns out only 3 orders an hour.
NETWORK = """
version: 1
nodes:
  - {id: NEAR, name: 南京仓, kind: forward_wh, city: 南京, lat: 32.04, lng: 118.78,
     capacity_per_hour: {pick: 3, pack: 3, sort: 3}, unit_cost: 2.0, stock: {TEA: 1000}}
  - {id: FAR, name: 上海仓, kind: central_wh, city: 上海, lat: 31.23, lng: 121.47,
     capacity_per_hour: {pick: 500, pack: 500, sort: 500}, unit_cost: 3.0, stock: {TEA: 1000}}
services:
  - {id: next_day, name: 次日达, kind: next_day, base: 8.0, per_km: 0.006, base_hours: 14.0,
     hours_per_100km: 1.2, max_km: 800}
"""


@pytest.fixture
def priced(tmp_path: Path) -> Iterator[tuple[Api, ManualClock]]:
    (tmp_path / "net.yaml").write_text(NETWORK, encoding="utf-8")
    clock = ManualClock(datetime(2026, 11, 11, 2, 0, tzinfo=UTC))
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'api.db'}", network_path=str(tmp_path / "net.yaml"))
    svc = build_services(settings, clock=clock)
    keys = {"ops": svc.keys.create("ops")[0]}
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Api(client, svc, keys), clock
    svc.close()


def _order(oid: str) -> dict[str, object]:
    return {
        "oid": oid,
        "time": "2026-11-11T10:00:00+08:00",
        "lines": [{"sku": "TEA", "qty": 1, "unit_price": 10.0}],
        "currency": "CNY",
        "total": 10.0,
        "customer": {"id": "C-1", "tier": "standard"},
        "channel": "tmall",
        "destination": {"region": "江苏", "city": "南京市", "address": "中山路 1 号", "lat": 32.05, "lng": 118.79},
        "recipient": {"name": "王", "phone": "13800000000"},
        "window": {"start": "2026-11-11T10:00:00+08:00", "end": "2026-11-13T20:00:00+08:00"},
    }


def test_a_node_filled_by_the_last_hours_demand_gets_a_capacity_price_and_loses_the_next_orders(
    priced: tuple[Api, ManualClock],
) -> None:
    api, clock = priced
    ops = api.as_("ops")
    nodes = []
    for i in range(8):
        assert api.client.post("/v1/orders", json=_order(f"OL-CP-{i}"), headers=ops).status_code == 201
        r = api.client.post(f"/v1/routing/orders/OL-CP-{i}/route", headers=ops)
        assert r.status_code == 201, r.text
        nodes.append(r.json()["node"])
        clock.advance(timedelta(seconds=5))
    assert nodes == ["NEAR"] * 8  # one solve so far, when demand was a single order: no price yet
    clock.advance(timedelta(minutes=1))  # the next decision re-solves on 9 orders in the hour vs 3 of room
    assert api.client.post("/v1/orders", json=_order("OL-CP-9"), headers=ops).status_code == 201
    r = api.client.post("/v1/routing/orders/OL-CP-9/route", headers=ops).json()
    assert r["node"] == "FAR"
    assert r["alternatives"][0]["legs"][0]["node"] == "NEAR" and r["alternatives"][0]["breakdown"]["capacity"] > 0
    assert any("capacity price" in line and "NEAR is full" in line for line in r["reasons"])
