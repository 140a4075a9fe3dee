"""Lint refuses decisions that zen would accept but silently get wrong."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from orderloom.policy import PolicyVersion, lint, load_example


def example() -> PolicyVersion:
    return load_example("douyin_first_order")


def with_cell(column: str, value: str, rule: int = 0) -> PolicyVersion:
    v = example()
    doc: dict[str, Any] = copy.deepcopy(v.document)
    doc["nodes"][1]["content"]["rules"][rule][column] = value
    return replace(v, document=doc, digest="")


def test_the_shipped_example_passes_lint() -> None:
    assert lint(example()) == []


def test_a_malformed_condition_is_reported_with_node_rule_and_column() -> None:
    problems = lint(with_cell("in_total", ">= 50000 +"))
    assert len(problems) == 1
    assert problems[0].field == "Douyin first order / rule 1 / Order total (¥)"
    assert problems[0].rule == "expression"
    assert "never match" in problems[0].message


def test_a_valid_comparison_is_not_flagged_even_though_zen_validate_rejects_it() -> None:
    assert lint(with_cell("in_total", ">= 50000")) == []


def test_an_unquoted_output_text_is_reported_with_a_fix() -> None:
    problems = lint(with_cell("out_carrier", "SF"))
    assert [p.rule for p in problems] == ["unquoted_text"]
    assert '"SF"' in problems[0].message
    assert problems[0].field == "Douyin first order / rule 1 / Carrier"


def test_an_unquoted_input_text_is_reported() -> None:
    assert [p.rule for p in lint(with_cell("in_channel", "douyin"))] == ["unquoted_text"]


def test_an_output_that_reads_an_input_field_is_not_mistaken_for_text() -> None:
    assert lint(with_cell("out_script", "order_total")) == []


def test_a_broken_output_expression_is_reported() -> None:
    assert [p.rule for p in lint(with_cell("out_service", '"next" +'))] == ["expression"]


def test_a_column_reading_a_field_missing_from_the_schema_is_reported() -> None:
    v = example()
    doc = copy.deepcopy(v.document)
    doc["nodes"][1]["content"]["inputs"][0]["field"] = "chanel"
    problems = lint(replace(v, document=doc, digest=""))
    assert [(p.field, p.rule) for p in problems] == [("Douyin first order / column Channel", "unknown_field")]


def test_a_decision_without_an_output_node_is_reported() -> None:
    v = example()
    doc = copy.deepcopy(v.document)
    doc["nodes"] = doc["nodes"][:2]
    doc["edges"] = doc["edges"][:1]
    assert any("output node" in p.message for p in lint(replace(v, document=doc, digest="")))


def test_an_input_schema_that_is_not_json_schema_is_reported() -> None:
    v = replace(example(), input_schema={"type": "object", "properties": {"x": {"type": "nombre"}}}, digest="")
    assert any(p.field.startswith("input_schema") for p in lint(v))


def test_a_routing_profile_with_a_negative_weight_is_reported() -> None:
    schema = {"type": "object", "properties": {}}
    good = PolicyVersion("p", 1, "routing_profile", {"weights": {"cost": 0.6, "lateness": 0.4}}, schema)
    bad = replace(good, document={"weights": {"cost": -1}}, digest="")
    assert lint(good) == []
    assert [p.field for p in lint(bad)] == ["document.weights.cost"]
