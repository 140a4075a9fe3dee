"""The evaluator uses exactly the version asked for and refuses inputs its schema rejects."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from orderloom.core.errors import NotFound, OrderloomError, ValidationFailed
from orderloom.policy import Evaluator, PolicyVersion, load_example

ORDER = {"channel": "douyin", "customer": {"first_order": True}, "order_total": 299}


def two_versions() -> tuple[PolicyVersion, PolicyVersion]:
    v1 = load_example("douyin_first_order", version=1)
    doc = copy.deepcopy(v1.document)
    doc["nodes"][1]["content"]["rules"][0]["out_carrier"] = '"JD"'
    return v1, replace(v1, version=2, document=doc, digest="")


def test_each_evaluation_uses_the_version_it_asked_for() -> None:
    v1, v2 = two_versions()
    ev = Evaluator()
    ev.add(v1)
    ev.add(v2)
    assert ev.evaluate(v1.name, 1, ORDER)["carrier"] == "SF"
    assert ev.evaluate(v1.name, 2, ORDER)["carrier"] == "JD"
    assert ev.evaluate(v1.name, 1, ORDER)["carrier"] == "SF"


def test_the_result_carries_the_policy_and_version_used() -> None:
    v1, _ = two_versions()
    ev = Evaluator()
    ev.add(v1)
    result = ev.evaluate(v1.name, 1, ORDER)
    assert (result["policy"], result["version"]) == ("douyin_first_order", 1)


def test_an_input_that_breaks_the_schema_is_refused_naming_the_field() -> None:
    v1, _ = two_versions()
    ev = Evaluator()
    ev.add(v1)
    with pytest.raises(ValidationFailed) as caught:
        ev.evaluate(v1.name, 1, {**ORDER, "order_total": "80000"})
    assert [p.field for p in caught.value.problems] == ["order_total"]


def test_a_version_that_is_not_loaded_is_not_found() -> None:
    with pytest.raises(NotFound):
        Evaluator().evaluate("douyin_first_order", 9, ORDER)


def test_a_loaded_version_cannot_be_replaced_with_different_content() -> None:
    v1, v2 = two_versions()
    ev = Evaluator()
    ev.add(v1)
    ev.add(v1)
    with pytest.raises(OrderloomError):
        ev.add(replace(v2, version=1))
