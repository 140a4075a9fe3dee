"""Routing over HTTP on the shipped China network: dry run, route and record, explain."""

from __future__ import annotations

import copy
from typing import Any

from tests.integration.conftest import Api


def order_body(api: Api, oid: str, **over: Any) -> dict[str, Any]:
    data = copy.deepcopy(dict(api.services.dictionary.types["order.placed"].example["data"]))
    data.pop("source_refs", None)
    data.update(oid=oid, time="2026-05-01T08:00:00+08:00", **over)
    data["customer"]["id"] = "C-1"
    return data


def test_a_dry_run_explains_the_choice_and_records_nothing(api: Api) -> None:
    before = api.services.store.last_position()
    r = api.client.post(
        "/v1/routing/decide",
        json={
            "lines": [{"sku": "YOG-500G", "qty": 2, "cold_chain": True}],
            "destination": {"city": "南京市", "lat": 32.06, "lng": 118.8},
            "customer": {"tier": "gold"},
        },
        headers=api.as_("ops"),
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["legs"] and doc["breakdown"] and doc["reasons"][0].startswith("chose")
    assert api.services.store.last_position() == before


def test_routing_an_order_records_the_decision_with_alternatives_and_it_can_be_explained(api: Api) -> None:
    ops = api.as_("ops")
    assert api.client.post("/v1/orders", json=order_body(api, "OL-R-1"), headers=ops).status_code == 201
    r = api.client.post("/v1/routing/orders/OL-R-1/route", headers=ops)
    assert r.status_code == 201, r.text
    chain = api.client.get("/v1/orders/OL-R-1/chain", headers=ops).json()
    assert chain["steps"][-1]["type"] == "routing.decided" and chain["status"]["id"] == "routed"
    explained = api.client.get("/v1/routing/decisions/OL-R-1", headers=api.as_("cs")).json()
    assert explained["node"] == r.json()["node"] and explained["alternatives"] and explained["excluded"]
    assert explained["policy_id"] == "routing_default"


def test_an_order_nothing_can_ship_gets_the_reasons_not_a_500(api: Api) -> None:
    ops = api.as_("ops")
    body = order_body(api, "OL-R-2", lines=[{"sku": "NO-SUCH-SKU", "qty": 1, "unit_price": 1.0}])
    assert api.client.post("/v1/orders", json=body, headers=ops).status_code == 201
    r = api.client.post("/v1/routing/orders/OL-R-2/route", headers=ops)
    assert r.status_code == 422 and "cannot be placed" in r.json()["error"]["message"]
    assert api.client.get("/v1/routing/decisions/OL-R-2", headers=ops).status_code == 404
    assert api.client.post("/v1/routing/orders/OL-NONE/route", headers=ops).status_code == 404
