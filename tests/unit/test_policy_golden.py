"""Golden tests stored with a policy decide whether it may be published."""

from __future__ import annotations

import copy
from dataclasses import replace

from orderloom.policy import GoldenCase, load_example, run_golden


def test_the_shipped_example_passes_all_its_golden_tests() -> None:
    results = run_golden(load_example("douyin_first_order"))
    assert len(results) == 5
    assert all(r.passed for r in results), [r.problems for r in results if not r.passed]


def test_a_broken_condition_fails_the_golden_tests_that_zen_would_not() -> None:
    v = load_example("douyin_first_order")
    doc = copy.deepcopy(v.document)
    doc["nodes"][1]["content"]["rules"][0]["in_total"] = ">= 299 +"
    failed = [r for r in run_golden(replace(v, document=doc, digest="")) if not r.passed]
    assert [r.case for r in failed] == ["Douyin first order of ¥299 ships SF next-day with unboxing video"]
    assert any(p.field.endswith("/ carrier") and "'standard'" in p.message for p in failed[0].problems)


def test_an_unquoted_output_fails_because_the_key_disappears() -> None:
    v = load_example("douyin_first_order")
    doc = copy.deepcopy(v.document)
    doc["nodes"][1]["content"]["rules"][0]["out_carrier"] = "SF"
    failed = [r for r in run_golden(replace(v, document=doc, digest="")) if not r.passed]
    assert "gave no carrier" in failed[0].problems[0].message


def test_a_number_sent_as_text_fails_with_a_clear_schema_problem() -> None:
    v = load_example("douyin_first_order")
    case = GoldenCase(
        "text total", {"channel": "douyin", "customer": {"first_order": True}, "order_total": "80000"}, {}
    )
    (result,) = run_golden(replace(v, tests=(case,), digest=""))
    assert not result.passed
    assert result.problems[0].field == "order_total"
    assert "without quotes" in result.problems[0].message


def test_an_input_the_schema_should_refuse_but_accepts_fails() -> None:
    v = load_example("douyin_first_order")
    case = GoldenCase("ok input", {"channel": "douyin", "customer": {"first_order": True}, "order_total": 1}, {}, True)
    (result,) = run_golden(replace(v, tests=(case,), digest=""))
    assert not result.passed
