"""The network twin: deterministic per seed, disruptions hurt static policies, recorded events are valid."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.errors import ValidationFailed
from orderloom.core.settings import Settings
from orderloom.sim.twin import Scenario, load_scenario, parse_scenario, simulate

SCENARIOS = Path(__file__).resolve().parents[2] / "src" / "orderloom" / "sim" / "scenarios"


def small(**over: Any) -> Scenario:
    raw: dict[str, Any] = {
        "name": "small",
        "network": "china",
        "days": 1,
        "seed": 5,
        "arrivals": {
            "per_hour": 12,
            "window_hours": 24,
            "cold_chain_share": 0.1,
            "cities": {"南京": 2, "上海": 1},
            "skus": {"HP-PRO-X": 1, "TEA-GIFT-BOX": 1},
        },
        "disruptions": [],
    }
    raw.update(over)
    return parse_scenario(raw)


def test_the_same_seed_gives_the_same_report() -> None:
    sc = small()
    assert simulate(sc, "dynamic") == simulate(sc, "dynamic")
    assert simulate(sc, "nearest").orders == simulate(sc, "dynamic").orders


def test_a_down_node_delays_or_interrupts_static_policies_but_not_the_dynamic_one() -> None:
    down = [{"kind": "node_down", "nodes": ["NJ-FWH", "SH-CWH"], "at_hour": 2, "hours": 20}]
    sc = small(disruptions=down)
    dyn = simulate(sc, "dynamic")
    assert dyn.interrupted == 0
    assert dyn.on_time_rate == 1.0
    for policy in ("nearest", "cheapest"):
        r = simulate(sc, policy)
        assert r.interrupted > 0 or r.on_time_rate < 1.0


def test_closed_lanes_interrupt_static_orders_and_dynamic_reroutes_around_them() -> None:
    closed = [{"kind": "lanes_closed", "city": "南京", "nodes": ["SH-CWH", "NJ-FWH"], "at_hour": 0, "hours": 30}]
    sc = small(disruptions=closed)
    assert simulate(sc, "cheapest").interrupted > 0
    assert simulate(sc, "dynamic").interrupted == 0


def test_every_recorded_event_is_accepted_by_intake() -> None:
    sc = small(disruptions=[{"kind": "node_down", "nodes": ["NJ-FWH"], "at_hour": 1, "hours": 6}])
    batches: list[list[dict[str, Any]]] = []
    report = simulate(sc, "dynamic", record=batches.append)
    clock = ManualClock(report.ends_at + timedelta(hours=1))
    services = build_services(Settings(db_url="memory://"), clock=clock)
    try:
        results = [r for batch in batches for r in services.intake.record(batch)]
    finally:
        services.close()
    rejected = [r.as_dict() for r in results if r.status != "accepted"]
    assert not rejected
    types = {e["type"] for batch in batches for e in batch}
    assert types == {"order.placed", "routing.decided", "outbound.scanned", "linehaul.departed", "delivery.delivered"}
    assert len(results) == len({e["id"] for batch in batches for e in batch})


def test_progress_reports_every_simulated_hour() -> None:
    seen: list[tuple[int, int]] = []
    simulate(small(), "cheapest", progress=lambda h, n: seen.append((h, n)))
    assert seen[-1] == (24, 24)
    assert len(seen) == 24


def test_a_scenario_error_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        small(arrivals={"per_hour": 5, "window_hours": 24, "cities": {"纽约": 1}, "skus": {"HP-PRO-X": 1}})
    assert "arrivals.cities.纽约" in str(err.value)


@pytest.mark.parametrize("name", ["east_china_congestion", "storm_nanjing", "promo_peak"])
def test_the_shipped_scenarios_load(name: str) -> None:
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    assert sc.name == name


def test_transport_co2_is_reported_and_grows_with_the_distance_shipped() -> None:
    import orderloom.sim

    sc = load_scenario(Path(orderloom.sim.__file__).parent / "scenarios" / "east_china_congestion.yaml")
    nearest, dynamic = simulate(sc, "nearest"), simulate(sc, "dynamic")
    assert nearest.co2_kg_per_order >= 0 and any("CO2" in line for line in dynamic.lines())
    # Shipping from the idle Chengdu hub instead of congested Shanghai costs carbon: the report shows it.
    assert dynamic.co2_kg_per_order > nearest.co2_kg_per_order
