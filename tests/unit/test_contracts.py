"""Data contracts: the shipped ODCS v3 files, the checks on user files, and how a contract is read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orderloom.cli import main
from orderloom.valuestream.catalog import ContractError, load_contracts, read_contract, shipped_files
from tests.unit._support import shipped

SIX = {"marketing", "sales", "product", "finance", "customer_service", "supply_chain"}


def contract_doc(**changes: object) -> dict[str, object]:
    """A valid user contract (a returns department's), with top-level changes."""
    doc: dict[str, object] = {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": "returns_inspection",
        "name": "Returns inspection",
        "version": "1.0.0",
        "domain": "returns",
        "schema": [
            {
                "name": "inspection",
                "properties": [
                    {"name": "oid", "logicalType": "string", "primaryKey": True},
                    {"name": "grade", "logicalType": "string", "required": True, "enum": [{"value": "a"}]},
                ],
            }
        ],
        "slaProperties": [
            {
                "property": "latency",
                "value": 3,
                "unit": "d",
                "customProperties": [{"property": "anchorEvent", "value": "return.received"}],
            }
        ],
    }
    doc.update(changes)
    return doc


def write(tmp_path: Path, doc: object, name: str = "returns.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def problems_of(tmp_path: Path, doc: object) -> list[str]:
    with pytest.raises(ContractError) as caught:
        load_contracts([write(tmp_path, doc)], shipped())
    return caught.value.problems


def test_six_contracts_ship_one_per_department_and_all_load() -> None:
    catalog = load_contracts(dictionary=shipped())
    assert {c.domain for c in catalog.list()} == SIX
    assert len(shipped_files()) == 6


def test_every_shipped_contract_keys_its_records_by_oid_or_customer_id_and_owes_required_fields() -> None:
    for c in load_contracts().list():
        for obj in c.objects:
            assert obj.key in ("oid", "customer_id")
            assert obj.required, c.id
        assert c.freshness.anchor in shipped().types


def test_the_marketing_contract_owes_attribution_within_two_hours_of_payment() -> None:
    c = load_contracts().for_domain("marketing")
    assert c.freshness.anchor == "payment.captured"
    assert c.freshness.latency == timedelta(hours=2)
    assert {"channel_id", "campaign", "creative", "interest_tags"} <= {f.name for f in c.objects[0].fields}
    assert c.freshness.words() == "within 2 h of payment.captured"


def test_profile_and_days_to_pay_are_owed_per_customer() -> None:
    catalog = load_contracts()
    assert catalog.for_domain("sales").objects[0].key == "customer_id"
    assert catalog.for_domain("finance").objects[0].key == "customer_id"
    assert catalog.for_domain("supply_chain").objects[0].field("rush_order") is not None


def test_a_valid_user_contract_joins_the_shipped_ones(tmp_path: Path) -> None:
    catalog = load_contracts([write(tmp_path, contract_doc())], shipped())
    c = catalog.for_domain("returns")
    assert c.id == "returns_inspection"
    assert c.freshness.latency == timedelta(days=3)
    assert c.objects[0].required == ("grade",)
    assert len(catalog.contracts) == 7


def test_the_odcs_schema_problem_names_the_file_and_the_json_path(tmp_path: Path) -> None:
    doc = contract_doc()
    doc["schema"][0]["properties"][1]["logicalType"] = "text"  # type: ignore[index]
    problems = problems_of(tmp_path, doc)
    assert any("returns.yaml" in p and "$.schema[0].properties[1]" in p and "ODCS" in p for p in problems), problems


def test_a_missing_odcs_field_is_reported_by_the_odcs_schema(tmp_path: Path) -> None:
    doc = contract_doc()
    del doc["apiVersion"]
    problems = problems_of(tmp_path, doc)
    assert any("apiVersion" in p for p in problems), problems


def test_a_schema_object_without_a_key_is_refused(tmp_path: Path) -> None:
    doc = contract_doc()
    doc["schema"][0]["properties"][0]["primaryKey"] = False  # type: ignore[index]
    problems = problems_of(tmp_path, doc)
    assert any("$.schema[0].properties" in p and "primaryKey" in p for p in problems), problems


def test_a_key_with_another_name_is_refused(tmp_path: Path) -> None:
    doc = contract_doc()
    doc["schema"][0]["properties"][0]["name"] = "order_id"  # type: ignore[index]
    problems = problems_of(tmp_path, doc)
    assert any("oid or customer_id" in p for p in problems), problems


def test_a_contract_without_a_freshness_sla_is_refused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, contract_doc(slaProperties=[{"property": "retention", "value": 1, "unit": "y"}]))
    assert any("$.slaProperties" in p and "latency" in p for p in problems), problems


def test_the_sla_must_name_its_anchor_event(tmp_path: Path) -> None:
    doc = contract_doc(slaProperties=[{"property": "latency", "value": 3, "unit": "d"}])
    problems = problems_of(tmp_path, doc)
    assert any("anchorEvent" in p for p in problems), problems


def test_an_anchor_event_the_dictionary_does_not_know_is_refused(tmp_path: Path) -> None:
    doc = contract_doc()
    doc["slaProperties"][0]["customProperties"][0]["value"] = "return.teleported"  # type: ignore[index]
    problems = problems_of(tmp_path, doc)
    assert any("return.teleported" in p and "dictionary" in p for p in problems), problems


def test_a_latency_in_an_unknown_unit_is_refused(tmp_path: Path) -> None:
    doc = contract_doc()
    doc["slaProperties"][0]["unit"] = "fortnights"  # type: ignore[index]
    problems = problems_of(tmp_path, doc)
    assert any("$.slaProperties[0].unit" in p for p in problems), problems


def test_a_role_orderloom_does_not_have_is_refused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, contract_doc(roles=[{"role": "marketing_team", "access": "read"}]))
    assert any("$.roles[0].role" in p for p in problems), problems


def test_a_second_contract_for_a_domain_is_refused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, contract_doc(domain="marketing"))
    assert any("'marketing' has 2 contracts" in p for p in problems), problems


def test_an_object_named_like_a_query_table_is_refused(tmp_path: Path) -> None:
    doc = contract_doc()
    doc["schema"][0]["name"] = "orders"  # type: ignore[index]
    problems = problems_of(tmp_path, doc)
    assert any("reserved" in p for p in problems), problems


def test_a_higher_version_of_a_shipped_contract_replaces_it(tmp_path: Path) -> None:
    doc = yaml.safe_load(next(p for p in shipped_files() if p.stem == "supply_chain").read_text("utf-8"))
    doc["version"] = "1.1.0"
    doc["slaProperties"][0]["value"] = 45
    catalog = load_contracts([write(tmp_path, doc, "rush.yaml")], shipped())
    c = catalog.get("supply_chain_rush")
    assert c.version == "1.1.0"
    assert c.freshness.latency == timedelta(minutes=45)


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed", "utf-8")
    contract, problems = read_contract(path)
    assert contract is None
    assert problems and str(path) in problems[0]


@pytest.mark.slow
def test_contracts_check_accepts_a_good_file_and_exits_1_on_a_bad_one(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["contracts", "check", str(write(tmp_path, contract_doc()))])
    assert good.exit_code == 0, good.output
    assert "7 contracts" in good.output
    bad_doc = contract_doc(slaProperties=[])
    bad = runner.invoke(main, ["contracts", "check", str(write(tmp_path, bad_doc, "bad.yaml"))])
    assert bad.exit_code == 1
    assert "bad.yaml" in bad.output and "latency" in bad.output


def test_the_contract_summary_lists_fields_freshness_and_roles() -> None:
    summary = load_contracts().get("cs_call_sentiment").summary()
    assert summary["freshness"]["anchor"] == "complaint.opened"
    assert "cs" in summary["writers"] and "ops" in summary["writers"]
    names = [f["name"] for f in summary["objects"][0]["fields"]]
    assert names[0] == "oid" and "sentiment" in names
