"""Root causes: the planted firmware x model comes first with the right rates; nothing stands out without a plant."""

from __future__ import annotations

from functools import cache

import pytest

from orderloom.core.errors import ValidationFailed
from orderloom.sim.fieldops import FieldOpsPlan, FieldOpsResult, generate
from orderloom.status.monitors.model import Monitor
from orderloom.status.monitors.rootcause import (
    Profile,
    Report,
    Settings,
    _adjust,
    profiles_from_store,
    root_causes,
)
from tests.unit._support import shipped
from tests.unit.test_monitor_rig import engine, services

MONITOR = "forward_wh_check_missing"


@cache
def analysed(planted: bool, seed: int) -> tuple[FieldOpsResult, Report, int]:
    """Generated field operations, the monitors run over them, and the root causes of missing checks."""
    svc = services()
    plan = FieldOpsPlan(orders=1200, seed=seed, plant=FieldOpsPlan().plant if planted else None)
    truth = generate(svc, plan)
    eng = engine(svc)
    eng.scan()
    monitor = eng.monitors.get(MONITOR)
    assert monitor is not None
    found = profiles_from_store(svc.store, svc.dictionary, monitor)
    return truth, root_causes(found, monitor, svc.dictionary), len(found)


@pytest.mark.slow
def test_the_planted_firmware_on_its_model_is_the_first_cause_with_the_right_rates() -> None:
    truth, report, applicable = analysed(True, 11)
    assert report.orders == applicable == truth.orders  # every order went through a forward warehouse
    first = report.causes[0]
    assert dict(first.items) == {"forward_wh.firmware": "3.4.1", "forward_wh.model": "UROVO-DT50"}
    # Exactly the scans the plan dropped; the ones uploaded late were late, not missing.
    assert (first.n, first.hits) == (truth.planted_orders, truth.planted_dropped)
    assert (first.rest_n, first.rest_hits) == (truth.other_orders, truth.other_dropped)
    assert 0.08 < first.rate < 0.16 and first.rest_rate < 0.01
    assert first.p < 1e-6 and first.p_adjusted <= 0.01 and truth.late_scans > 0
    assert first.sentence.startswith("firmware 3.4.1 on model UROVO-DT50 (forward warehouse): ")
    assert f"(n={truth.planted_orders}, p=" in first.sentence and "missing vs" in first.sentence
    # The firmware alone and the model alone ride along with it: explained, not causes of their own.
    explained = {g.items: g.explained_by for g in report.explained}
    assert explained[(("forward_wh.firmware", "3.4.1"),)] == first.sentence
    assert all(c.p_adjusted <= 0.01 for c in report.causes)
    assert len(report.causes) == 1


@pytest.mark.slow
def test_nothing_stands_out_without_a_planted_cause() -> None:
    truth, report, _ = analysed(False, 11)
    assert truth.planted_orders == 0 and report.with_finding > 0 and report.tested > 0
    assert report.causes == [] and report.explained == []


def _profiles(spec: list[tuple[int, int, dict[str, str]]]) -> list[Profile]:
    """(orders, of which with the finding, attributes) -> profiles."""
    out = []
    for count, hits, attrs in spec:
        items = frozenset((f"forward_wh.{k}", v) for k, v in attrs.items())
        out += [Profile(f"o{len(out) + i}", i < hits, items) for i in range(count)]
    return out


def _monitor() -> Monitor:
    return Monitor(
        "forward_wh_check_missing",
        "missing_step",
        {"zh": "缺失", "en": "Missing"},
        "warning",
        "test",
        when=("leader.signed",),
        expect=("forward_wh.check_passed",),
    )


def test_a_firmware_bad_on_every_model_is_reported_as_the_firmware_not_a_pair() -> None:
    found = _profiles(
        [
            (300, 36, {"firmware": "3.4.1", "model": "DT50"}),
            (300, 36, {"firmware": "3.4.1", "model": "I6310"}),
            (600, 2, {"firmware": "3.5.0", "model": "DT50"}),
            (600, 2, {"firmware": "3.5.0", "model": "I6310"}),
        ]
    )
    report = root_causes(found, _monitor(), shipped())
    assert [c.items for c in report.causes] == [(("forward_wh.firmware", "3.4.1"),)]
    assert report.causes[0].n == 600 and report.causes[0].hits == 72


def test_a_small_excess_is_not_significant_after_correction() -> None:
    found = _profiles([(100, 3, {"node": f"N{i}"}) for i in range(10)] + [(100, 6, {"node": "N10"})])
    assert root_causes(found, _monitor(), shipped()).causes == []


def test_holm_and_benjamini_hochberg_adjust_as_textbooks_say() -> None:
    ps = [0.01, 0.04, 0.03, 0.005]
    assert _adjust(ps, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert _adjust(ps, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # Correcting for more hypotheses than were given only raises the bounds.
    assert _adjust([0.01], "holm", family=10) == pytest.approx([0.1])


def test_settings_out_of_range_are_named() -> None:
    with pytest.raises(ValidationFailed) as caught:
        root_causes([], _monitor(), shipped(), Settings(alpha=2, correction="bonferroni", min_support=1))
    assert {p.field for p in caught.value.problems} == {"alpha", "correction", "min_support"}
