"""Detector documents: the shipped one is valid, and each mistake is refused naming its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orderloom.core.errors import ValidationFailed
from orderloom.policy import PolicyVersion, lint, load_example
from orderloom.policy.log import PolicyLog
from orderloom.valuestream.detectors_document import detector_problems, matches, parse_detector
from tests.unit.test_detector_rig import services


def shipped_version() -> PolicyVersion:
    return load_example("headphone_returns")


def with_document(change: dict[str, Any], drop: tuple[str, ...] = ()) -> PolicyVersion:
    v = shipped_version()
    doc = copy.deepcopy(v.document)
    doc.update(change)
    for key in drop:
        doc.pop(key)
    return PolicyVersion(v.name, 0, v.kind, doc, v.input_schema)


def fields_of(version: PolicyVersion) -> dict[str, str]:
    return {p.field: p.rule for p in lint(version)}


def test_the_shipped_detector_is_valid_and_parses_into_its_parts() -> None:
    v = shipped_version()
    assert lint(v) == []
    d = parse_detector(v.document, v.input_schema)
    assert d.cohort == {"product.category": "headphones", "product.price_tier": "premium"}
    assert d.metric == "return_rate" and d.within_days == 30 and d.ratio_above == 2.0
    assert d.against == {"product.category": "headphones"} and d.every.days == 1


def test_a_misspelt_cohort_attribute_is_refused_naming_it() -> None:
    v = with_document({"cohort": {"product.categroy": "headphones"}})
    assert fields_of(v) == {"document.cohort / product.categroy": "unknown_attribute"}


def test_a_value_outside_the_declared_values_or_of_the_wrong_type_is_refused() -> None:
    assert fields_of(with_document({"cohort": {"product.price_tier": "luxury"}})) == {
        "document.cohort / product.price_tier": "enum"
    }
    assert fields_of(with_document({"compare": {"against": {"product.category": 3}, "ratio_above": 2}})) == {
        "document.compare.against / product.category": "type"
    }


def test_a_threshold_that_cannot_mean_higher_than_is_refused() -> None:
    for ratio in (1, 0.5, "2", True):
        problems = fields_of(with_document({"compare": {"against": "all", "ratio_above": ratio}}))
        assert problems == {"document.compare.ratio_above": "range"}, ratio


def test_metric_schedule_window_and_unknown_keys_are_each_named() -> None:
    v = with_document(
        {
            "metric": {"kind": "refund_speed", "within_days": 0},
            "schedule": {"every": "5 minutes"},
            "window_days": 0,
            "colour": "red",
        }
    )
    assert fields_of(v) == {
        "document.metric.kind": "enum",
        "document.metric.within_days": "range",
        "document.schedule.every": "format",
        "document.window_days": "range",
        "document.colour": "unknown_field",
    }


def test_a_detector_without_cohort_or_comparison_says_what_is_missing() -> None:
    problems = detector_problems({"metric": {"kind": "return_rate"}})
    assert {p.field for p in problems} == {"document.cohort", "document.compare"}
    assert all(p.message for p in problems)


def test_filters_match_values_lists_and_ranges_and_never_an_unknown_attribute() -> None:
    row = {"product.category": "headphones", "order.total": 1299.0, "sales.prior_category_use": False}
    assert matches(row, {"product.category": "headphones"})
    assert matches(row, {"product.category": ["speakers", "headphones"], "order.total": {"min": 1000}})
    assert not matches(row, {"order.total": {"max": 999}})
    assert not matches(row, {"sales.prior_category_use": 0})  # false is not the number 0
    assert not matches(row, {"marketing.creative": "short_video"})


def test_a_detector_is_saved_and_published_through_the_policy_log() -> None:
    svc = services()
    log = PolicyLog(svc.intake)
    saved = log.save(shipped_version(), actor="key:test")
    state = log.publish(saved.name, saved.version, actor="key:test")
    assert state.versions[state.stable or 0].kind == "detector"
    with pytest.raises(ValidationFailed) as refused:
        log.save(with_document({"cohort": {"product.colour": "red"}}), actor="key:test")
    assert refused.value.problems[0].field == "document.cohort / product.colour"
