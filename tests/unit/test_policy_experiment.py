"""A/B reports: arms from recorded decisions, outcomes from the orders' own events, CIs and SRM."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.experiment import compare, sample_ratio
from orderloom.policy.log import PolicyLog
from orderloom.policy.runtime import PolicyRuntime, experiment_report, record_decision

NAME = "douyin_first_order"
T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def test_the_difference_of_two_rates_comes_with_a_confidence_interval_around_it() -> None:
    c = compare((90, 60), (100, 100))
    assert c["stable"] == 0.9 and c["candidate"] == 0.6
    assert c["ci_low"] < -0.3 < c["ci_high"] < 0  # the true difference is inside, and it excludes zero


def test_a_sample_ratio_mismatch_is_flagged_and_a_fair_split_is_not() -> None:
    assert sample_ratio((900, 100), 0.10)["mismatch"] is False
    assert sample_ratio((800, 200), 0.10)["mismatch"] is True


def test_a_planted_late_delivery_effect_shows_in_the_candidate_arm_only() -> None:
    svc = build_services(Settings(db_url="memory://"), clock=ManualClock(T0 + timedelta(days=10)))
    log = PolicyLog(svc.intake)
    v1 = log.save(load_example(NAME), actor="a")
    log.publish(NAME, v1.version, actor="a")
    ex = load_example(NAME)
    # Another version of the same table (without golden cases, so its content and digest differ).
    v2 = log.save(PolicyVersion(NAME, 0, ex.kind, copy.deepcopy(ex.document), ex.input_schema, (), "v2"), actor="a")
    assert v2.version == 2
    log.publish(NAME, v2.version, actor="a", percent=50)
    runtime = PolicyRuntime(log)
    rng = random.Random(3)
    placed = dict(svc.dictionary.types["order.placed"].example)
    data = {"channel": "douyin", "customer": {"first_order": True}, "order_total": 350.0}
    for i in range(400):
        oid = f"OL-X-{i}"
        body = copy.deepcopy(placed["data"])
        body["window"] = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=24)).isoformat()}
        body["customer"]["id"] = f"C-{i}"
        svc.intake.record(
            [
                {
                    "id": f"{oid}-p",
                    "type": "order.placed",
                    "source": "t",
                    "oid": oid,
                    "time": T0.isoformat(),
                    **{**placed, "data": body},
                }
            ]
        )
        d = runtime.decide(NAME, oid, data)
        record_decision(svc, oid, oid, d, data)
        late = rng.random() < (0.40 if d.arm == "candidate" else 0.05)
        when = T0 + timedelta(hours=30 if late else 20)
        ex_del = copy.deepcopy(dict(svc.dictionary.types["delivery.delivered"].example))
        ex_del["data"].pop("shipment", None)
        result = svc.intake.record(
            [
                {
                    "id": f"{oid}-d",
                    "type": "delivery.delivered",
                    "source": "t",
                    "oid": oid,
                    "time": when.isoformat(),
                    **ex_del,
                }
            ]
        )
        assert result[0].status == "accepted", result[0].problems
    rep = experiment_report(svc, NAME)
    assert rep["orders"]["stable"] + rep["orders"]["candidate"] == 400
    assert rep["sample_ratio"]["mismatch"] is False
    on_time = rep["metrics"]["on_time"]
    assert on_time["stable"] > 0.85 and on_time["candidate"] < 0.7
    assert on_time["ci_high"] < 0  # the candidate is worse, and the interval says so
    assert rep["metrics"]["complaint"]["difference"] == 0


def test_a_cost_difference_between_arms_comes_with_a_welch_interval() -> None:
    from orderloom.policy.experiment import compare_means

    r = compare_means([10.0, 11.0, 9.0, 10.0] * 25, [12.0, 13.0, 11.0, 12.0] * 25)
    assert r["difference"] == 2.0 and r["ci_low"] > 1.5 and r["ci_high"] < 2.5
    assert compare_means([1.0], [2.0])["difference"] is None
