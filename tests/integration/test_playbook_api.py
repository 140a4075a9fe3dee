"""The seed case over HTTP on a real (SQLite) store: a stalled, too-warm cold-chain order is compensated
and customer service is told to call first; the task is then worked through the API."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.playbook import PlaybookRunner, install_default_playbooks
from orderloom.store import iter_log
from tests.integration.conftest import Api
from tests.unit._support import at
from tests.unit.test_playbook_rig import extra_dictionary, open_finding

OID = "OL-PB-API-1"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'pb.db'}", dictionary_paths=extra_dictionary()))
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "finance", "ops", "admin")}
    keys["consumer"] = svc.keys.create("consumer", "C-1")[0]
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Api(client, svc, keys)
    svc.close()


def place_cold_order(api: Api, temperature_c: float) -> None:
    d = api.services.dictionary
    order: dict[str, Any] = copy.deepcopy(dict(d.types["order.placed"].example["data"]))
    order.pop("source_refs", None)
    order.update(oid=OID, time=at(0))
    order["customer"]["id"] = "C-1"
    r = api.client.post("/v1/orders", json=order, headers=api.as_("ops"))
    assert r.status_code == 201, r.text
    temp = copy.deepcopy(dict(d.types["coldchain.temperature_recorded"].example))
    temp["data"].update(shipment=f"{OID}-S1", temperature_c=temperature_c, limit_c=6.0)
    event = {"id": "temp-1", "type": "coldchain.temperature_recorded", "source": "logger", "oid": OID, "time": at(60)}
    r = api.client.post("/v1/events", json={"events": [{**event, **temp}]}, headers=api.as_("ops"))
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def test_a_too_warm_stall_is_compensated_and_the_cs_task_is_worked_over_http(api: Api) -> None:
    svc, cs, ops = api.services, api.as_("cs"), api.as_("ops")
    install_default_playbooks(svc)
    place_cold_order(api, 9.4)
    open_finding(svc, OID)
    # The app runs a runner in the background too; a second one here is safe and makes the test deterministic.
    PlaybookRunner(svc).drain()

    commands = [e for e in iter_log(svc.store) if e.type == "command.issued"]
    assert [(c.oid, c.data["command"]) for c in commands] == [(OID, "start_compensation")]
    chain = api.client.get(f"/v1/orders/{OID}/chain", headers=ops).json()
    assert "command.issued" in str(chain) and "playbook.run_finished" in str(chain)

    r = api.client.get("/v1/tasks", params={"team": "cs", "state": "open"}, headers=cs)
    assert r.status_code == 200, r.text
    [task] = r.json()["tasks"]
    assert task["oid"] == OID and task["priority"] == "high" and not task["overdue"]
    assert task["evidence"]["temperature_c"] == 9.4

    r = api.client.post(f"/v1/tasks/{task['task_id']}", json={"state": "in_progress", "owner": "王芳"}, headers=cs)
    assert r.status_code == 200 and r.json()["state"] == "in_progress" and r.json()["owner"] == "王芳", r.text
    r = api.client.post(f"/v1/tasks/{task['task_id']}", json={"state": "done", "comment": "客户已接受补偿"}, headers=cs)
    assert r.status_code == 200 and r.json()["comments"][0]["text"] == "客户已接受补偿"
    PlaybookRunner(svc).drain()
    done = api.client.get("/v1/tasks", params={"state": "done"}, headers=ops).json()["tasks"]
    assert [t["task_id"] for t in done] == [task["task_id"]]

    runs = api.client.get("/v1/playbooks/runs", params={"oid": OID}, headers=ops).json()["runs"]
    assert [(r["playbook"], r["outcome"]) for r in runs] == [("coldchain_stall", "done")]
    assert {s["step"]: s.get("branch") for s in runs[0]["steps"]}["too_warm"] == "then"
    health = api.client.get("/v1/playbooks/health", headers=ops).json()
    assert (health["started"], health["done"], health["success_rate"]) == (1, 1, 1.0)


def test_task_changes_are_validated_and_roles_are_enforced(api: Api) -> None:
    svc = api.services
    install_default_playbooks(svc)
    place_cold_order(api, 4.2)
    open_finding(svc, OID)
    # No explicit drain here: the runner the app's pipeline started picks the finding up by itself.
    tasks: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not tasks and time.monotonic() < deadline:
        time.sleep(0.05)
        tasks = api.client.get("/v1/tasks", params={"team": "ops"}, headers=api.as_("ops")).json()["tasks"]
    [task] = tasks
    url = f"/v1/tasks/{task['task_id']}"

    bad = api.client.post(url, json={"state": "finished"}, headers=api.as_("ops"))
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "state"
    assert (
        api.client.post("/v1/tasks/T0000000000000000", json={"state": "done"}, headers=api.as_("ops")).status_code
        == 404
    )
    assert api.client.post(url, content=b"not json", headers=api.as_("ops")).status_code == 400

    assert api.client.post(url, json={"state": "done"}, headers=api.as_("finance")).status_code == 403
    assert api.client.get("/v1/tasks", headers=api.as_("consumer")).status_code == 403
    assert api.client.get("/v1/tasks", params={"team": "ops"}, headers=api.as_("finance")).status_code == 403
    assert api.client.get("/v1/tasks", headers=api.as_("finance")).json()["tasks"] == []  # only finance's own
    assert api.client.get(url, headers=api.as_("finance")).status_code == 404
    assert api.client.get("/v1/playbooks/health", headers=api.as_("consumer")).status_code == 403
    assert api.client.get("/v1/tasks", params={"state": "lost"}, headers=api.as_("ops")).status_code == 422
