"""The value-stream API: facts under contracts, contracts and their health, department views, the map."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderloom.status.orders import place_order
from tests.integration.conftest import Api
from tests.unit._support import T0, order_body


@pytest.fixture
def orders(api: Api) -> list[str]:
    """Two orders placed an hour ago (the API runs on the system clock)."""
    oids = ["OL-VS-1", "OL-VS-2"]
    hour_ago = (api.services.clock.now() - T0).total_seconds() / 60 - 60
    for n, oid in enumerate(oids):
        body = order_body(oid, customer=f"C-{n + 1}", minutes=hour_ago)
        place_order(api.services.intake, body, source="t", actor=None)
    return oids


def post_facts(api: Api, domain: str, body: Any, role: str = "ops") -> Any:
    return api.client.post(f"/v1/facts/{domain}", json=body, headers=api.as_(role))


def test_one_valid_record_is_stored_and_shows_in_the_orders_chain(api: Api, orders: list[str]) -> None:
    res = post_facts(api, "supply_chain", {"oid": orders[0], "rush_order": True, "reason": "vip_customer"})
    assert res.status_code == 200, res.text
    assert res.json()["accepted"] == 1
    chain = api.client.get(f"/v1/orders/{orders[0]}/chain", headers=api.as_("cs")).json()
    fact = next(s for s in chain["steps"] if s["type"] == "fact.recorded")
    assert fact["data"]["fields"] == {"rush_order": True, "reason": "vip_customer"}
    for role in ("finance", "consumer"):
        res = api.client.get(f"/v1/orders/{orders[0]}/chain", headers=api.as_(role))
        assert all(s["type"] != "fact.recorded" for s in res.json().get("steps", [])), role


def test_a_mixed_batch_answers_207_with_the_field_and_rule_of_each_refused_record(api: Api, orders: list[str]) -> None:
    body = {"records": [{"oid": orders[0], "rush_order": True}, {"oid": orders[1], "rush_order": "soon"}]}
    res = post_facts(api, "supply_chain", body)
    assert res.status_code == 207
    results = res.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["index"] == 1
    assert results[1]["problems"][0]["field"] == "rush_order" and results[1]["problems"][0]["rule"] == "type"


def test_all_or_nothing_stores_none_and_answers_422(api: Api, orders: list[str]) -> None:
    body = {"records": [{"oid": orders[0], "rush_order": True}, {"oid": orders[1]}], "all_or_nothing": True}
    res = post_facts(api, "supply_chain", body)
    assert res.status_code == 422
    assert res.json()["accepted"] == 0
    stream = api.services.store.read_stream(orders[0])
    assert all(e.type != "fact.recorded" for e in stream)


def test_a_department_role_may_deliver_its_own_contracts_facts_only(api: Api, orders: list[str]) -> None:
    sentiment = {"oid": orders[0], "sentiment": "angry", "sentiment_score": -0.8, "topic": "late"}
    assert post_facts(api, "customer_service", sentiment, role="cs").status_code == 200
    history = {"customer_id": "C-1", "avg_days_to_pay": 12.5, "invoices_counted": 8}
    assert post_facts(api, "finance", history, role="finance").status_code == 200
    refused = post_facts(api, "marketing", {"oid": orders[0], "channel_id": "x", "campaign": "y"}, role="cs")
    assert refused.status_code == 403
    assert "marketing" in refused.json()["error"]["message"]
    assert post_facts(api, "supply_chain", {"oid": orders[0], "rush_order": True}, role="consumer").status_code == 403


def test_bad_requests_are_named(api: Api, orders: list[str]) -> None:
    assert post_facts(api, "legal", {"oid": orders[0]}).status_code == 404
    too_many = {"records": [{"oid": orders[0], "rush_order": True}] * 51}
    res = post_facts(api, "supply_chain", too_many)
    assert res.status_code == 422 and res.json()["error"]["problems"][0]["rule"] == "max_items"
    assert post_facts(api, "supply_chain", {"records": []}).status_code == 422
    res = api.client.post("/v1/facts/supply_chain", content=b"{nope", headers=api.as_("ops"))
    assert res.status_code == 400


def test_contracts_are_listed_with_their_fields_and_served_as_odcs(api: Api) -> None:
    res = api.client.get("/v1/valuestream/contracts", headers=api.as_("cs"))
    assert res.status_code == 200
    domains = {c["domain"] for c in res.json()["contracts"]}
    assert domains == {"marketing", "sales", "product", "finance", "customer_service", "supply_chain"}
    doc = api.client.get("/v1/valuestream/contracts/product_firmware", headers=api.as_("cs")).json()
    assert doc["document"]["apiVersion"] == "v3.2.0" and doc["document"]["kind"] == "DataContract"
    assert api.client.get("/v1/valuestream/contracts", headers=api.as_("consumer")).status_code == 403
    assert api.client.get("/v1/valuestream/contracts/nope", headers=api.as_("cs")).status_code == 404


def test_contract_health_counts_refused_deliveries(api: Api, orders: list[str]) -> None:
    post_facts(api, "supply_chain", {"oid": orders[0], "rush_order": True})
    post_facts(api, "supply_chain", {"oid": orders[1], "rush_order": "soon"})
    res = api.client.get("/v1/valuestream/contracts/supply_chain_rush/health?days=7&tz=UTC", headers=api.as_("ops"))
    assert res.status_code == 200, res.text
    h = res.json()
    assert h["orders"]["owed"] == 2
    # Placed an hour ago and owed within 30 minutes: one flag came late, the other never validly.
    assert (h["orders"]["late"], h["orders"]["missing"], h["fulfilment_rate"]) == (1, 1, 0.0)
    assert h["deliveries"]["rejected"] == 1 and h["deliveries"]["stored"] == 1
    assert h["trend"][-1]["rejected"] == 1
    assert (
        api.client.get("/v1/valuestream/contracts/marketing_attribution/health", headers=api.as_("finance")).status_code
        == 403
    )
    assert (
        api.client.get("/v1/valuestream/contracts/supply_chain_rush/health?days=0", headers=api.as_("ops")).status_code
        == 422
    )
    bad_tz = api.client.get("/v1/valuestream/contracts/supply_chain_rush/health?tz=Nowhere", headers=api.as_("ops"))
    assert bad_tz.status_code == 422 and bad_tz.json()["error"]["problems"][0]["field"] == "tz"


def test_department_views_answer_their_audience_only(api: Api, orders: list[str]) -> None:
    listing = api.client.get("/v1/valuestream/views", headers=api.as_("finance")).json()["views"]
    assert {v["name"] for v in listing} == {
        "repurchase_by_channel",
        "rush_orders_by_customer",
        "days_to_cash_by_customer",
        "value_stream_health",
    }
    cash = api.client.get("/v1/valuestream/views/days_to_cash_by_customer", headers=api.as_("finance"))
    assert cash.status_code == 200
    assert {c["customer_id"] for c in cash.json()["customers"]} == {"C-1", "C-2"}
    assert api.client.get("/v1/valuestream/views/days_to_cash_by_customer", headers=api.as_("cs")).status_code == 403
    rep = api.client.get("/v1/valuestream/views/repurchase_by_channel?days=30", headers=api.as_("cs"))
    assert rep.status_code == 200 and rep.json()["overall"]["orders"] == len(orders)
    bad = api.client.get("/v1/valuestream/views/repurchase_by_channel?channel=tv", headers=api.as_("ops"))
    assert bad.status_code == 422
    assert api.client.get("/v1/valuestream/views/nope", headers=api.as_("ops")).status_code == 404


def test_the_value_stream_map_lists_departments_and_stages(api: Api) -> None:
    res = api.client.get("/v1/valuestream/map?lang=zh", headers=api.as_("cs"))
    assert res.status_code == 200
    m = res.json()
    assert len(m["departments"]) == 6
    placement = next(s for s in m["stages"] if s["stage"] == "placement")
    assert placement["label"] == "下单"
    assert {d["department"] for d in placement["departments"]} >= {"supply_chain", "sales"}


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
FIELDS = [
    "oid",
    "customer_id",
    "rush_order",
    "sentiment",
    "sentiment_score",
    "records",
    "all_or_nothing",
    "sql",
    "limit",
]


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON_VALUES, keyed=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5))
def test_any_json_to_facts_or_query_gets_a_readable_answer(api: Api, body: Any, keyed: dict[str, Any]) -> None:
    for payload in (body, keyed):
        for path in ("/v1/facts/supply_chain", "/v1/facts/customer_service", "/v1/facts/sales", "/v1/query"):
            res = api.client.post(path, json=payload, headers=api.as_("admin"))
            assert res.status_code < 500, (path, payload, res.text)
            doc = res.json()
            if "results" in doc:
                assert all(p["message"] and p["field"] for x in doc["results"] for p in x.get("problems", []))
            elif res.status_code >= 400:
                assert doc["error"]["message"], doc
