"""Monitors over HTTP on SQLite: definitions, a stall opened and resolved on a real order, roles, root causes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.status.monitors.engine import MonitorEngine
from tests.integration.conftest import Api

OID = "OL-MON-API-1"


def _event(api: Api, etype: str, eid: str, at: datetime, **data: Any) -> dict[str, Any]:
    ex = copy.deepcopy(dict(api.services.dictionary.types[etype].example))
    ex["data"].pop("shipment", None)
    ex["data"].update(data)
    return {"id": eid, "type": etype, "source": "tms/test", "oid": OID, "time": format_time(at), **ex}


def _place(api: Api, at: datetime) -> None:
    body = copy.deepcopy(dict(api.services.dictionary.types["order.placed"].example["data"]))
    body.pop("source_refs", None)
    body["customer"]["id"] = "C-1"
    body.update(oid=OID, time=format_time(at))
    r = api.client.post("/v1/orders", json=body, headers=api.as_("ops"))
    assert r.status_code == 201, r.text


def _post(api: Api, *events: dict[str, Any]) -> None:
    r = api.client.post("/v1/events", json={"events": list(events)}, headers=api.as_("ops"))
    assert r.status_code == 200, r.text


def test_a_stalled_line_haul_is_found_listed_and_resolved_over_http(api: Api) -> None:
    now = datetime.now(UTC)
    _place(api, now - timedelta(hours=12))
    _post(
        api,
        _event(api, "payment.authorized", "pay", now - timedelta(hours=11, minutes=55)),
        _event(api, "linehaul.in_transit", "lh-1", now - timedelta(hours=6)),
    )
    MonitorEngine(api.services).scan()
    ops, cs = api.as_("ops"), api.as_("cs")

    r = api.client.get("/v1/monitors/findings", params={"state": "open"}, headers=cs)
    assert r.status_code == 200, r.text
    [finding] = r.json()["findings"]
    assert finding["finding_id"] == f"linehaul_stall:{OID}:1" and finding["oid"] == OID
    assert finding["evidence"]["event_id"] == "lh-1" and finding["evidence"]["cold_chain"] is True
    by_order = api.client.get("/v1/monitors/findings", params={"oid": OID}, headers=ops).json()["findings"]
    assert [f["finding_id"] for f in by_order] == [finding["finding_id"]]
    chain = api.client.get(f"/v1/orders/{OID}/chain", headers=ops).text
    assert "monitor.finding_opened" in chain

    # The next position report was taken 3 hours ago but uploaded only now.
    _post(api, _event(api, "linehaul.in_transit", "lh-2", now - timedelta(hours=3)))
    MonitorEngine(api.services).scan()
    r = api.client.get("/v1/monitors/findings", params={"state": "resolved", "monitor": "linehaul_stall"}, headers=ops)
    [resolved] = r.json()["findings"]
    assert resolved["resolved_by"]["id"] == "lh-2" and resolved["state"] == "resolved"
    assert api.client.get("/v1/monitors/findings", params={"state": "open"}, headers=ops).json()["count"] == 0


def test_monitor_definitions_and_root_causes_are_served_to_staff_only(api: Api) -> None:
    r = api.client.get("/v1/monitors", headers=api.as_("admin"))
    assert r.status_code == 200, r.text
    by_id = {m["id"]: m for m in r.json()["monitors"]}
    assert by_id["linehaul_stall"]["within_s"] == 4 * 3600 and by_id["linehaul_stall"]["kind"] == "stall"
    assert by_id["forward_wh_check_missing"]["only_if"] == ["forward_wh.received"]

    r = api.client.get("/v1/monitors/forward_wh_check_missing/root-causes", headers=api.as_("ops"))
    assert r.status_code == 200, r.text
    assert r.json()["causes"] == [] and r.json()["settings"]["correction"] == "holm"
    bh = api.client.get(
        "/v1/monitors/forward_wh_check_missing/root-causes", params={"correction": "bh"}, headers=api.as_("cs")
    )
    assert bh.status_code == 200 and bh.json()["settings"]["correction"] == "bh"

    unknown = api.client.get("/v1/monitors/teleport_stall/root-causes", headers=api.as_("ops"))
    assert unknown.status_code == 404 and "teleport_stall" in unknown.json()["error"]["message"]
    wrong = api.client.get(
        "/v1/monitors/linehaul_stall/root-causes", params={"correction": "bonferroni"}, headers=api.as_("ops")
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["problems"][0]["field"] == "correction"
    bad_state = api.client.get("/v1/monitors/findings", params={"state": "lost"}, headers=api.as_("ops"))
    assert bad_state.status_code == 422
    for role in ("consumer", "finance"):
        for path in ("/v1/monitors", "/v1/monitors/findings", "/v1/monitors/linehaul_stall/root-causes"):
            assert api.client.get(path, headers=api.as_(role)).status_code == 403, (role, path)
    assert api.client.get("/v1/monitors").status_code == 401
