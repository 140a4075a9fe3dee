"""The forecast's series come from events: they match the twin's own queues and never look past their hour."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.sim.twin import NodeHour, Scenario, parse_scenario, simulate
from orderloom.status.forecast.evaluate import capacities, cities
from orderloom.status.forecast.features import NAMES, build
from orderloom.status.forecast.scenario import SCENARIO_YAML
from orderloom.status.forecast.series import SeriesFold, fold_events, hour_of, instant

FORECAST_DIR = SCENARIO_YAML.parent


def small(**over: Any) -> Scenario:
    """Two sorting centres for three days, with announced trouble on both."""
    raw: dict[str, Any] = {
        "name": "forecast-small",
        "network": "network.yaml",
        "days": 3,
        "seed": 9,
        "start": "2026-01-04T16:00:00Z",
        "arrivals": {
            "per_hour": 90,
            "window_hours": 48,
            "cities": {"西安": 1, "成都": 1},
            "skus": {"PARCEL": 1},
            "profile": [0.5] * 8 + [1.0] * 10 + [1.8] * 4 + [1.0] * 2,
            "peaks": [{"from_hour": 40, "hours": 5, "factor": 2.0, "cities": ["西安"], "announce_hours": 20}],
        },
        "disruptions": [
            {"kind": "capacity_drop", "nodes": ["CD-SC"], "at_hour": 10, "hours": 9, "factor": 0.4,
             "announce_hours": 0, "announced_hours": 6, "reason": "equipment fault"},
            {"kind": "capacity_drop", "nodes": ["XA-SC"], "at_hour": 50, "hours": 4, "factor": 0.5,
             "announce_hours": 24},
        ],
    }  # fmt: skip
    raw.update(over)
    return parse_scenario(raw, base=FORECAST_DIR, source="small")


def run(sc: Scenario) -> tuple[list[dict[str, Any]], dict[str, list[NodeHour]]]:
    events: list[dict[str, Any]] = []
    trace: dict[str, list[NodeHour]] = {}

    def keep(h: int, nodes: Any) -> None:
        for node, state in nodes.items():
            trace.setdefault(node, []).append(state)

    simulate(sc, "nearest", record=events.extend, trace=keep)
    return events, trace


@pytest.fixture(scope="module")
def recorded() -> tuple[Scenario, list[dict[str, Any]], dict[str, list[NodeHour]]]:
    sc = small()
    events, trace = run(sc)
    return sc, events, trace


Recorded = tuple[Scenario, list[dict[str, Any]], dict[str, list[NodeHour]]]


def test_the_backlog_folded_from_events_equals_the_twins_own_queues(recorded: Recorded) -> None:
    sc, events, trace = recorded
    origin = hour_of(sc.start) + 1
    series = fold_events(events, origin=origin, until=origin + sc.days * 24 - 1)
    for node in ("CD-SC", "XA-SC"):
        queued = np.array([s.queued for s in trace[node][: series.hours]])
        shipped = np.array([s.shipped for s in trace[node][: series.hours]])
        assert queued.max() > 0
        assert np.array_equal(series.backlog[node], queued)
        assert np.array_equal(series.shipped[node], shipped)


def test_an_order_routed_again_leaves_its_old_node() -> None:
    def decided(oid: str, node: str, time: str) -> dict[str, Any]:
        return {"type": "routing.decided", "oid": oid, "time": time, "data": {"node": node}}

    events = [
        decided("O1", "A", "2026-01-05T08:10:00.000000Z"),
        decided("O2", "A", "2026-01-05T08:20:00.000000Z"),
        decided("O1", "B", "2026-01-05T09:30:00.000000Z"),
        {"type": "outbound.scanned", "oid": "O2", "time": "2026-01-05T10:00:00.000000Z", "data": {"node": "A"}},
    ]
    series = fold_events(events)
    assert series.backlog["A"].tolist() == [2, 0]
    assert series.backlog["B"].tolist() == [0, 1]


def test_a_scan_on_the_hour_counts_in_the_hour_it_closes() -> None:
    fold = SeriesFold()
    assert fold.bucket("2026-01-05T09:00:00.000000Z") == fold.bucket("2026-01-05T08:59:59.999999Z")
    assert fold.bucket("2026-01-05T09:00:00.000001Z") == fold.bucket("2026-01-05T08:59:59.999999Z") + 1
    assert fold.bucket("2026-01-05T17:00:00+08:00") == fold.bucket("2026-01-05T09:00:00.000000Z")


def test_the_twin_announces_trouble_as_signals_the_store_accepts(recorded: Recorded) -> None:
    sc, events, _ = recorded
    signals = [e for e in events if e["type"] == "signal.reported"]
    drops = [s["data"] for s in signals if s["data"]["type"] == "node.capacity_drop"]
    promos = [s["data"] for s in signals if s["data"]["type"] == "region.promotion"]
    fault = next(d for d in drops if d["target"] == "CD-SC" and not d["value"].get("cleared"))
    assert fault["value"]["expected_hours"] == 6
    assert fault["time"] == fault["value"]["starts_at"]
    planned = next(d for d in drops if d["target"] == "XA-SC" and not d["value"].get("cleared"))
    assert planned["time"] < planned["value"]["starts_at"]
    assert any(d["value"].get("cleared") for d in drops if d["target"] == "CD-SC")
    assert [p["target"] for p in promos] == ["西安"]
    report = simulate(sc, "nearest")
    services = build_services(Settings(db_url="memory://"), clock=ManualClock(report.ends_at + timedelta(hours=1)))
    try:
        results = services.intake.record(signals, allow_internal=True)
    finally:
        services.close()
    assert [r.status for r in results] == ["accepted"] * len(signals)


def test_new_twin_options_leave_a_plain_scenario_unchanged() -> None:
    plain = small(arrivals={"per_hour": 40, "window_hours": 48, "cities": {"西安": 1}, "skus": {"PARCEL": 1}})
    events: list[dict[str, Any]] = []
    assert simulate(plain, "nearest") == simulate(plain, "nearest", record=events.extend, trace=lambda h, n: None)
    few: list[dict[str, Any]] = []
    simulate(plain, "nearest", record=few.extend, record_types={"outbound.scanned"})
    assert few == [e for e in events if e["type"] == "outbound.scanned"]


def test_features_at_an_hour_do_not_change_when_later_events_are_removed(recorded: Recorded) -> None:
    sc, events, _ = recorded
    network = sc.network
    full = SeriesFold().add_all(events)
    origin = hour_of(sc.start) + 1
    for i in (30, 45, 49):
        cut = instant(origin + i)
        # Normalised UTC text compares in time order.
        stamp = cut.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        early = SeriesFold().add_all(e for e in events if e["time"] <= stamp)
        a = build(full.series(origin=origin, until=origin + i), capacities(network), cities(network),
                  horizon=6, rows=range(i, i + 1))  # fmt: skip
        b = build(early.series(origin=origin, until=origin + i), capacities(network), cities(network),
                  horizon=6, rows=range(i, i + 1))  # fmt: skip
        assert a.nodes == b.nodes
        assert np.array_equal(a.x, b.x, equal_nan=True)
    # The hours before the promotion and the announced maintenance know of them; that is what they are for.
    row = build(full.series(origin=origin, until=origin + 45), capacities(network), cities(network), horizon=6,
                rows=range(35, 36))  # fmt: skip
    xa = row.nodes.index("XA-SC")
    assert row.x[xa, NAMES.index("promotion_max_next")] == 2.0
    assert row.x[xa, NAMES.index("next_loss_in_h")] == 50 - 36
