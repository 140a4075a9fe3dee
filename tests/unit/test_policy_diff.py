"""Diffs name what changed in words a business user recognises."""

from __future__ import annotations

import copy
from dataclasses import replace

from orderloom.policy import diff, load_example


def test_a_changed_cell_is_named_by_table_rule_and_column() -> None:
    v1 = load_example("douyin_first_order")
    doc = copy.deepcopy(v1.document)
    doc["nodes"][1]["content"]["rules"][0]["in_total"] = ">= 399"
    v2 = replace(v1, version=2, document=doc, digest="")
    assert diff(v1, v2) == ["Douyin first order / rule 1 / Order total (¥): >= 299 → >= 399"]


def test_identical_versions_have_no_differences() -> None:
    v1 = load_example("douyin_first_order")
    assert diff(v1, replace(v1, version=2)) == []


def test_added_and_removed_rules_are_listed() -> None:
    v1 = load_example("douyin_first_order")
    doc = copy.deepcopy(v1.document)
    rules = doc["nodes"][1]["content"]["rules"]
    rules.insert(1, {**rules[0], "_id": "taobao_vip", "in_channel": '"taobao"'})
    del rules[0]
    lines = diff(v1, replace(v1, version=2, document=doc, digest=""))
    assert 'Douyin first order: rule 1 added (Channel "taobao", First order true, Order total (¥) >= 299)' in lines
    assert any(line.startswith("Douyin first order: rule 1 removed") for line in lines)


def test_schema_changes_are_listed_by_json_path() -> None:
    v1 = load_example("douyin_first_order")
    schema = copy.deepcopy(v1.input_schema)
    schema["properties"]["order_total"]["minimum"] = 1
    lines = diff(v1, replace(v1, version=2, input_schema=schema, digest=""))
    assert lines == ["input_schema.properties.order_total.minimum: 0 → 1"]
