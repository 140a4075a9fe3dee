"""The connectors over HTTP: signed inbound webhooks, webhook subscriptions delivered by the in-process pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.connectors import signing
from orderloom.core.settings import Settings
from tests.integration.conftest import Api
from tests.integration.test_api import event, order_body, place
from tests.integration.test_webhooks_outbound import Receiver, receiver
from tests.unit.test_mapping_shipped import SHOPIFY

SECRET = "shopify-shared-secret-0123456789"


@pytest.fixture
def hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    # The mapping names the variable holding its secret; the dispatcher's pace comes from the environment too.
    monkeypatch.setenv("ORDERLOOM_SECRET_SHOPIFY", SECRET)
    monkeypatch.delenv("ORDERLOOM_SECRET_WMS", raising=False)
    for name, value in {"BASE_S": "0.02", "CAP_S": "0.1", "ATTEMPTS": "3", "TIMEOUT_S": "1"}.items():
        monkeypatch.setenv(f"ORDERLOOM_WEBHOOK_{name}", value)
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'api.db'}"))
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "ops", "admin")}
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Api(client, svc, keys)
    svc.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def post_signed(api: Api, connector: str, payload: Any, *, nonce: str, secret: str = SECRET) -> Any:
    body = orjson.dumps(payload)
    headers = signing.signed_headers(secret.encode(), body, now=api.services.clock.now(), nonce=nonce)
    return api.client.post(f"/v1/inbound/{connector}", content=body, headers=headers)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_signed_shopify_webhook_places_the_order_and_a_replay_is_401(hooks: Api) -> None:
    r = post_signed(hooks, "shopify", SHOPIFY, nonce="shop-nonce-0001")
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["results"][0]["oid"] == "SHOP-820982911946154508"
    got = hooks.client.get("/v1/orders/SHOP-820982911946154508", headers=hooks.as_("cs"))
    assert got.status_code == 200 and got.json()["status"]["id"] == "placed"
    again = post_signed(hooks, "shopify", SHOPIFY, nonce="shop-nonce-0001")
    assert again.status_code == 401 and "used before" in again.json()["error"]["message"]


def test_an_unsigned_or_wrongly_signed_webhook_is_401_and_an_api_key_does_not_replace_the_signature(
    hooks: Api,
) -> None:
    plain = hooks.client.post("/v1/inbound/shopify", json=SHOPIFY, headers=hooks.as_("admin"))
    assert plain.status_code == 401 and "X-Orderloom-Signature header is missing" in plain.json()["error"]["message"]
    wrong = post_signed(hooks, "shopify", SHOPIFY, nonce="shop-nonce-0002", secret="not-the-secret-0123456789")
    assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]["message"]


def test_unknown_and_unconfigured_connectors_and_bad_payloads_get_clear_4xx(hooks: Api) -> None:
    assert post_signed(hooks, "nope", {}, nonce="n-00000001").status_code == 404
    unconfigured = post_signed(hooks, "wms", {}, nonce="n-00000002")
    assert unconfigured.status_code == 401 and "ORDERLOOM_SECRET_WMS" in unconfigured.json()["error"]["message"]
    bad = post_signed(hooks, "shopify", {**SHOPIFY, "total_price": "lots"}, nonce="n-00000003")
    assert bad.status_code == 422
    (problem,) = bad.json()["error"]["problems"]
    assert problem["field"] == "total" and "total_price" in problem["message"]
    body = b"{not json"
    headers = signing.signed_headers(SECRET.encode(), body, now=hooks.services.clock.now(), nonce="n-00000004")
    broken = hooks.client.post("/v1/inbound/shopify", content=body, headers=headers)
    assert broken.status_code == 422 and broken.json()["error"]["problems"][0]["rule"] == "json"


def test_only_admins_subscribe_and_mistakes_are_named(hooks: Api, rx: Receiver) -> None:
    body = {"url": rx.url, "types": ["outbound.scanned"], "role": "cs"}
    assert hooks.client.post("/v1/webhooks", json=body, headers=hooks.as_("ops")).status_code == 403
    bad = hooks.client.post("/v1/webhooks", json={**body, "types": ["nope.*"]}, headers=hooks.as_("admin"))
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "types[0]"
    assert hooks.client.get("/v1/webhooks", headers=hooks.as_("cs")).status_code == 403


def test_a_subscription_is_delivered_by_the_running_pipeline_and_its_dead_letters_replay(
    hooks: Api, rx: Receiver
) -> None:
    admin = hooks.as_("admin")
    created = hooks.client.post(
        "/v1/webhooks", json={"url": rx.url, "types": ["outbound.*", "linehaul.*"], "role": "cs"}, headers=admin
    )
    assert created.status_code == 201, created.text
    sid, secret = created.json()["id"], created.json()["secret"]
    assert "secret" not in hooks.client.get(f"/v1/webhooks/{sid}", headers=admin).json()
    rx.script = lambda s: 400 if s.json["event"]["type"] == "outbound.scanned" else 200
    place(hooks)
    events = [event(hooks, "outbound.scanned", 1), event(hooks, "linehaul.departed", 2, hour=10)]
    assert hooks.client.post("/v1/events", json=events, headers=hooks.as_("ops")).status_code == 200

    def outcomes() -> list[str]:
        log = hooks.client.get(f"/v1/webhooks/{sid}/deliveries", headers=hooks.as_("ops")).json()["deliveries"]
        return sorted(d["outcome"] for d in log)

    wait_for(lambda: outcomes() == ["dead_lettered", "delivered"])
    first = rx.seen[0]
    assert first.headers["x-orderloom-signature"] == signing.signature(
        secret.encode(), first.headers["x-orderloom-timestamp"], first.body
    )
    dead = hooks.client.get(f"/v1/webhooks/{sid}/dead-letters", headers=admin).json()["dead_letters"]
    assert [d["event_id"] for d in dead] == ["OL-T-1-e1"] and dead[0]["status"] == 400
    rx.script = lambda _: 200
    replay = hooks.client.post(f"/v1/webhooks/{sid}/dead-letters/replay", json={}, headers=admin)
    assert replay.status_code == 202 and replay.json()["event_ids"] == ["OL-T-1-e1"]
    wait_for(lambda: not hooks.client.get(f"/v1/webhooks/{sid}/dead-letters", headers=admin).json()["dead_letters"])
    listed = hooks.client.get("/v1/webhooks", headers=admin).json()["subscriptions"]
    assert listed[0]["delivered"] == 2 and listed[0]["dead_letters"] == 0


def test_pausing_resuming_and_deleting_are_recorded_with_who_did_it(hooks: Api, rx: Receiver) -> None:
    admin = hooks.as_("admin")
    sid = hooks.client.post("/v1/webhooks", json={"url": rx.url, "types": ["*"], "role": "ops"}, headers=admin).json()[
        "id"
    ]
    assert (
        hooks.client.post(f"/v1/webhooks/{sid}/pause", json={"reason": "maintenance"}, headers=admin).json()["state"]
        == "paused"
    )
    assert hooks.client.post(f"/v1/webhooks/{sid}/pause", headers=admin).status_code == 422
    assert hooks.client.post(f"/v1/webhooks/{sid}/resume", headers=admin).json()["state"] == "active"
    assert hooks.client.delete(f"/v1/webhooks/{sid}", headers=admin).json()["state"] == "deleted"
    audit = hooks.services.store.read_stream("sys.webhooks")
    assert [e.type for e in audit] == [
        "webhook.subscribed",
        "webhook.paused",
        "webhook.resumed",
        "webhook.unsubscribed",
    ]
    assert {e.actor for e in audit} == {f"key:{hooks.services.keys.authenticate(hooks.keys['admin']).key_id}"}
    assert hooks.client.get("/v1/webhooks/WH-NOPE", headers=admin).status_code == 404


def test_reconcile_over_http_lists_each_kind_of_mismatch(hooks: Api) -> None:
    ops = hooks.as_("ops")
    hooks.client.post(
        "/v1/orders", json=order_body(hooks, source_refs=[{"system": "erp", "number": "SO-1"}]), headers=ops
    )
    hooks.client.post(
        "/v1/orders",
        json=order_body(hooks, oid="OL-T-2", source_refs=[{"system": "erp", "number": "SO-2"}]),
        headers=ops,
    )
    hooks.client.post("/v1/events", json=[event(hooks, "outbound.scanned", 1)], headers=ops)
    body = {
        "system": "erp",
        "states": {"SHIPPED": ["shipped_out", "in_transit"], "OPEN": "placed"},
        "rows": [{"id": "SO-1", "state": "OPEN"}, {"id": "SO-9", "state": "OPEN"}],
    }
    r = hooks.client.post("/v1/reconcile", json=body, headers=hooks.as_("cs"))
    assert r.status_code == 200, r.text
    rep = r.json()
    kinds = {m["kind"]: m for m in rep["mismatches"]}
    assert kinds["state_differs"]["oid"] == "OL-T-1" and kinds["state_differs"]["log_status"] == "shipped_out"
    assert kinds["missing_in_log"]["external_id"] == "SO-9"
    assert kinds["missing_externally"]["external_id"] == "SO-2"
    csv_body = "order_id,status\nOL-T-2,placed\n"
    c = hooks.client.post(
        "/v1/reconcile?missing_externally=false", content=csv_body, headers={**ops, "Content-Type": "text/csv"}
    )
    assert c.status_code == 200 and c.json()["matched"] == 1 and c.json()["mismatches"] == []
    bad = hooks.client.post("/v1/reconcile", json={"rows": [{"id": 1}], "states": {"X": "teleported"}}, headers=ops)
    assert bad.status_code == 422
