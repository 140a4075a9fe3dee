"""Routing policies in the network twin: nearest-node, cheapest-node and the dynamic engine on the same seeds.

Runs every shipped scenario under the three policies (same orders, same network,
same costs), prints the table and, per scenario, whether the dynamic engine beats
both static baselines on cost and on on-time rate (and leaves 0 orders
interrupted in the storm). Cost per order is shipping (node unit cost + carrier
price) plus late fees at the scenario's ¥ per hour late; shipping alone is shown too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _common import emit, machine

from orderloom.sim.twin import POLICIES, Report, load_scenario, simulate

SCENARIOS = Path(__file__).resolve().parents[1] / "src" / "orderloom" / "sim" / "scenarios"
SHORT = {"east_china_congestion": "east_china", "storm_nanjing": "storm", "promo_peak": "promo"}


def main() -> None:
    """Run all scenarios x policies and print the table, the verdicts and the JSON line."""
    print(f"machine: {machine()}")
    head = f"{'scenario':22} {'policy':9} {'orders':>7} {'¥/order':>8} {'ship ¥':>7} {'on-time':>8}"
    print(head + f" {'avg days':>8} {'interr.':>7} {'rerouted':>8} {'kg CO2':>7} {'busiest node':>20} {'secs':>6}")
    figures: dict[str, Any] = {}
    verdicts: list[str] = []
    total = time.perf_counter()
    for path in sorted(SCENARIOS.glob("*.yaml")):
        sc = load_scenario(path)
        key = SHORT.get(sc.name, sc.name)
        runs: dict[str, Report] = {}
        for policy in POLICIES:
            t0 = time.perf_counter()
            r = simulate(sc, policy)
            secs = time.perf_counter() - t0
            runs[policy] = r
            node, util = r.max_utilisation
            print(
                f"{sc.name:22} {policy:9} {r.orders:7d} {r.cost_per_order:8.2f} {r.ship_cost_per_order:7.2f}"
                f" {r.on_time_rate:8.1%} {r.avg_delivery_days:8.2f} {r.interrupted:7d} {r.rerouted:8d}"
                f" {r.co2_kg_per_order:7.2f} {node + f' {util:.0%}':>20} {secs:6.2f}"
            )
            figures[f"{key}_{policy}_cost_per_order"] = round(r.cost_per_order, 2)
            figures[f"{key}_{policy}_on_time_pct"] = round(100 * r.on_time_rate, 2)
            figures[f"{key}_{policy}_interrupted"] = r.interrupted
            figures[f"{key}_{policy}_co2_kg_per_order"] = round(r.co2_kg_per_order, 3)
            figures[f"{key}_{policy}_seconds"] = round(secs, 3)
        verdicts.append(_verdict(sc.name, key, runs, figures))
    print()
    for v in verdicts:
        print(v)
    figures["total_seconds"] = round(time.perf_counter() - total, 2)
    print(f"all scenarios x policies in {figures['total_seconds']:.1f} s")
    emit(figures)


def _verdict(name: str, key: str, runs: dict[str, Report], figures: dict[str, Any]) -> str:
    dyn, base = runs["dynamic"], [runs["nearest"], runs["cheapest"]]
    cost = all(dyn.cost_per_order < b.cost_per_order for b in base)
    on_time = all(dyn.on_time_rate > b.on_time_rate for b in base)
    figures[f"{key}_dynamic_beats_cost"] = cost
    figures[f"{key}_dynamic_beats_on_time"] = on_time
    lost = [
        f"{what} vs {b.policy} ({mine} vs {theirs})"
        for b in base
        for what, mine, theirs, ok in (
            ("cost", f"¥{dyn.cost_per_order:.2f}", f"¥{b.cost_per_order:.2f}", dyn.cost_per_order < b.cost_per_order),
            ("on-time", f"{dyn.on_time_rate:.1%}", f"{b.on_time_rate:.1%}", dyn.on_time_rate > b.on_time_rate),
        )
        if not ok
    ]
    text = f"{name}: dynamic beats both baselines on cost and on-time: {'yes' if not lost else 'NO'}"
    if lost:
        text += " — does not beat on " + "; ".join(lost)
    if key == "storm":
        figures["storm_dynamic_interrupted"] = dyn.interrupted
        text += f"; dynamic interrupted orders: {dyn.interrupted} ({'ok' if dyn.interrupted == 0 else 'NOT 0'})"
    return text


if __name__ == "__main__":
    main()
