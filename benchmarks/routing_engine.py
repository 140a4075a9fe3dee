"""Routing engine figures: per-order decision latency, exact batch re-routing, and capacity pricing.

1. Per-order decision on the shipped China network (50 nodes × 4 services)
   with 14 live signals in force: the shipped Douyin decision policy through
   zen, the signal snapshot, then the scorer with capacity prices — p50/p99.
2. Batch re-route of 12,000 open orders × 50 nodes under capacities with a
   move penalty: OR-Tools min-cost flow at the exact optimum (solver time
   and the whole call).
3. Capacity pricing against that optimum, on the same 12,000 orders: first
   come first served (each order its best node with room), the per-order
   rule with prices from one solve of yesterday's demand, and with prices
   re-solved every 600 orders on what is left; plus how many nodes a
   capacity-blind rule overloads. Reference (issue #4): exact 0.16–0.22 s,
   greedy 2.1 % above optimum, "cost + yesterday's duals" 0.5 % above at
   ~2.5 µs/order, capacity-blind overloading 18 of 50 nodes.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from _common import emit, machine

from orderloom.policy.evaluator import Evaluator
from orderloom.policy.examples import load_example
from orderloom.routing.network import CHINA_YAML, Network, load_network
from orderloom.routing.pricing import DemandGroup, assign_in_turn, assign_with_repricing, solve_prices
from orderloom.routing.reroute import reroute
from orderloom.routing.scoring import Order, OrderLine, Signals, plan, single_node_scores
from orderloom.routing.signals import load_registry, snapshot

ORDERS = 12_000
DECISIONS = 5_000
NOW = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)


def live_signals(net: Network) -> list[dict[str, Any]]:
    """Fourteen signals of eight types, as operations would report them on a busy morning."""
    nodes = [n.id for n in net.nodes]
    t = (NOW - timedelta(minutes=5)).isoformat()
    out: list[dict[str, Any]] = []
    for i, n in enumerate(nodes[:4]):
        out.append({"type": "node.backlog", "target": n, "value": {"hours": 2.0 + i}, "time": t})
    out += [
        {"type": "node.agv_online_rate", "target": nodes[5], "value": {"online_rate": 0.7, "online": 35, "total": 50}},
        {"type": "node.pack_station_load", "target": nodes[6], "value": {"load": 0.9}},
        {"type": "node.sorting_idle_rate", "target": nodes[7], "value": {"idle_rate": 0.76}},
        {"type": "node.sorting_idle_rate", "target": nodes[8], "value": {"idle_rate": 0.1}},
        {"type": "region.weather_alert", "target": "南京", "value": {"level": "orange", "kind": "rainstorm"}},
        {"type": "lane.road_closed", "target": f"{nodes[0]}->合肥", "value": {"closed": True, "reason": "高速封闭"}},
        {"type": "region.power_load", "target": "上海", "value": {"index": 0.7, "period": "day"}},
        {"type": "carrier.driver_saturation", "target": "sf", "value": {"saturation": 0.85, "city": "上海"}},
        {"type": "carrier.capacity", "target": "sf", "value": {"available_orders": 12000, "service": "next_day"}},
        {"type": "node.down", "target": nodes[9], "value": {"down": True, "reason": "停电"}},
    ]
    for s in out:
        s.setdefault("time", t)
    return out


def random_orders(net: Network, count: int, seed: int) -> list[Order]:
    """Orders to the network's cities, busier cities more often, a tenth of them cold chain."""
    rng = np.random.default_rng(seed)
    cities: dict[str, tuple[float, float]] = {}
    for n in net.nodes:
        cities.setdefault(n.city, (n.lat, n.lng))
    names = sorted(cities)
    world = np.random.default_rng(0)  # city weights are the same every day
    weight = world.random(len(names)) ** 2
    picks = rng.choice(len(names), size=count, p=weight / weight.sum())
    skus = sorted({s for n in net.nodes for s in n.stock})
    out = []
    for i, c in enumerate(picks):
        lat, lng = cities[names[int(c)]]
        cold = bool(rng.random() < 0.1)
        sku = skus[int(rng.integers(len(skus)))]
        out.append(Order(str(i), lat + rng.normal(0, 0.05), lng + rng.normal(0, 0.05), names[int(c)],
                         (OrderLine(sku, int(rng.integers(1, 3)), cold),), float(rng.uniform(24, 72))))  # fmt: skip
    return out


def decision_latency(net: Network) -> dict[str, float]:
    """Policy evaluation + signal snapshot + scoring, per order."""
    registry = load_registry()
    raw = live_signals(net)
    policy = load_example("douyin_first_order")
    ev = Evaluator()
    ev.add(policy)
    orders = random_orders(net, DECISIONS, seed=7)
    snap = snapshot(raw, NOW, registry, network=net)
    prices = {n.id: 0.5 for n in net.nodes[:10]}
    times = []
    for i, o in enumerate(orders):
        t0 = time.perf_counter()
        ev.evaluate(policy.name, 1, {"channel": "douyin", "customer": {"first_order": i % 2 == 0}, "order_total": 299})
        plan(o, net, snap, capacity_price=prices)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(200):
        snapshot(raw, NOW, registry, network=net)
    snap_ms = (time.perf_counter() - t0) / 200 * 1000
    q = statistics.quantiles(times, n=100)
    return {
        "decide_p50_ms": round(q[49] * 1000, 3),
        "decide_p99_ms": round(q[98] * 1000, 3),
        "signals": len(raw),
        "snapshot_ms": round(snap_ms, 3),
    }


def batch_and_pricing(net: Network) -> dict[str, float]:
    """Exact re-route of 12,000 orders, and the per-order rule with and without capacity prices."""
    quiet = Signals()
    today = [single_node_scores(o, net, quiet) for o in random_orders(net, ORDERS, seed=2)]
    blind, _ = assign_in_turn(today, {})
    load = {n.id: 0 for n in net.nodes}
    for b in blind:
        if b is not None:
            load[b] += 1
    # Capacity: the popular nodes can take only 70 % of what a capacity-blind rule sends them
    # (at least half an even share each), so capacity binds where it matters and the rest have room.
    cap = {n.id: float(max(ORDERS // (2 * len(net.nodes)), int(0.7 * load[n.id]))) for n in net.nodes}
    current = {str(i): b for i, b in enumerate(blind)}
    arcs = [(str(i), n, round(100 * s)) for i, scores in enumerate(today) for n, s in scores.items()]
    # Orders with few candidate nodes would be unplaceable: give their nodes just enough room back.
    for oid in reroute(current, arcs, {n: int(c) for n, c in cap.items()}).unplaced:
        if current[oid] is not None:
            cap[str(current[oid])] += 1
    overloaded = sum(1 for n, c in cap.items() if load[n] > c)
    t0 = time.perf_counter()
    exact = reroute(current, arcs, {n: int(c) for n, c in cap.items()}, move_penalty=0)
    exact_s = time.perf_counter() - t0
    optimum = exact.total_cost / 100
    if exact.unplaced:
        raise SystemExit(f"BENCHMARK FAILED: the instance leaves {len(exact.unplaced)} orders unplaceable")

    t0 = time.perf_counter()
    exact_moves = reroute(current, arcs, {n: int(c) for n, c in cap.items()}, move_penalty=200)
    moves_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    fcfs_nodes, fcfs = assign_in_turn(today, cap)
    fcfs_us = (time.perf_counter() - t0) / ORDERS * 1e6

    # Yesterday's demand by destination city and product: the count, and the scores of a typical order.
    groups: dict[tuple[str, str, bool], list[Order]] = {}
    for o in random_orders(net, ORDERS, seed=1):
        groups.setdefault((o.city, o.lines[0].sku, o.lines[0].cold_chain), []).append(o)
    expected = [
        DemandGroup("/".join(map(str, k)), len(v), single_node_scores(v[0], net, quiet)) for k, v in groups.items()
    ]
    t0 = time.perf_counter()
    solve = solve_prices(expected, cap)
    lp_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    once_nodes, once = assign_in_turn(today, cap, solve.prices)
    once_us = (time.perf_counter() - t0) / ORDERS * 1e6
    t0 = time.perf_counter()
    resolved_nodes, resolved, solves = assign_with_repricing(today, cap, expected, every=600)
    resolved_s = time.perf_counter() - t0
    return {
        "batch_orders": ORDERS,
        "batch_nodes": len(net.nodes),
        "exact_reroute_s": round(exact_s, 3),
        "exact_reroute_with_move_penalty_s": round(moves_s, 3),
        "exact_moved_orders": len(exact_moves.moves),
        "capacity_blind_overloaded_nodes": overloaded,
        "fcfs_above_optimum_pct": round(100 * (fcfs / optimum - 1), 2),
        "fcfs_us_per_order": round(fcfs_us, 2),
        "fcfs_unplaced": sum(1 for n in fcfs_nodes if n is None),
        "prices_once_unplaced": sum(1 for n in once_nodes if n is None),
        "prices_resolved_unplaced": sum(1 for n in resolved_nodes if n is None),
        "prices_once_above_optimum_pct": round(100 * (once / optimum - 1), 2),
        "prices_once_us_per_order": round(once_us, 2),
        "price_lp_s": round(lp_s, 3),
        "prices_resolved_above_optimum_pct": round(100 * (resolved / optimum - 1), 2),
        "prices_resolved_solves": solves,
        "prices_resolved_us_per_order": round(resolved_s / ORDERS * 1e6, 2),
    }


def main() -> None:
    """Print each figure, then the JSON line."""
    print(f"machine: {machine()}")
    net = load_network(CHINA_YAML)
    figures = decision_latency(net)
    print(
        f"per-order decision (policy + scorer, {len(net.nodes)} nodes × {len(net.services)} services, "
        f"{figures['signals']} signals): p50 {figures['decide_p50_ms']} ms, p99 {figures['decide_p99_ms']} ms "
        f"(target p99 ≤ 2 ms); signal snapshot {figures['snapshot_ms']} ms"
    )
    more = batch_and_pricing(net)
    figures |= more
    print(
        f"exact re-route {ORDERS:,} × {more['batch_nodes']}: {more['exact_reroute_s']} s "
        f"({more['exact_reroute_with_move_penalty_s']} s with a move penalty, {more['exact_moved_orders']} moved); "
        "reference 0.16–0.22 s, target ≤ 0.5 s"
    )
    print(f"capacity-blind per-order rule overloads {more['capacity_blind_overloaded_nodes']} of 50 nodes (ref. 18)")
    print(
        f"first come first served: {more['fcfs_above_optimum_pct']} % above optimum, "
        f"{more['fcfs_unplaced']} orders left without a node (ref. greedy 2.1 %)"
    )
    print(
        f"prices from one solve of yesterday: {more['prices_once_above_optimum_pct']} % above optimum, "
        f"{more['prices_once_unplaced']} unplaced, "
        f"{more['prices_once_us_per_order']} µs/order, LP {more['price_lp_s']} s (ref. 0.5 %, ~2.5 µs/order)"
    )
    print(
        f"prices re-solved every 600 orders ({more['prices_resolved_solves']} solves): "
        f"{more['prices_resolved_above_optimum_pct']} % above optimum, "
        f"{more['prices_resolved_unplaced']} unplaced, {more['prices_resolved_us_per_order']} µs/order"
    )
    emit(figures)


if __name__ == "__main__":
    main()
