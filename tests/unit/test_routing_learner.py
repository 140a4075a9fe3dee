"""The learner turns outcomes into a lateness risk per node × service × city, and the scorer uses it."""

from __future__ import annotations

from orderloom.core.envelope import StoredEvent
from orderloom.routing import Signals, plan
from orderloom.routing.learner import MIN_SAMPLES, LatenessLearner
from tests.unit.test_routing_scoring import MINI, NANJING_ORDER


def ev(n: int, oid: str, etype: str, data: dict[str, object], hour: int) -> StoredEvent:
    return StoredEvent(
        f"e{n}",
        etype,
        "t",
        oid,
        f"2026-05-0{1 + hour // 24}T{hour % 24:02d}:00:00.000000Z",
        data,
        None,
        None,
        {},
        1,
        n,
        n,
        "0" * 64,
        "0" * 64,
        "2026-05-01T00:00:00.000000Z",
    )


def history(late_share: float, orders: int = 20, service: str = "air") -> list[StoredEvent]:
    out = []
    for i in range(orders):
        oid = f"O{service}{i}"
        out.append(
            ev(
                3 * i,
                oid,
                "order.placed",
                {"destination": {"city": "南京市"}, "window": {"end": "2026-05-02T00:00:00Z"}},
                0,
            )
        )
        out.append(ev(3 * i + 1, oid, "routing.decided", {"node": "SH-CWH", "service": service}, 1))
        hour = 30 if i < late_share * orders else 20  # after or before the window's end
        out.append(ev(3 * i + 2, oid, "delivery.delivered", {}, hour))
    return out


def test_outcomes_become_a_posterior_per_node_service_and_city() -> None:
    learner = LatenessLearner()
    learner.learn(history(0.75))
    p = learner.posteriors[("SH-CWH", "air", "南京")]
    assert (p.late, p.on_time) == (15, 5) and abs(p.mean - 16 / 22) < 1e-9
    assert learner.risk("SH-CWH", "air", "南京") == p.mean  # explore 0: the mean, no randomness
    assert learner.risk("CD-CWH", "air", "南京") is None  # nothing known, nothing claimed


def test_too_few_outcomes_claim_nothing() -> None:
    learner = LatenessLearner()
    learner.learn(history(1.0, orders=MIN_SAMPLES - 1))
    assert learner.risk("SH-CWH", "air", "南京") is None


def test_a_node_that_keeps_delivering_late_loses_the_order_and_the_explanation_shows_the_learned_term() -> None:
    quiet = Signals()
    before = plan(NANJING_ORDER, MINI, quiet)
    assert before.chosen is not None and before.chosen.node_ids == ("SH-CWH",)
    learner = LatenessLearner()
    learner.learn(history(0.95) + history(0.95, service="road"))  # late by air and by road alike
    after = plan(NANJING_ORDER, MINI, quiet, learned=learner.risk)
    assert after.chosen is not None and after.chosen.node_ids == ("CD-CWH",)
    shanghai = next(a for a in after.alternatives if a.node_ids == ("SH-CWH",))
    assert shanghai.breakdown["learned"] > 0 and after.chosen.breakdown["learned"] == 0


def test_exploration_stays_within_the_bound_the_policy_sets() -> None:
    learner = LatenessLearner(explore=0.3, seed=7)
    learner.learn(history(0.5))
    mean = learner.posteriors[("SH-CWH", "air", "南京")].mean
    draws = [learner.risk("SH-CWH", "air", "南京") for _ in range(500)]
    assert all(d is not None and 0 <= d <= 1 for d in draws)
    assert max(abs(d - mean) for d in draws if d is not None) <= 0.3  # never further than explore x |draw - mean|
    assert len({round(d or 0, 6) for d in draws}) > 100  # it does explore


def rejections(given: int, refused: int) -> list[StoredEvent]:
    out = []
    for i in range(given):
        out.append(ev(2 * i, f"R{i}", "routing.decided", {"node": "SH-CWH", "service": "air"}, 1))
        if i < refused:
            out.append(ev(2 * i + 1, f"R{i}", "node.rejected", {"node": "SH-CWH", "reason": "short_pick"}, 2))
    return out


def test_a_node_that_never_refused_carries_no_rejection_risk() -> None:
    learner = LatenessLearner()
    learner.learn(rejections(10, 0))
    assert learner.reject_risk("SH-CWH") is None
    assert learner.reject_risk("CD-CWH") is None


def test_a_node_that_keeps_refusing_is_priced_by_its_history_and_loses_the_next_order() -> None:
    learner = LatenessLearner()
    learner.learn(rejections(10, 6))
    p = learner.refusals["SH-CWH"]
    assert (p.late, p.on_time) == (6, 4)
    assert learner.reject_risk("SH-CWH") == (6 + 1) / (10 + 2)
    after = plan(NANJING_ORDER, MINI, Signals(), rejects=learner.reject_risk)
    assert after.chosen is not None and after.chosen.node_ids == ("CD-CWH",)
    shanghai = next(a for a in after.alternatives if a.node_ids == ("SH-CWH",))
    assert shanghai.breakdown["rejections"] > 0 and after.chosen.breakdown["rejections"] == 0
