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


def test_a_closed_road_reported_as_a_signal_moves_the_next_decision_and_is_recorded_with_it(api: Api) -> None:
    ops = api.as_("ops")
    assert api.client.post("/v1/orders", json=order_body(api, "OL-R-3"), headers=ops).status_code == 201
    first = api.client.post("/v1/routing/decide", json=order_body(api, "x"), headers=ops).json()
    usual = first["node"]
    now = api.services.clock.now().isoformat()
    signals = [
        {"type": "lane.road_closed", "target": f"{usual}->南京", "value": {"closed": True}, "time": now},
        {"type": "node.backlog", "target": "NO-SUCH-NODE", "value": {"hours": 3}, "time": now},
        {"type": "weather.alert", "target": "南京", "value": {}, "time": now},
    ]
    r = api.client.post("/v1/signals", json=signals, headers=ops)
    assert r.status_code == 207, r.text
    res = r.json()["results"]
    assert res[0]["status"] == "accepted"
    assert res[1]["problems"][0]["field"] == "target" and res[2]["problems"][0]["field"] == "type"
    current = api.client.get("/v1/signals/current", headers=ops).json()
    assert f"{usual}->南京" in current["closed_lanes"]
    routed = api.client.post("/v1/routing/orders/OL-R-3/route", headers=ops).json()
    assert routed["node"] != usual
    assert any(s["type"] == "lane.road_closed" for s in routed["signals"])
    assert any("closed" in reason for reason in routed["excluded"].get(usual, []))


def _views_caught_up(api: Api) -> None:
    import time

    deadline = time.monotonic() + 10
    while api.services.views.checkpoint("order_status") < api.services.store.last_position():
        assert time.monotonic() < deadline, "the status view did not catch up"
        time.sleep(0.02)


def test_a_node_going_down_moves_its_open_orders_in_one_batch_previewed_first(api: Api) -> None:
    ops = api.as_("ops")
    for i in range(5):
        api.client.post("/v1/orders", json=order_body(api, f"OL-B-{i}"), headers=ops)
        assert api.client.post(f"/v1/routing/orders/OL-B-{i}/route", headers=ops).status_code == 201
    node = api.client.get("/v1/routing/decisions/OL-B-0", headers=ops).json()["node"]
    _views_caught_up(api)
    quiet = api.client.post("/v1/routing/reroute", json={}, headers=ops).json()
    assert quiet["considered"] == 5 and quiet["moved"] == 0  # nothing changed: nothing moves
    now = api.services.clock.now().isoformat()
    down = {"type": "node.down", "target": node, "value": {"down": True}, "time": now}
    assert api.client.post("/v1/signals", json=[down], headers=ops).status_code == 200
    before = api.services.store.last_position()
    preview = api.client.post("/v1/routing/reroute", json={"trigger": "equipment_down"}, headers=ops).json()
    assert preview["moved"] == 5 and all(m["from_node"] == node and m["node"] != node for m in preview["moves"])
    assert api.services.store.last_position() == before  # a preview writes nothing
    applied = api.client.post(
        "/v1/routing/reroute", json={"trigger": "equipment_down", "apply": True}, headers=ops
    ).json()
    assert applied["applied"] and applied["moved"] == 5
    chain = api.client.get("/v1/orders/OL-B-3/chain", headers=ops).json()
    assert chain["steps"][-1]["type"] == "routing.rerouted" and chain["steps"][-1]["data"]["node"] != node
    bad = api.client.post("/v1/routing/reroute", json={"trigger": "aliens"}, headers=ops)
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "trigger"


def test_a_published_routing_profile_sets_the_weights_and_its_filters_are_never_traded_away(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    body = order_body(api, "x")
    usual = api.client.post("/v1/routing/decide", json=body, headers=ops).json()["node"]
    profile = {
        "kind": "routing_profile",
        "document": {"weights": {"cost": 1.0, "lateness": 8.0}, "exclude_nodes": [usual]},
        "input_schema": {"type": "object", "properties": {}},
        "note": "the usual node is under audit",
    }
    r = api.client.post("/v1/policies/routing_default/versions", json=profile, headers=ops)
    assert r.status_code == 201, r.text
    assert (
        api.client.post("/v1/policies/routing_default/publish", json={"version": 1}, headers=admin).status_code == 200
    )
    decided = api.client.post("/v1/routing/decide", json=body, headers=ops).json()
    assert decided["node"] != usual and decided["policy_version"] == 1
    assert all(leg["node"] != usual for alt in decided["alternatives"] for leg in alt["legs"])
    bad = {**profile, "document": {"weights": {"speed": 2.0}, "node_kinds": ["castle"]}}
    refused = api.client.post("/v1/policies/routing_default/versions", json=bad, headers=ops)
    fields = {p["field"] for p in refused.json()["error"]["problems"]}
    assert refused.status_code == 422 and {"document.weights.speed", "document.node_kinds"} <= fields


def test_routing_reserves_the_lines_at_the_chosen_node_and_cancelling_releases_them(api: Api) -> None:
    ops = api.as_("ops")
    api.client.post("/v1/orders", json=order_body(api, "OL-RS-1"), headers=ops)
    node = api.client.post("/v1/routing/orders/OL-RS-1/route", headers=ops).json()["node"]
    reserved = api.client.get("/v1/routing/reservations", headers=ops).json()["reserved"]
    lines = order_body(api, "x")["lines"]
    assert reserved[node] == {line["sku"]: line["qty"] for line in lines}
    cancel = {
        "id": "OL-RS-1-c",
        "type": "order.cancelled",
        "source": "t",
        "oid": "OL-RS-1",
        "time": api.services.clock.now().isoformat(),
        **copy.deepcopy(dict(api.services.dictionary.types["order.cancelled"].example)),
    }
    assert api.client.post("/v1/events", json=[cancel], headers=ops).status_code == 200
    assert api.client.get("/v1/routing/reservations", headers=ops).json()["reserved"] == {}


def test_a_node_that_picks_short_is_recorded_and_the_order_is_re_sourced_at_once_elsewhere(api: Api) -> None:
    ops = api.as_("ops")
    api.client.post("/v1/orders", json=order_body(api, "OL-RJ-1"), headers=ops)
    first = api.client.post("/v1/routing/orders/OL-RJ-1/route", headers=ops).json()["node"]
    r = api.client.post("/v1/routing/orders/OL-RJ-1/reject", json={"node": first, "reason": "short_pick"}, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "routing.rerouted" and r.json()["node"] != first
    types = [s["type"] for s in api.client.get("/v1/orders/OL-RJ-1/chain", headers=ops).json()["steps"]]
    assert types[-2:] == ["node.rejected", "routing.rerouted"]
    reserved = api.client.get("/v1/routing/reservations", headers=ops).json()["reserved"]
    assert first not in reserved and r.json()["node"] in reserved
    again = api.client.post("/v1/routing/orders/OL-RJ-1/route", headers=ops).json()
    assert again["node"] != first  # a node that turned the order down is not asked again
    bad = api.client.post("/v1/routing/orders/OL-RJ-1/reject", json={"node": first, "reason": "bored"}, headers=ops)
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "data.reason"


def test_a_soft_constraint_in_the_profile_shifts_the_choice_by_its_penalty_and_shows_in_the_breakdown(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    body = order_body(api, "x")
    usual = api.client.post("/v1/routing/decide", json=body, headers=ops).json()
    profile = {
        "kind": "routing_profile",
        "document": {
            "weights": {"cost": 1.0},
            "soft": [{"name": "spare the usual node", "node_ids": [usual["node"]], "penalty": 1000}],
        },
        "input_schema": {"type": "object", "properties": {}},
    }
    assert api.client.post("/v1/policies/routing_default/versions", json=profile, headers=ops).status_code == 201
    api.client.post("/v1/policies/routing_default/publish", json={"version": 1}, headers=admin)
    shifted = api.client.post("/v1/routing/decide", json=body, headers=ops).json()
    assert shifted["node"] != usual["node"] and shifted["breakdown"]["soft"] == 0
    penalised = [a for a in shifted["alternatives"] if a["legs"][0]["node"] == usual["node"]]
    assert not penalised or penalised[0]["breakdown"]["soft"] == 1000
    bad = {**profile, "document": {"weights": {"cost": 1.0}, "soft": [{"penalty": "high", "colour": "red"}]}}
    r = api.client.post("/v1/policies/routing_default/versions", json=bad, headers=ops)
    assert r.status_code == 422
    assert {"document.soft[0].penalty", "document.soft[0].colour"} <= {
        p["field"] for p in r.json()["error"]["problems"]
    }


def test_a_budget_goal_over_its_limit_makes_cost_count_more_for_the_orders_it_covers(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    profile = {
        "kind": "routing_profile",
        "document": {
            "weights": {"cost": 1.0},
            # A deliberately tight goal, so the first routed order already puts it over.
            "budgets": [{"id": "east_new", "label": "华东新客获客成本", "max_avg_cost": 1, "new_customers": True}],
        },
        "input_schema": {"type": "object", "properties": {}},
        "note": "East-China new-customer acquisition cost goal",
    }
    assert api.client.post("/v1/policies/routing_default/versions", json=profile, headers=ops).status_code == 201
    published = api.client.post("/v1/policies/routing_default/publish", json={"version": 1}, headers=admin)
    assert published.status_code == 200
    body = order_body(api, "OL-BG-1")
    body["customer"]["new_customer"] = True
    assert api.client.post("/v1/orders", json=body, headers=ops).status_code == 201
    first = api.client.post("/v1/routing/orders/OL-BG-1/route", headers=ops).json()
    assert first["breakdown"]["budget"] == 0
    assert any("华东新客获客成本" in line and "within budget" in line for line in first["reasons"])
    again = api.client.post("/v1/routing/decide", json=body, headers=ops).json()
    assert again["breakdown"]["budget"] > 0
    assert any("cost counts ×" in line for line in again["reasons"])
    old = order_body(api, "x")
    old["customer"]["new_customer"] = False
    assert api.client.post("/v1/routing/decide", json=old, headers=ops).json()["breakdown"]["budget"] == 0


def test_the_network_is_served_for_the_console_map(api: Api) -> None:
    doc = api.client.get("/v1/routing/network", headers=api.as_("cs")).json()
    assert len(doc["nodes"]) == 50 and {"lat", "lng", "orders_per_hour", "kind"} <= set(doc["nodes"][0])
    assert {s["id"] for s in doc["services"]} >= {"same_city", "next_day"}
    assert api.client.get("/v1/routing/network").status_code == 401
