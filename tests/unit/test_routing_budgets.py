"""Budget goals: an average spend per order per period, held by making cost count more while over it."""

from __future__ import annotations

from datetime import UTC, datetime

from orderloom.policy.lint import lint
from orderloom.policy.model import PolicyVersion
from orderloom.routing import Signals, plan
from orderloom.routing.budgets import Budget, BudgetBook, budget_problems
from tests.unit.test_routing_learner import ev
from tests.unit.test_routing_scoring import MINI, NANJING_ORDER

EAST_NEW = Budget("east_new", max_avg_cost=86.0, regions=frozenset({"江苏省", "上海市"}), new_customers=True)
NEW_IN_JIANGSU = {"destination": {"region": "江苏省", "city": "南京市"}, "customer": {"new_customer": True}}
OLD_IN_JIANGSU = {"destination": {"region": "江苏省", "city": "南京市"}, "customer": {"new_customer": False}}
NOV = datetime(2026, 11, 20, tzinfo=UTC)


def spent(costs: list[float], placed: dict[str, object] = NEW_IN_JIANGSU) -> BudgetBook:
    book = BudgetBook()
    book.configure((EAST_NEW,))
    events = []
    for i, c in enumerate(costs):
        events.append(ev(2 * i, f"B{i}", "order.placed", placed, 0))
        events.append(ev(2 * i + 1, f"B{i}", "routing.decided", {"node": "SH-CWH", "cost": c}, 1))
    book.learn(events)
    return book


def test_a_budget_covers_only_the_orders_it_names() -> None:
    assert EAST_NEW.covers(NEW_IN_JIANGSU)
    assert not EAST_NEW.covers(OLD_IN_JIANGSU)
    assert not EAST_NEW.covers({"destination": {"region": "四川省"}, "customer": {"new_customer": True}})


def test_within_budget_cost_counts_as_usual() -> None:
    m, why = spent([80.0, 90.0, 70.0]).multiplier(NEW_IN_JIANGSU, datetime(2026, 5, 3, tzinfo=UTC))
    assert m == 0.0
    assert "average ¥80.00 over 3 orders in 2026-Q2" in why[0] and "within budget" in why[0]


def test_over_budget_cost_counts_more_in_proportion_to_the_overrun_and_only_for_covered_orders() -> None:
    book = spent([100.0, 106.0])  # average 103, 19.8 % over 86
    m, why = book.multiplier(NEW_IN_JIANGSU, datetime(2026, 5, 3, tzinfo=UTC))
    assert abs(m - 4.0 * (103 / 86 - 1)) < 1e-9
    assert "cost counts ×1.79" in why[0]
    assert book.multiplier(OLD_IN_JIANGSU, NOV) == (0.0, [])


def test_spend_is_counted_per_period_and_a_reroute_replaces_the_orders_cost() -> None:
    book = spent([100.0])
    book.learn([ev(9, "B0", "routing.rerouted", {"node": "CD-CWH", "cost": 60.0}, 2)])
    spend = book.spend[("east_new", "2026-Q2")]
    assert (spend.orders, spend.cost) == (1, 60.0)
    assert book.multiplier(NEW_IN_JIANGSU, NOV)[0] == 0.0  # a new quarter starts from nothing


def test_over_budget_the_cheaper_plan_wins_and_the_breakdown_shows_the_budget_term() -> None:
    quiet = Signals()
    usual = plan(NANJING_ORDER, MINI, quiet)
    assert usual.chosen is not None
    pressed = plan(NANJING_ORDER, MINI, quiet, budget=3.0)
    assert pressed.chosen is not None
    assert pressed.chosen.breakdown["budget"] == 3.0 * pressed.chosen.breakdown["cost"]
    assert pressed.chosen.breakdown["cost"] <= usual.chosen.breakdown["cost"]


def test_budget_mistakes_are_named_by_budget_and_field() -> None:
    bad = [{"id": "a", "max_avg_cost": 0}, {"id": "a", "max_avg_cost": 5, "period": "week", "colour": 1}, 3]
    found = {(p.field, p.rule) for p in budget_problems(bad)}
    assert found == {
        ("document.budgets[0].max_avg_cost", "range"),
        ("document.budgets[1].id", "unique"),
        ("document.budgets[1].period", "enum"),
        ("document.budgets[1].colour", "unknown_field"),
        ("document.budgets[2]", "type"),
    }


def test_a_routing_profile_with_a_bad_budget_does_not_lint() -> None:
    doc = {"weights": {"cost": 1}, "budgets": [{"id": "east_new", "max_avg_cost": -86}]}
    problems = lint(PolicyVersion("routing_default", 1, "routing_profile", doc, {}))
    assert "document.budgets[0].max_avg_cost" in [p.field for p in problems]
    doc["budgets"] = [{"id": "east_new", "max_avg_cost": 86, "regions": ["江苏省"], "new_customers": True}]
    fine = lint(PolicyVersion("routing_default", 1, "routing_profile", doc, {}))
    assert not [p for p in fine if p.field.startswith("document.budgets")]
