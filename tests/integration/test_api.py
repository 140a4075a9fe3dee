"""The HTTP API end to end on SQLite: orders, events, chains by role, verification, errors."""

from __future__ import annotations

import copy
from typing import Any

from tests.integration.conftest import Api

T0 = "2026-05-01T08:00:00+08:00"


def order_body(api: Api, oid: str = "OL-T-1", customer: str = "C-1", **over: Any) -> dict[str, Any]:
    data = copy.deepcopy(dict(api.services.dictionary.types["order.placed"].example["data"]))
    data["customer"]["id"] = customer
    data.update(oid=oid, time=T0, **over)
    return data


def event(api: Api, etype: str, n: int, oid: str = "OL-T-1", hour: int = 9, **data: Any) -> dict[str, Any]:
    ex = copy.deepcopy(dict(api.services.dictionary.types[etype].example))
    ex["data"].pop("shipment", None)
    ex["data"].update(data)
    return {
        "id": f"{oid}-e{n}",
        "type": etype,
        "source": "wms/test",
        "oid": oid,
        "time": f"2026-05-01T{hour:02d}:00:00+08:00",
        **ex,
    }


def place(api: Api, **kw: Any) -> str:
    r = api.client.post("/v1/orders", json=order_body(api, **kw), headers=api.as_("ops"))
    assert r.status_code == 201, r.text
    return str(r.json()["oid"])


def test_placing_an_order_returns_its_oid_and_is_idempotent(api: Api) -> None:
    body = order_body(api, source_refs=[{"system": "erp", "number": "SO-77"}])
    first = api.client.post("/v1/orders", json=body, headers=api.as_("ops"))
    assert first.status_code == 201 and first.json()["oid"] == "OL-T-1" and first.json()["created"]
    again = api.client.post("/v1/orders", json=body, headers=api.as_("ops"))
    assert again.status_code == 200 and again.json() == {"oid": "OL-T-1", "created": False, "position": None}
    look = api.client.get("/v1/orders/lookup", params={"system": "ERP", "number": "SO-77"}, headers=api.as_("cs"))
    assert look.status_code == 200 and look.json()["oid"] == "OL-T-1"


def test_an_order_without_an_oid_gets_one_assigned(api: Api) -> None:
    body = order_body(api)
    del body["oid"]
    r = api.client.post("/v1/orders", json=body, headers=api.as_("ops"))
    assert r.status_code == 201 and r.json()["oid"].startswith("OL")


def test_a_batch_reports_each_event_and_stores_the_valid_ones(api: Api) -> None:
    place(api)
    good = event(api, "outbound.scanned", 1)
    missing_proof = event(api, "linehaul.in_transit", 2)
    missing_proof["proof"].pop("gps_hash")
    unknown_order = event(api, "pack.completed", 3, oid="OL-NOPE")
    r = api.client.post("/v1/events", json={"events": [good, missing_proof, unknown_order]}, headers=api.as_("ops"))
    assert r.status_code == 207, r.text
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["accepted", "rejected", "rejected"]
    assert res[1]["problems"][0]["field"] == "proof.gps_hash" and res[1]["problems"][0]["rule"] == "required"
    assert res[2]["problems"][0]["rule"] == "known_order"
    again = api.client.post("/v1/events", json=[good], headers=api.as_("ops"))
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["position"] == res[0]["position"]


def test_all_or_nothing_stores_nothing_when_one_event_is_bad(api: Api) -> None:
    place(api)
    before = api.services.store.last_position()
    bad = event(api, "pack.completed", 2)
    bad["time"] = "yesterday"
    r = api.client.post(
        "/v1/events",
        json={"events": [event(api, "outbound.scanned", 1), bad], "all_or_nothing": True},
        headers=api.as_("ops"),
    )
    assert r.status_code == 422
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "rejected"]
    assert api.services.store.last_position() == before


def test_reusing_an_event_id_for_other_content_is_rejected(api: Api) -> None:
    place(api)
    e = event(api, "outbound.scanned", 1)
    api.client.post("/v1/events", json=[e], headers=api.as_("ops"))
    e2 = copy.deepcopy(e)
    e2["data"]["packages"] = 9
    r = api.client.post("/v1/events", json=[e2, event(api, "pack.completed", 5)], headers=api.as_("ops"))
    assert r.status_code == 207
    assert r.json()["results"][0]["problems"][0]["rule"] == "unique"
    assert r.json()["results"][1]["status"] == "accepted"


def test_bad_requests_get_clear_4xx_never_500(api: Api) -> None:
    h = {**api.as_("ops"), "content-type": "application/json"}
    cases = [
        ("/v1/events", b"{not json"),
        ("/v1/events", b""),
        ("/v1/events", b'{"events": 5}'),
        ("/v1/events", b'{"events": []}'),
        ("/v1/events", b'[1, "x", null]'),
        ("/v1/orders", b'["list"]'),
        ("/v1/orders", b'{"lines": "none"}'),
    ]
    for path, body in cases:
        r = api.client.post(path, content=body, headers=h)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        doc = r.json()
        if "results" in doc:  # a batch: every event carries its own reasons
            assert all(p["message"] for x in doc["results"] for p in x["problems"]), r.text
        else:
            assert doc["error"]["message"], r.text
    big = {"events": [event(api, "pack.completed", i) for i in range(51)]}
    r = api.client.post("/v1/events", json=big, headers=api.as_("ops"))
    assert r.status_code == 422 and r.json()["error"]["problems"][0]["rule"] == "max_items"
    assert api.client.get("/v1/orders/OL-NOPE", headers=api.as_("ops")).status_code == 404


def test_keys_decide_who_may_do_what(api: Api) -> None:
    oid = place(api)
    assert api.client.get(f"/v1/orders/{oid}").status_code == 401
    assert api.client.get(f"/v1/orders/{oid}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.client.post("/v1/orders", json=order_body(api, oid="OL-T-2"), headers=api.as_("cs")).status_code == 403
    assert api.client.get(f"/v1/orders/{oid}/verify", headers=api.as_("consumer")).status_code == 403
    assert api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_("consumer")).status_code == 200
    assert api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_("other_consumer")).status_code == 404
    r = api.client.get(f"/v1/orders/{oid}/chain", params={"role": "admin"}, headers=api.as_("cs"))
    assert r.status_code == 403
    r = api.client.get(f"/v1/orders/{oid}/chain", params={"role": "consumer"}, headers=api.as_("cs"))
    assert r.status_code == 200 and r.json()["role"] == "consumer"
    assert api.client.get("/v1/dictionary", headers=api.as_("consumer")).status_code == 200


def test_the_seed_chain_reads_differently_for_each_role(api: Api) -> None:
    oid = place(api)
    steps = ["outbound.scanned", "linehaul.in_transit", "forward_wh.check_passed", "leader.signed"]
    r = api.client.post(
        "/v1/events", json=[event(api, t, i, hour=9 + i) for i, t in enumerate(steps)], headers=api.as_("ops")
    )
    assert r.status_code == 200, r.text
    ops = api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_("ops")).json()
    assert [s["type"] for s in ops["steps"]] == ["order.placed", *steps]
    assert ops["steps"][2]["data"]["location"] == "沪宁高速K123+500"
    assert ops["steps"][2]["proof"]["gps_hash"] and ops["steps"][2]["deviceid"]
    assert ops["steps"][2]["since_previous_s"] == 3600
    assert (
        ops["steps"][0]["data"]["recipient"]["name"]
        == api.services.dictionary.types["order.placed"].example["data"]["recipient"]["name"]
    )
    consumer = api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_("consumer")).json()
    signed = next(s for s in consumer["steps"] if s["type"] == "leader.signed")
    assert signed["label"]["en"] == "Received by your community leader"
    assert all("proof" not in s and "deviceid" not in s for s in consumer["steps"])
    finance = api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_("finance")).json()
    assert {s["type"] for s in finance["steps"]} <= {
        t.id for t in api.services.dictionary.types.values() if t.invoicing
    }
    summary = api.client.get(f"/v1/orders/{oid}", headers=api.as_("cs")).json()
    assert summary["status"]["id"] == "at_leader" and "steps" not in summary


def test_personal_data_is_encrypted_at_rest_and_erasure_keeps_chains_verifiable(api: Api) -> None:
    oid = place(api)
    name = order_body(api)["recipient"]["name"]
    stored = api.services.store.read_stream(oid)[0]
    assert stored.data["recipient"]["name"].startswith("enc:v1:") and name not in str(stored.data)
    r = api.client.delete("/v1/customers/C-1/personal-data", headers=api.as_("admin"))
    assert r.status_code == 200 and r.json()["erased"] is True
    chain = api.client.get(f"/v1/orders/{oid}/chain", headers=api.as_("ops")).json()
    assert chain["steps"][0]["data"]["recipient"]["name"] == "[erased]"
    v = api.client.get(f"/v1/orders/{oid}/verify", headers=api.as_("ops")).json()
    assert v["ok"] is True and v["checked"] == 1
    assert api.client.delete("/v1/customers/C-1/personal-data", headers=api.as_("ops")).status_code == 403


def test_verify_names_the_first_altered_event(api: Api, tmp_path: Any) -> None:
    import sqlite3

    oid = place(api)
    api.client.post(
        "/v1/events", json=[event(api, "outbound.scanned", 1), event(api, "pack.completed", 2)], headers=api.as_("ops")
    )
    db = sqlite3.connect(tmp_path / "api.db")
    body = db.execute("SELECT body FROM events WHERE oid = ? AND seq = 2", (oid,)).fetchone()[0]
    db.execute(
        "UPDATE events SET body = ? WHERE oid = ? AND seq = 2", (body.replace(b'"packages":1', b'"packages":2'), oid)
    )
    db.commit()
    db.close()
    v = api.client.get(f"/v1/orders/{oid}/verify", headers=api.as_("ops")).json()
    assert v["ok"] is False and v["broken_seq"] == 2 and "changed" in v["reason"]


def test_admins_issue_and_revoke_keys_over_the_api(api: Api) -> None:
    r = api.client.post("/v1/keys", json={"role": "cs", "note": "desk"}, headers=api.as_("admin"))
    assert r.status_code == 201
    new = {"Authorization": f"Bearer {r.json()['key']}"}
    assert api.client.get("/v1/dictionary", headers=new).status_code == 200
    assert api.client.delete(f"/v1/keys/{r.json()['key_id']}", headers=api.as_("admin")).status_code == 200
    assert api.client.get("/v1/dictionary", headers=new).status_code == 401
    bad = api.client.post("/v1/keys", json={"role": "king"}, headers=api.as_("admin"))
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "role"
    assert api.client.post("/v1/keys", json={"role": "cs"}, headers=api.as_("ops")).status_code == 403


def test_openapi_has_an_example_for_every_post(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        if "post" in ops and "requestBody" in ops["post"]:
            content = ops["post"]["requestBody"]["content"]["application/json"]
            assert content.get("example"), path


def test_every_documented_post_example_is_accepted_as_it_stands(api: Api) -> None:
    # A user's first call is usually the example from /docs: it must work, not teach them a wrong format.
    spec = api.client.get("/openapi.json").json()
    tried = []
    for path, ops in spec["paths"].items():
        post = ops.get("post", {})
        if "{" in path or "requestBody" not in post:
            continue  # examples under a path parameter need a resource that exists; their own tests post them
        body = post["requestBody"]["content"]["application/json"]["example"]
        r = api.client.post(path, json=body, headers=api.as_("admin"))
        assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text[:300]}"  # 207: partly rejected
        answer = r.json()
        rejected = answer.get("rejected", 0) if isinstance(answer, dict) else 0
        assert rejected == 0, f"{path}: the example is partly rejected: {r.text[:300]}"
        tried.append(path)
    assert {"/v1/orders", "/v1/events", "/v1/signals", "/v1/query"} <= set(tried)
