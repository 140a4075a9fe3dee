"""Capacity prices from the exact solve, and the per-order rule that uses them."""

from __future__ import annotations

import numpy as np
import pytest

from orderloom.core.errors import ValidationFailed
from orderloom.routing.pricing import (
    CapacityPricer,
    DemandGroup,
    assign_in_turn,
    assign_with_repricing,
    solve_prices,
)
from orderloom.routing.reroute import reroute


def test_a_full_node_is_priced_at_what_moving_its_marginal_order_costs() -> None:
    solve = solve_prices([DemandGroup("nj", 10, {"A": 10.0, "B": 14.0})], {"A": 6, "B": 100})
    assert solve.prices["A"] == pytest.approx(4.01)
    assert solve.prices["B"] == pytest.approx(0.0)
    assert solve.binding == ("A",)
    assert solve.objective == pytest.approx(6 * 10 + 4 * 14)


def test_nodes_with_room_cost_nothing_extra() -> None:
    solve = solve_prices([DemandGroup("nj", 10, {"A": 10.0, "B": 14.0})], {"A": 60, "B": 100})
    assert solve.prices == {"A": 0.0, "B": 0.0}
    assert solve.binding == ()
    assert solve.unserved == 0


def test_demand_beyond_every_capacity_is_left_unserved_and_caps_the_price() -> None:
    solve = solve_prices([DemandGroup("nj", 10, {"A": 10.0})], {"A": 4}, unserved_cost=50.0)
    assert solve.unserved == pytest.approx(6)
    assert solve.prices["A"] == pytest.approx(40.01)


def test_negative_capacity_is_refused_with_the_node_named() -> None:
    with pytest.raises(ValidationFailed) as err:
        solve_prices([DemandGroup("nj", 1, {"A": 1.0})], {"A": -1})
    assert err.value.problems[0].field == "capacity.A"


def _instance(seed: int, orders: int, nodes: int) -> tuple[list[dict[str, float]], dict[str, float]]:
    world = np.random.default_rng(0)  # the same network and cities every day; only the orders differ
    xy = world.random((nodes, 2)) * 10
    cities = world.random((20, 2)) * 10
    weight = world.random(20) ** 2
    rng = np.random.default_rng(seed)
    pick = rng.choice(20, size=orders, p=weight / weight.sum())
    arrivals = []
    for c in pick:
        d = np.hypot(*(xy - cities[c]).T)
        arrivals.append({f"N{j}": float(5 + 3 * d[j]) for j in range(nodes)})
    capacity = {f"N{j}": float(int(1.15 * orders / nodes)) for j in range(nodes)}
    return arrivals, capacity


def test_prices_re_solved_on_what_is_left_bring_the_per_order_rule_close_to_the_exact_optimum() -> None:
    yesterday, capacity = _instance(1, 3000, 10)
    today, _ = _instance(2, 3000, 10)
    groups: dict[str, list[dict[str, float]]] = {}
    for s in yesterday:
        groups.setdefault(str(sorted(s.items())), []).append(s)
    expected = [DemandGroup(k, len(v), v[0]) for k, v in groups.items()]
    arcs = [(str(i), n, round(100 * s)) for i, scores in enumerate(today) for n, s in scores.items()]
    exact = reroute(dict.fromkeys(map(str, range(len(today)))), arcs, {n: int(c) for n, c in capacity.items()})
    optimum = exact.total_cost / 100
    _, plain = assign_in_turn(today, capacity)
    picks, priced, solves = assign_with_repricing(today, capacity, expected, every=150)
    assert solves == 20
    assert all(p is not None for p in picks)
    assert plain > optimum * 1.04  # first come, first served fills the cheap nodes and strands the rest
    assert priced <= optimum * 1.015  # with prices: within 1.5 % of the optimum
    blind, _ = assign_in_turn(today, {})
    overloaded = {n for n in capacity if sum(1 for b in blind if b == n) > capacity[n]}
    assert overloaded  # ignoring capacity overloads nodes, which is why prices are needed


def test_the_pricer_resolves_each_period_and_forgets_old_demand() -> None:
    pricer = CapacityPricer(period=1.0, window=2.0, capacity={"A": 3, "B": 100})
    for i in range(6):
        pricer.observe(0.1 * i, "nj", {"A": 10.0, "B": 12.0})
    assert pricer.prices(0.6)["A"] == pytest.approx(2.01)
    assert pricer.prices(1.0)["A"] == pytest.approx(2.01)  # same solve: not a period old yet
    assert pricer.prices(5.0)["A"] == 0.0  # the burst is older than the window


def test_the_pricer_keeps_no_group_whose_orders_all_left_the_window() -> None:
    pricer = CapacityPricer(period=1.0, window=2.0, capacity={"A": 3, "B": 100})
    for i in range(50):
        pricer.observe(0.01 * i, f"city-{i}|SKU-{i}", {"A": 10.0, "B": 12.0})
    pricer.observe(4.5, "nj|YOG", {"A": 10.0, "B": 12.0})
    pricer.prices(5.0)
    assert set(pricer.demand) == {"nj|YOG"}  # a long-running worker does not keep every mix it ever routed
    assert pricer.demand["nj|YOG"][0] == 1.0
