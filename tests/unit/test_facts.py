"""Domain facts intake: records checked against the contract, stored as events linked by OID or customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orderloom.core.errors import NotFound, ValidationFailed
from orderloom.valuestream.catalog import load_contracts
from orderloom.valuestream.facts import FactDesk
from tests.unit._support import Rig, raw_event, rig, shipped


@pytest.fixture
def r() -> Rig:
    rg = rig()
    rg.place("OL-F-1", customer="C-1")
    rg.place("OL-F-2", customer="C-2", minutes=10)
    rg.record(raw_event(rg.dictionary, "payment.captured", oid="OL-F-1", eid="pay-1", minutes=30))
    return rg


@pytest.fixture
def desk(r: Rig) -> FactDesk:
    return FactDesk(r.intake, load_contracts(dictionary=shipped()))


def attribution(oid: str = "OL-F-1", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "oid": oid,
        "channel_id": "douyin_live",
        "campaign": "cny2026",
        "interest_tags": ["dairy"],
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def problems(desk: FactDesk, domain: str, record: dict[str, Any]) -> list[tuple[str, str]]:
    (result,) = desk.record(domain, [record], actor="t")
    assert result.status == "rejected"
    return [(p.field, p.rule) for p in result.problems]


def facts_on(r: Rig, stream: str) -> list[Any]:
    return [e for e in r.store.read_stream(stream) if e.type == "fact.recorded"]


def test_a_valid_record_is_stored_on_the_orders_stream_with_its_due_time(r: Rig, desk: FactDesk) -> None:
    (result,) = desk.record("marketing", [attribution()], actor="key:K1")
    assert result.status == "accepted" and result.oid == "OL-F-1"
    (fact,) = facts_on(r, "OL-F-1")
    assert fact.data["contract"] == "marketing_attribution"
    assert fact.data["subject"] == {"kind": "oid", "id": "OL-F-1"}
    assert fact.data["fields"] == {"channel_id": "douyin_live", "campaign": "cny2026", "interest_tags": ["dairy"]}
    paid = next(e for e in r.store.read_stream("OL-F-1") if e.type == "payment.captured")
    assert fact.data["due_at"] == (paid.occurred_at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert fact.data["received_at"] == fact.time
    assert fact.actor == "key:K1"


def test_before_the_anchor_event_a_fact_has_no_due_time_yet(r: Rig, desk: FactDesk) -> None:
    desk.record("marketing", [attribution("OL-F-2")], actor="t")
    (fact,) = facts_on(r, "OL-F-2")
    assert fact.data["due_at"] is None


def test_a_customer_fact_goes_on_the_customers_stream(r: Rig, desk: FactDesk) -> None:
    (result,) = desk.record("sales", [{"customer_id": "C-1", "segment": "vip", "lifetime_value": 8800}], actor="t")
    assert result.status == "accepted" and result.oid == "cust.C-1"
    (fact,) = facts_on(r, "cust.C-1")
    assert fact.data["subject"] == {"kind": "customer_id", "id": "C-1"}


def test_sending_the_same_record_again_is_a_harmless_duplicate(r: Rig, desk: FactDesk) -> None:
    first = desk.record("marketing", [attribution()], actor="t")[0]
    r.clock.advance(timedelta(hours=1))
    again = desk.record("marketing", [attribution()], actor="t")[0]
    assert again.status == "duplicate" and again.id == first.id and again.position == first.position
    assert len(facts_on(r, "OL-F-1")) == 1


def test_the_senders_own_id_makes_a_corrected_resend_a_duplicate_too(r: Rig, desk: FactDesk) -> None:
    desk.record("marketing", [attribution(_id="crm-77")], actor="t")
    again = desk.record("marketing", [attribution(_id="crm-77", campaign="other")], actor="t")[0]
    assert again.status == "duplicate"
    assert facts_on(r, "OL-F-1")[0].data["fields"]["campaign"] == "cny2026"


@pytest.mark.parametrize(
    ("domain", "record", "expected"),
    [
        ("marketing", attribution(campaign=None), ("campaign", "required")),
        ("marketing", attribution(campaign=7), ("campaign", "type")),
        ("marketing", attribution(channel_id="Douyin Live"), ("channel_id", "pattern")),
        ("marketing", attribution(attribution_model="gut_feeling"), ("attribution_model", "enum")),
        ("marketing", attribution(interest_tags=["a", "a"]), ("interest_tags", "unique_items")),
        ("marketing", attribution(interest_tags=["ok", "x" * 41]), ("interest_tags[1]", "max_length")),
        ("marketing", attribution(colour="red"), ("colour", "known_field")),
        ("marketing", attribution(oid="bad id!"), ("oid", "format")),
        (
            "customer_service",
            {"oid": "OL-F-1", "sentiment": "angry", "sentiment_score": 4},
            ("sentiment_score", "maximum"),
        ),
        (
            "product",
            {"oid": "OL-F-1", "firmware_version": "2.x", "app_compatible": True},
            ("firmware_version", "pattern"),
        ),
        ("product", {"oid": "OL-F-1", "firmware_version": "2.1", "app_compatible": "yes"}, ("app_compatible", "type")),
        (
            "finance",
            {"customer_id": "C-1", "avg_days_to_pay": 12.5, "invoices_counted": 4, "credit_terms_days": 31},
            ("credit_terms_days", "standard_terms"),
        ),
        ("finance", {"customer_id": "C 1", "avg_days_to_pay": 1, "invoices_counted": 1}, ("customer_id", "format")),
        ("supply_chain", {"rush_order": True}, ("oid", "required")),
        ("supply_chain", {"oid": "OL-F-1", "rush_order": True, "expedite_cost": 2**70}, ("expedite_cost", "type")),
    ],
)
def test_each_broken_rule_is_named_with_its_field(
    desk: FactDesk, domain: str, record: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in problems(desk, domain, record)


def test_a_problem_says_what_was_expected_in_plain_words(desk: FactDesk) -> None:
    (result,) = desk.record(
        "customer_service", [{"oid": "OL-F-1", "sentiment": "meh", "sentiment_score": 0}], actor="t"
    )
    (p,) = result.problems
    assert p.message.startswith("sentiment must be one of positive, neutral, negative, angry")


def test_a_fact_about_an_order_that_does_not_exist_is_refused(r: Rig, desk: FactDesk) -> None:
    assert ("oid", "known_order") in problems(desk, "supply_chain", {"oid": "OL-NOPE", "rush_order": True})
    assert r.store.read_stream("OL-NOPE") == []


def test_valid_records_are_stored_even_when_others_are_refused(r: Rig, desk: FactDesk) -> None:
    results = desk.record("supply_chain", [{"oid": "OL-F-1", "rush_order": True}, {"oid": "OL-F-2"}], actor="t")
    assert [x.status for x in results] == ["accepted", "rejected"]
    assert [x.index for x in results] == [0, 1]
    assert len(facts_on(r, "OL-F-1")) == 1


def test_all_or_nothing_stores_none_when_one_record_is_refused(r: Rig, desk: FactDesk) -> None:
    results = desk.record(
        "supply_chain", [{"oid": "OL-F-1", "rush_order": True}, {"oid": "OL-F-2"}], actor="t", atomic=True
    )
    assert [x.status for x in results] == ["rejected", "rejected"]
    assert results[0].problems[0].rule == "all_or_nothing"
    assert facts_on(r, "OL-F-1") == []


def test_each_refused_delivery_is_counted_once_a_day_on_the_contracts_stream(r: Rig, desk: FactDesk) -> None:
    bad = {"oid": "OL-F-1", "rush_order": "maybe"}
    desk.record("supply_chain", [bad], actor="t")
    desk.record("supply_chain", [bad], actor="t")
    (rejection,) = r.store.read_stream("contract.supply_chain_rush")
    assert rejection.type == "fact.rejected"
    assert rejection.data["problems"][0]["field"] == "rush_order"
    assert rejection.data["subject"] == {"kind": "oid", "id": "OL-F-1"}
    r.clock.advance(timedelta(days=1))
    desk.record("supply_chain", [bad], actor="t")
    assert len(r.store.read_stream("contract.supply_chain_rush")) == 2


def test_a_domain_without_a_contract_is_not_found_and_names_the_known_ones(desk: FactDesk) -> None:
    with pytest.raises(NotFound) as caught:
        desk.record("legal", [{"oid": "OL-F-1"}], actor="t")
    assert "marketing" in str(caught.value)


def test_an_unknown_schema_object_is_refused(desk: FactDesk) -> None:
    with pytest.raises(ValidationFailed) as caught:
        desk.record("marketing", [attribution()], actor="t", object_name="nope")
    assert caught.value.problems[0].field == "object"


def test_a_record_that_is_not_an_object_is_refused_without_breaking_the_batch(desk: FactDesk) -> None:
    results = desk.record("supply_chain", ["rush", {"oid": "OL-F-2", "rush_order": False}], actor="t")
    assert [x.status for x in results] == ["rejected", "accepted"]
    assert results[0].problems[0].field == "(record)"


def test_the_connector_sink_routes_each_document_by_its_domain(r: Rig, desk: FactDesk) -> None:
    results = desk.sink(
        [{"domain": "supply_chain", "oid": "OL-F-1", "rush_order": True}, {"domain": "legal", "oid": "OL-F-1"}],
        "connector:crm",
    )
    assert [x.status for x in results] == ["accepted", "rejected"]
    assert [x.index for x in results] == [0, 1]
    assert facts_on(r, "OL-F-1")[0].actor == "connector:crm"
