"""The manufacturing pack end to end over HTTP: a sales order change recomputes its kitting rate; a shortage
still open after 72 hours expedites the purchase orders and tells the customer the new expected date."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from orderloom.playbook import PlaybookRunner
from orderloom.status.monitors.engine import MonitorEngine
from orderloom.store import iter_log
from tests.integration.conftest import Api
from tests.integration.pack_rig import T0, PackRig, event, order_body

BOM = [{"sku": "MOTOR-2K", "per_unit": 1}, {"sku": "SEAL-KIT", "per_unit": 2}]
CHANGE = {"plant": "SZ01", "sku": "PUMP-200", "qty": 50, "need_by": "2026-03-10T00:00:00Z", "bom": BOM}
# 30 motors on hand, 40 more due 2026-03-14 (after the need date): 30/50 of the motors are covered in time.
SHORT = {
    "plant": "SZ01",
    "stock": {"MOTOR-2K": 30, "SEAL-KIT": 120},
    "inbound": {"MOTOR-2K": [{"po": "PO-7781", "qty": 40, "eta": "2026-03-14T00:00:00Z"}]},
}
COVERED = {**SHORT, "stock": {"MOTOR-2K": 50, "SEAL-KIT": 120}}


def send(api: Api, *events: dict[str, Any]) -> None:
    r = api.client.post("/v1/events", json={"events": list(events)}, headers=api.as_("ops"))
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def chain_types(api: Api, oid: str, role: str = "ops") -> list[dict[str, Any]]:
    r = api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_(role))
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["steps"]
    return events


def test_installing_publishes_the_playbooks_once_and_is_audited(tmp_path: Path) -> None:
    rig = PackRig(tmp_path)
    with rig.api() as api:
        listed = api.client.get("/v1/packs", headers=api.as_("ops")).json()["packs"]
        assert {p["name"]: p["installed"] for p in listed}["manufacturing"] is None
        assert api.client.post("/v1/packs/manufacturing/install", headers=api.as_("ops")).status_code == 403
        assert api.client.get("/v1/packs", headers=api.as_("consumer")).status_code == 403
        missing = api.client.post("/v1/packs/bakery/install", headers=api.as_("admin"))
        assert missing.status_code == 404 and "manufacturing" in missing.json()["error"]["message"]

        first = api.client.post("/v1/packs/manufacturing/install", headers=api.as_("admin")).json()
        assert first["changed"] and first["restart_needed"]
        assert [(p["name"], p["action"]) for p in first["policies"]] == [
            ("mfg_kitting", "published"),
            ("mfg_shortage_expedite", "published"),
        ]
        assert "mfg.sales_order_changed" in first["not_loaded_yet"]
        again = api.client.post("/v1/packs/manufacturing/install", headers=api.as_("admin")).json()
        assert not again["changed"] and {p["action"] for p in again["policies"]} == {"already_published"}
        audit = [e for e in iter_log(api.services.store) if e.type == "pack.installed"]
        assert len(audit) == 1 and audit[0].actor == f"key:{api.services.keys.authenticate(rig.keys['admin']).key_id}"

        # The playbooks are ordinary versioned policies: served now, and they can be rolled back.
        state = api.client.get("/v1/policies/mfg_kitting", headers=api.as_("ops")).json()
        assert state["stable"] == 1
        # The event types are not in this process yet: they load at the next start.
        api.client.post("/v1/orders", json=order_body("OL-MFG-0"), headers=api.as_("ops"))
        early = api.client.post(
            "/v1/events",
            json={"events": [event("c0", "mfg.sales_order_changed", "OL-MFG-0", CHANGE)]},
            headers=api.as_("ops"),
        )
        assert early.json()["rejected"] == 1

    with rig.api() as api:
        shown = api.client.get("/v1/packs/manufacturing", headers=api.as_("admin")).json()
        assert shown["installed"]["version"] == "1.0.0"
        assert [m["id"] for m in shown["contents"]["monitors"]] == ["kitting_shortage"]
        listed = api.client.get("/v1/monitors", headers=api.as_("ops")).json()
        assert "kitting_shortage" in str(listed) and "manufacturing/monitors.yaml" in str(listed)
        assert (
            api.client.post("/v1/packs/manufacturing/install", headers=api.as_("admin")).json()["restart_needed"]
            is False
        )


def test_a_shortage_over_72_hours_expedites_and_revises_the_customers_date(tmp_path: Path) -> None:
    rig = PackRig(tmp_path)
    rig.install("manufacturing")
    with rig.api() as api:
        svc = api.services
        for oid in ("OL-MFG-1", "OL-MFG-2"):
            assert api.client.post("/v1/orders", json=order_body(oid), headers=api.as_("ops")).status_code == 201
            send(api, event(f"{oid}-s1", "mfg.supply_reported", oid, SHORT))
            send(api, event(f"{oid}-c1", "mfg.sales_order_changed", oid, CHANGE))
        PlaybookRunner(svc).drain()

        kitting = [e for e in chain_types(api, "OL-MFG-1") if e["type"] == "mfg.kitting_computed"]
        assert [(k["data"]["kitting_rate"], k["data"]["short_components"]) for k in kitting] == [(0.6, ["MOTOR-2K"])]
        started = [e for e in chain_types(api, "OL-MFG-1") if e["type"] == "mfg.shortage_started"]
        assert started[0]["data"]["full_kit_by"] == "2026-03-14T00:00:00Z"

        # Order 2's motors arrive from another plant's stock after a day: the shortage clears in time.
        rig.clock.advance(timedelta(hours=24))
        send(api, event("OL-MFG-2-s2", "mfg.supply_reported", "OL-MFG-2", COVERED, T0 + timedelta(hours=24)))
        send(api, event("OL-MFG-2-c2", "mfg.sales_order_changed", "OL-MFG-2", CHANGE, T0 + timedelta(hours=24)))
        PlaybookRunner(svc).drain()
        assert "mfg.shortage_cleared" in [e["type"] for e in chain_types(api, "OL-MFG-2")]

        rig.clock.advance(timedelta(hours=49))  # 73 h after the shortage started
        MonitorEngine(svc).scan()
        PlaybookRunner(svc).drain()

        commands = [e for e in iter_log(svc.store) if e.type == "command.issued"]
        assert [(c.oid, c.data["command"], c.data["args"]["components"]) for c in commands] == [
            ("OL-MFG-1", "expedite", ["MOTOR-2K"])
        ]
        tasks = api.client.get("/v1/tasks", params={"team": "purchasing"}, headers=api.as_("ops")).json()["tasks"]
        assert [(t["oid"], t["priority"]) for t in tasks] == [("OL-MFG-1", "high")]

        # The customer sees the new date (PO due 03-14 + 2 days of assembly) and nothing of the machinery.
        mine = chain_types(api, "OL-MFG-1", role="consumer")
        revised = [e for e in mine if e["type"] == "order.promise_revised"]
        assert revised and revised[0]["data"]["expected_by"] == "2026-03-16T00:00:00Z"
        assert "2026-03-16" in revised[0]["data"]["message"]["en"]
        assert not {"command.issued", "mfg.kitting_computed", "monitor.finding_opened"} & {e["type"] for e in mine}
        assert "order.promise_revised" not in [e["type"] for e in chain_types(api, "OL-MFG-2")]
