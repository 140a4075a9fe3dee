"""Policies in the log: versions, publishing with gray release, rollback, and refusals."""

from __future__ import annotations

import copy

import pytest

from orderloom.bootstrap import build_services
from orderloom.core.errors import NotFound, ValidationFailed
from orderloom.core.settings import Settings
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.log import PolicyLog, stream_of
from orderloom.status.verify import verify_stream


def log() -> PolicyLog:
    return PolicyLog(build_services(Settings(db_url="memory://")).intake)


def changed_threshold(v: PolicyVersion, threshold: str) -> PolicyVersion:
    doc = copy.deepcopy(v.document)
    for node in doc["nodes"]:
        for rule in node.get("content", {}).get("rules", []):
            for k, cell in list(rule.items()):
                if cell == ">= 299":
                    rule[k] = threshold
    return PolicyVersion(v.name, 1, v.kind, doc, v.input_schema, v.tests, "new threshold")


def test_saving_numbers_versions_and_identical_content_is_not_a_new_version() -> None:
    pl = log()
    first = pl.save(load_example("douyin_first_order"), actor="key:strategy")
    again = pl.save(load_example("douyin_first_order"), actor="key:strategy")
    assert first.version == again.version == 1
    second = pl.save(changed_threshold(first, ">= 199"), actor="key:strategy")
    assert second.version == 2
    assert sorted(pl.state(first.name).versions) == [1, 2]


def test_a_version_that_fails_lint_is_refused_on_save() -> None:
    pl = log()
    broken = changed_threshold(load_example("douyin_first_order"), ">= 299 +")
    with pytest.raises(ValidationFailed) as info:
        pl.save(broken, actor="key:strategy")
    assert info.value.problems and pl.state(broken.name).versions == {}


def test_publishing_requires_passing_golden_tests_and_a_failing_version_is_refused() -> None:
    pl = log()
    good = pl.save(load_example("douyin_first_order"), actor="key:strategy")
    pl.publish(good.name, good.version, actor="key:strategy")
    # A valid table whose behaviour no longer matches its own golden tests.
    bad = pl.save(changed_threshold(good, ">= 399"), actor="key:strategy")
    with pytest.raises(ValidationFailed):
        pl.publish(bad.name, bad.version, actor="key:strategy")
    assert pl.state(good.name).stable == good.version


def test_a_gray_release_keeps_units_in_their_arm_as_the_percentage_rises_and_rollback_is_instant() -> None:
    pl = log()
    v1 = pl.save(load_example("douyin_first_order"), actor="a")
    pl.publish(v1.name, 1, actor="a")
    lowered = changed_threshold(v1, ">= 199")
    # The shipped golden cases pin the ¥299 threshold, so this experiment carries none of its own.
    v2 = pl.save(PolicyVersion(v1.name, 0, v1.kind, lowered.document, v1.input_schema, ()), actor="a")
    state = pl.publish(v1.name, v2.version, actor="a", percent=10)
    units = [f"OL-{i}" for i in range(2000)]
    at10 = {u for u in units if state.serving(u) == v2.version}
    state = pl.publish(v1.name, v2.version, actor="a", percent=50)
    at50 = {u for u in units if state.serving(u) == v2.version}
    assert at10 <= at50 and 100 < len(at10) < 300 and 850 < len(at50) < 1150
    state = pl.rollback(v1.name, 1, actor="a", reason="complaints")
    assert all(state.serving(u) == 1 for u in units)
    assert [h["type"] for h in state.history][-1] == "policy.rolled_back"


def test_every_change_is_an_audited_event_in_a_verifiable_stream() -> None:
    pl = log()
    v1 = pl.save(load_example("douyin_first_order"), actor="key:alice")
    pl.publish(v1.name, 1, actor="key:bob")
    events = pl.intake.store.read_stream(stream_of(v1.name))
    assert [(e.type, e.actor) for e in events] == [
        ("policy.version_saved", "key:alice"),
        ("policy.published", "key:bob"),
    ]
    assert verify_stream(stream_of(v1.name), events).ok


def test_unknown_versions_and_gray_release_without_a_stable_version_are_refused() -> None:
    pl = log()
    v1 = pl.save(load_example("douyin_first_order"), actor="a")
    with pytest.raises(NotFound):
        pl.publish(v1.name, 7, actor="a")
    with pytest.raises(ValidationFailed):
        pl.publish(v1.name, 1, actor="a", percent=10)


def test_a_gray_release_limited_to_a_segment_leaves_everyone_else_on_the_stable_version() -> None:
    pl = log()
    v1 = pl.save(load_example("douyin_first_order"), actor="a")
    pl.publish(v1.name, 1, actor="a")
    lowered = changed_threshold(v1, ">= 199")
    v2 = pl.save(PolicyVersion(v1.name, 0, v1.kind, lowered.document, v1.input_schema, ()), actor="a")
    state = pl.publish(v1.name, v2.version, actor="a", percent=100 - 1e-9, segment={"channel": ["douyin"]})
    douyin = {"channel": "douyin", "customer": {"first_order": True}, "order_total": 300.0}
    taobao = {**douyin, "channel": "taobao"}
    units = [f"OL-{i}" for i in range(300)]
    assert all(state.serving(u, taobao) == 1 for u in units)
    assert sum(state.serving(u, douyin) == v2.version for u in units) > 290
    with pytest.raises(ValidationFailed):
        pl.publish(v1.name, v2.version, actor="a", percent=50, segment={"channel": "douyin"})  # type: ignore[dict-item]


def test_the_audit_history_shows_what_each_saved_version_changed() -> None:
    pl = log()
    v1 = pl.save(load_example("douyin_first_order"), actor="key:alice")
    pl.save(changed_threshold(v1, ">= 199"), actor="key:bob")
    history = pl.state(v1.name).history
    assert history[0]["changes"] == ["first version"]
    assert history[1]["actor"] == "key:bob" and any(">= 199" in c for c in history[1]["changes"])
