"""The cold-chain retail pack end to end over HTTP: a store's chilled-yoghurt orders surge while its smart fridge
reads too warm, so online ordering for that store is paused (new orders refused with the reason) and a repair
work order is opened; ops resume the store afterwards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from orderloom.playbook import PlaybookRunner
from orderloom.store import iter_log
from tests.integration.conftest import Api
from tests.integration.pack_rig import T0, PackRig, order_body

STORE = "GZ-TH-ST"  # a store of the shipped network with cold storage and yoghurt on its shelves
CHANNEL = f"store:{STORE}"
YOGHURT = [{"sku": "YOG-500G", "name": "低温原味酸奶 500g", "qty": 2, "unit_price": 12.9, "cold_chain": True}]


def place(api: Api, oid: str, minutes: float, channel: str = CHANNEL) -> Any:
    body = order_body(
        oid, channel=channel, lines=YOGHURT, total=25.8, time=(T0 + timedelta(minutes=minutes)).isoformat()
    )
    return api.client.post("/v1/orders", json=body, headers=api.as_("ops"))


def report_fridge(api: Api, celsius: float, units: int) -> None:
    at = api.services.clock.now().isoformat()  # a live reading: its 30-minute time-to-live starts now
    signals = [
        {"type": "fridge.temperature", "target": STORE, "value": {"fridge": "FR-07", "celsius": celsius}, "time": at},
        {
            "type": "fridge.stock",
            "target": STORE,
            "value": {"fridge": "FR-07", "sku": "YOG-500G", "units": units},
            "time": at,
        },
    ]
    r = api.client.post("/v1/signals", json=signals, headers=api.as_("ops"))
    assert r.status_code == 200, r.text


def test_a_surge_at_a_store_with_a_warm_fridge_pauses_its_online_ordering_and_opens_a_repair(tmp_path: Path) -> None:
    rig = PackRig(tmp_path)
    report = rig.install("coldchain")
    assert report["signals"] == ["fridge.temperature", "fridge.stock"] and report["restart_needed"]
    with rig.api() as api:
        svc = api.services
        rig.clock.advance(timedelta(minutes=50))
        report_fridge(api, celsius=11.5, units=30)
        for n in range(4):  # four orders in the hour: no surge yet, nobody reads the fridge
            assert place(api, f"OL-CC-{n}", minutes=10 * n).status_code == 201
        PlaybookRunner(svc).drain()
        assert not [e for e in iter_log(svc.store) if e.type == "command.issued"]
        assert place(api, "OL-CC-4", minutes=45).status_code == 201  # the fifth within the hour: a surge
        PlaybookRunner(svc).drain()

        [pause] = [e for e in iter_log(svc.store) if e.type == "command.issued"]
        assert (pause.oid, pause.data["command"]) == (f"intake.{CHANNEL}", "pause_intake")
        assert pause.data["args"]["temperature_c"] == 11.5 and pause.data["args"]["stock_units"] == 30
        tasks = api.client.get("/v1/tasks", params={"team": "maintenance"}, headers=api.as_("ops")).json()["tasks"]
        assert [(t["priority"], t["evidence"]["fridge"]) for t in tasks] == [("urgent", "FR-07")]

        refused = place(api, "OL-CC-5", minutes=48)
        assert refused.status_code == 422
        [problem] = refused.json()["error"]["problems"]
        assert (problem["field"], problem["rule"]) == ("channel", "intake_paused")
        assert "11.5" in problem["message"] and "FR-07" in problem["message"]
        assert api.client.get("/v1/orders/OL-CC-5/chain", headers=api.as_("ops")).status_code == 404
        assert place(api, "OL-CC-6", minutes=48, channel="douyin").status_code == 201  # other channels go on

        # More orders for the store (e.g. from before the pause, counted late) do not pause it or dispatch twice.
        PlaybookRunner(svc).drain()
        assert len([e for e in iter_log(svc.store) if e.type == "command.issued"]) == 1

        assert api.client.post(f"/v1/intake/{CHANNEL}/resume", headers=api.as_("cs")).status_code == 403
        resumed = api.client.post(f"/v1/intake/{CHANNEL}/resume", headers=api.as_("ops"))
        assert resumed.status_code == 200, resumed.text
        assert place(api, "OL-CC-7", minutes=49).status_code == 201


def test_a_surge_with_the_fridge_in_range_pauses_nothing(tmp_path: Path) -> None:
    rig = PackRig(tmp_path)
    rig.install("coldchain")
    with rig.api() as api:
        rig.clock.advance(timedelta(minutes=50))
        report_fridge(api, celsius=4.0, units=8)
        for n in range(6):
            assert place(api, f"OL-CK-{n}", minutes=5 * n).status_code == 201
        PlaybookRunner(api.services).drain()
        assert not [e for e in iter_log(api.services.store) if e.type == "command.issued"]
        # Stock is low for the surge though: the store is asked to replenish, once for this surge.
        tasks = api.client.get("/v1/tasks", headers=api.as_("ops")).json()["tasks"]
        assert [t["team"] for t in tasks] == ["store_ops"] and "8" in tasks[0]["title"]["en"]
        assert place(api, "OL-CK-9", minutes=40).status_code == 201
