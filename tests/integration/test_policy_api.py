"""The marketing director's rule without code: save, test, gray-release, decide, roll back over HTTP."""

from __future__ import annotations

import copy
from typing import Any

from orderloom.policy import load_example
from tests.integration.conftest import Api

NAME = "douyin_first_order"


def version_body(threshold: str = ">= 299") -> dict[str, Any]:
    ex = load_example(NAME)
    doc = copy.deepcopy(ex.document)
    for node in doc["nodes"]:
        for rule in node.get("content", {}).get("rules", []):
            for k, cell in list(rule.items()):
                if cell == ">= 299":
                    rule[k] = threshold
    tests = [t.as_dict() for t in ex.tests] if threshold == ">= 299" else []
    return {"kind": ex.kind, "document": doc, "input_schema": ex.input_schema, "tests": tests, "note": threshold}


def test_a_policy_is_saved_published_decided_gray_released_and_rolled_back(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    r = api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(), headers=ops)
    assert r.status_code == 201 and r.json()["version"] == 1, r.text
    tested = api.client.post(f"/v1/policies/{NAME}/versions/1/test", headers=ops).json()
    assert tested["passed"] and tested["results"]
    assert api.client.post(f"/v1/policies/{NAME}/publish", json={"version": 1}, headers=ops).status_code == 403
    assert api.client.post(f"/v1/policies/{NAME}/publish", json={"version": 1}, headers=admin).status_code == 200
    case = load_example(NAME).tests[0]
    decided = api.client.post(f"/v1/policies/{NAME}/decide", json={"unit": "OL-1", "input": case.input}, headers=ops)
    assert decided.status_code == 200 and decided.json()["version"] == 1
    assert all(decided.json()["result"].get(k) == v for k, v in case.expect.items())
    r = api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(">= 199"), headers=ops)
    assert r.json()["version"] == 2
    changes = api.client.get(f"/v1/policies/{NAME}/diff", params={"a": 1, "b": 2}, headers=ops).json()["changes"]
    assert any(">= 299" in c and ">= 199" in c for c in changes), changes
    state = api.client.post(f"/v1/policies/{NAME}/publish", json={"version": 2, "percent": 10}, headers=admin).json()
    assert state["rollout"] == {"stable": 1, "candidate": 2, "percent": 10.0}
    arms = [
        api.client.post(
            f"/v1/policies/{NAME}/decide", json={"unit": f"OL-{i}", "input": case.input}, headers=ops
        ).json()["version"]
        for i in range(200)
    ]
    assert 5 <= arms.count(2) <= 45  # about 10% of units see the candidate
    api.client.post(f"/v1/policies/{NAME}/rollback", json={"version": 1, "reason": "complaints"}, headers=admin)
    after = api.client.get(f"/v1/policies/{NAME}", headers=ops).json()
    assert after["stable"] == 1 and after["rollout"] is None
    assert [h["type"] for h in after["history"]][-1] == "policy.rolled_back"


def test_a_broken_policy_is_refused_with_the_place_and_reason(api: Api) -> None:
    r = api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(">= 299 +"), headers=api.as_("ops"))
    assert r.status_code == 422
    problem = r.json()["error"]["problems"][0]
    assert problem["field"] and problem["message"]
    bad_input = api.client.post(f"/v1/policies/{NAME}/versions", json={"kind": "decision"}, headers=api.as_("ops"))
    assert bad_input.status_code == 422 and bad_input.json()["error"]["problems"][0]["field"] == "document"
    assert api.client.get(f"/v1/policies/{NAME}", headers=api.as_("ops")).status_code == 404


def test_a_decision_for_an_order_is_recorded_on_it_and_counted_in_the_experiment(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(), headers=ops)
    api.client.post(f"/v1/policies/{NAME}/publish", json={"version": 1}, headers=admin)
    placed = copy.deepcopy(dict(api.services.dictionary.types["order.placed"].example["data"]))
    placed.update(oid="OL-AB-1", time="2026-05-01T08:00:00+08:00")
    placed["customer"]["id"] = "C-1"
    assert api.client.post("/v1/orders", json=placed, headers=ops).status_code == 201
    case = load_example(NAME).tests[0]
    r = api.client.post(
        f"/v1/policies/{NAME}/decide", json={"unit": "C-1", "oid": "OL-AB-1", "input": case.input}, headers=ops
    )
    assert r.status_code == 200 and r.json()["recorded"]["status"] == "accepted", r.text
    chain = api.client.get("/v1/orders/OL-AB-1/chain", headers=ops).json()
    assert [s["type"] for s in chain["steps"]][-1] == "policy.decided"
    rep = api.client.get(f"/v1/policies/{NAME}/experiment", headers=ops).json()
    assert rep["orders"] == {"stable": 1, "candidate": 0}
    unknown = api.client.post(
        f"/v1/policies/{NAME}/decide", json={"unit": "x", "oid": "OL-NOPE", "input": case.input}, headers=ops
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["problems"][0]["rule"] == "known_order"


def test_shadow_mode_replays_recorded_decisions_through_a_draft_and_reports_what_would_change(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(), headers=ops)
    api.client.post(f"/v1/policies/{NAME}/publish", json={"version": 1}, headers=admin)
    placed = copy.deepcopy(dict(api.services.dictionary.types["order.placed"].example["data"]))
    inputs = [
        {"channel": "douyin", "customer": {"first_order": True}, "order_total": total} for total in (250.0, 350.0)
    ]
    for i, data in enumerate(inputs):
        body = {**copy.deepcopy(placed), "oid": f"OL-SH-{i}", "time": "2026-05-01T08:00:00+08:00"}
        body["customer"]["id"] = f"C-{i}"
        body.pop("source_refs", None)  # one source order number cannot name two orders
        assert api.client.post("/v1/orders", json=body, headers=ops).status_code == 201
        r = api.client.post(
            f"/v1/policies/{NAME}/decide", json={"unit": f"C-{i}", "oid": f"OL-SH-{i}", "input": data}, headers=ops
        )
        assert r.status_code == 200, r.text
    # A draft that lowers the threshold to ¥199 would change the ¥250 order only; nothing is published.
    api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(">= 199"), headers=ops)
    rep = api.client.get(f"/v1/policies/{NAME}/versions/2/shadow", headers=ops).json()
    assert rep["compared"] == 2 and rep["differ"] == 1 and rep["examples"][0]["oid"] == "OL-SH-0"
    assert api.client.get(f"/v1/policies/{NAME}", headers=ops).json()["stable"] == 1
    bad = api.client.get(f"/v1/policies/{NAME}/versions/2/shadow", params={"since": "soon"}, headers=ops)
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "since"


def test_a_shadow_version_answers_beside_live_decisions_without_acting(api: Api) -> None:
    ops, admin = api.as_("ops"), api.as_("admin")
    api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(), headers=ops)
    api.client.post(f"/v1/policies/{NAME}/publish", json={"version": 1}, headers=admin)
    api.client.post(f"/v1/policies/{NAME}/versions", json=version_body(">= 199"), headers=ops)
    state = api.client.post(f"/v1/policies/{NAME}/shadow", json={"version": 2}, headers=ops).json()
    assert state["shadow"] == 2 and state["stable"] == 1
    placed = copy.deepcopy(dict(api.services.dictionary.types["order.placed"].example["data"]))
    placed.pop("source_refs", None)
    for i, total in enumerate((250.0, 350.0)):
        body = {**copy.deepcopy(placed), "oid": f"OL-LS-{i}", "time": "2026-05-01T08:00:00+08:00"}
        body["customer"]["id"] = f"C-{i}"
        api.client.post("/v1/orders", json=body, headers=ops)
        data = {"channel": "douyin", "customer": {"first_order": True}, "order_total": total}
        r = api.client.post(
            f"/v1/policies/{NAME}/decide", json={"unit": f"C-{i}", "oid": f"OL-LS-{i}", "input": data}, headers=ops
        )
        assert r.json()["version"] == 1  # live traffic is still served by the published version
    rep = api.client.get(f"/v1/policies/{NAME}/shadow/live", headers=ops).json()
    assert (
        rep["shadows"] == [{**rep["shadows"][0], "version": 2, "compared": 2, "differ": 1}]
        and rep["shadows"][0]["examples"][0]["oid"] == "OL-LS-0"
    )
    stopped = api.client.post(f"/v1/policies/{NAME}/shadow", json={"version": None}, headers=ops).json()
    assert stopped["shadow"] is None
