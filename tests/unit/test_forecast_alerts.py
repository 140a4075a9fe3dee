"""Backlog alerts are events on the node's stream, raised once, cleared once, and never duplicated."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from orderloom.bootstrap import Services, build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.sim.twin import parse_scenario, simulate
from orderloom.status.forecast import ALERT, CLEARED, BacklogModel, Setup, score_hour, stream_of, train
from orderloom.status.forecast.alerts import score_hours
from orderloom.status.forecast.observe import USED_TYPES
from orderloom.status.forecast.scenario import SCENARIO_YAML


def setup() -> Setup:
    sc = parse_scenario(
        {
            "name": "alerts-small",
            "network": "network.yaml",
            "days": 4,
            "seed": 4,
            "start": "2026-01-04T16:00:00Z",
            "arrivals": {"per_hour": 30, "window_hours": 48, "cities": {"西安": 1}, "skus": {"PARCEL": 1}},
            "disruptions": [
                {
                    "kind": "capacity_drop",
                    "nodes": ["XA-SC"],
                    "at_hour": 30,
                    "hours": 10,
                    "factor": 0.2,
                    "announce_hours": 0,
                }
            ],
        },
        base=SCENARIO_YAML.parent,
    )
    return Setup(sc, "nearest", threshold_hours=4.0, horizon=6, held_out_days=1, source="test")


@pytest.fixture(scope="module")
def model() -> BacklogModel:
    return train(setup())


def loaded() -> Services:
    """A memory store holding the small twin run's routing, scans and signals."""
    s = setup()
    batches: list[list[dict[str, Any]]] = []
    report = simulate(s.scenario, s.policy, record=batches.append, record_types=USED_TYPES)
    svc = build_services(Settings(db_url="memory://"), clock=ManualClock(report.ends_at + timedelta(hours=1)))
    for batch in batches:
        assert all(r.status == "accepted" for r in svc.intake.record(batch, allow_internal=True))
    return svc


@pytest.fixture
def services() -> Any:
    svc = loaded()
    yield svc
    svc.close()


@pytest.mark.slow
def test_an_alert_is_raised_once_then_cleared_once_and_scoring_an_hour_again_adds_nothing(
    services: Services, model: BacklogModel
) -> None:
    at = setup().scenario.start + timedelta(hours=36)
    network = setup().scenario.network
    always = replace(model, threshold_hours=0.0)  # any backlog expected is "over": an alert where work waits
    first = score_hour(services.intake, always, network, at=at)
    assert first.results and all(r.status == "accepted" for r in first.results)
    alert = services.store.read_stream(stream_of("XA-SC"))[0]
    assert alert.type == ALERT
    assert alert.data["node"] == "XA-SC"
    assert alert.data["horizon_hours"] == 6
    assert alert.data["model_version"] == model.version
    assert alert.data["current_backlog_hours"] > 0  # the fault at hour 30 has built a queue
    assert alert.data["drivers"] and alert.data["drivers"][0]["effect_hours"] > 0
    position = services.store.last_position()
    assert score_hour(services.intake, always, network, at=at).results == []
    assert score_hour(services.intake, always, network, at=at + timedelta(hours=1)).results == []  # still open
    assert services.store.last_position() == position

    never = replace(model, threshold_hours=1e9)
    cleared = score_hour(services.intake, never, network, at=at + timedelta(hours=2))
    assert cleared.results and all(r.status == "accepted" for r in cleared.results)
    alert, clear = services.store.read_stream(stream_of("XA-SC"))
    assert clear.type == CLEARED
    assert clear.data["alert_id"] == alert.data["alert_id"]
    assert score_hour(services.intake, never, network, at=at + timedelta(hours=2)).results == []
    # The same event appended again (a second worker scoring the same hour) is a harmless duplicate.
    raws = [{"id": clear.id, "type": clear.type, "source": clear.source, "oid": clear.oid, "time": clear.time,
             "actor": clear.actor, "data": clear.data}]  # fmt: skip
    assert [r.status for r in services.intake.record(raws, allow_internal=True)] == ["duplicate"]


@pytest.mark.slow
def test_a_backfill_of_several_hours_appends_what_scoring_each_hour_in_turn_appends(
    services: Services, model: BacklogModel
) -> None:
    start, network = setup().scenario.start, setup().scenario.network
    model = replace(model, threshold_hours=1.0)  # the fault's queue (about 3 h) crosses this one
    hours = [start + timedelta(hours=h) for h in range(26, 56, 2)]  # a fault at hour 30 builds a queue, then drains
    one_by_one = loaded()
    try:
        for at in hours:
            score_hour(one_by_one.intake, model, network, at=at)
        expected = [(e.id, e.type, e.data) for e in one_by_one.store.read_stream(stream_of("XA-SC"))]
    finally:
        one_by_one.close()
    scored = score_hours(services.intake, model, network, list(reversed(hours)))  # any order: scored in time order
    assert [s.at for s in scored] == hours
    got = [(e.id, e.type, e.data) for e in services.store.read_stream(stream_of("XA-SC"))]
    assert got == expected
    assert {t for _, t, _ in got} == {ALERT, CLEARED}  # the hours chosen both raise and clear an alert
