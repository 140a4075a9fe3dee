"""Signals are registered by type, validated at intake and folded purely into the scoring snapshot."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.core.errors import ValidationFailed
from orderloom.routing import CHINA_YAML, Network, NodeSignal, Order, OrderLine, load_network, plan
from orderloom.routing.signals import (
    SIGNALS_YAML,
    Registry,
    load_registry,
    parse_registry,
    signals_used,
    snapshot,
    validate_signal,
)

NOW = datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
LISTED = (
    "node.backlog",
    "node.agv_online_rate",
    "node.pack_station_load",
    "node.sorting_idle_rate",
    "node.down",
    "region.weather_alert",
    "lane.road_closed",
    "region.power_load_index",
    "carrier.vehicle_position",
    "carrier.driver_saturation",
    "carrier.capacity",
    "node.stock_changed",
)


@cache
def registry() -> Registry:
    return load_registry()


@cache
def china() -> Network:
    return load_network(CHINA_YAML)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sig(type_id: str, target: str, value: dict[str, Any], minutes_ago: float = 1) -> dict[str, Any]:
    return {"type": type_id, "target": target, "value": value, "time": at(minutes_ago)}


def raw_registry() -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(SIGNALS_YAML.read_text(encoding="utf-8"))
    return copy.deepcopy(loaded)


def problems_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {p.field: p.rule for p in exc.value.problems}


# --- the registry -----------------------------------------------------------------------------


def test_the_shipped_registry_loads_and_holds_every_listed_signal_type() -> None:
    reg = registry()
    assert set(LISTED) <= set(reg)
    assert reg["node.backlog"].ttl_s == 30 * 60
    assert reg["region.weather_alert"].target == "region"
    assert reg["lane.road_closed"].target == "lane"
    assert all(reg[t].label_zh and reg[t].label_en for t in LISTED)


def test_carrier_and_stock_signals_are_recorded_but_have_no_effect_yet() -> None:
    reg = registry()
    for t in ("carrier.vehicle_position", "carrier.driver_saturation", "carrier.capacity", "node.stock_changed"):
        assert reg[t].effect == ()


def test_a_bad_registry_entry_is_reported_by_its_id_and_field() -> None:
    raw = raw_registry()
    raw["signals"][0]["ttl"] = "half an hour"
    with pytest.raises(ValidationFailed) as exc:
        parse_registry(raw, source="signals.yaml")
    (problem,) = exc.value.problems
    assert problem.field == "signals[0].ttl"
    assert problem.rule == "format"
    assert "node.backlog" in problem.message and "ttl" in problem.message


def test_an_effect_reading_a_field_the_schema_lacks_is_rejected() -> None:
    raw = raw_registry()
    raw["signals"][0]["effect"] = [{"set": "backlog_hours", "from": "hourz"}]
    with pytest.raises(ValidationFailed) as exc:
        parse_registry(raw)
    assert problems_of(exc) == {"signals[0].effect[0].from": "unknown_field"}
    assert "node.backlog" in str(exc.value)


def test_closing_a_city_from_a_node_signal_is_rejected() -> None:
    raw = raw_registry()
    raw["signals"][0]["effect"] = [{"close_city": True}]
    with pytest.raises(ValidationFailed) as exc:
        parse_registry(raw)
    assert problems_of(exc) == {"signals[0].effect[0].close_city": "target"}


def test_an_example_that_does_not_fit_its_schema_is_rejected() -> None:
    raw = raw_registry()
    raw["signals"][0]["example"] = {"hours": -1}
    with pytest.raises(ValidationFailed) as exc:
        parse_registry(raw)
    assert problems_of(exc) == {"signals[0].example": "schema"}


def test_a_type_registered_twice_is_rejected() -> None:
    raw = raw_registry()
    raw["signals"].append(raw["signals"][0])
    with pytest.raises(ValidationFailed) as exc:
        parse_registry(raw)
    assert [p.rule for p in exc.value.problems] == ["unique"]


# --- validation at intake ---------------------------------------------------------------------


def test_a_valid_signal_comes_back_normalised_with_its_ttl() -> None:
    raw = {
        "type": "lane.road_closed",
        "target": " SH-CWH -> 南京 ",
        "value": {"closed": True},
        "time": "2026-05-02T15:55:00+08:00",
    }
    assert validate_signal(raw, registry(), NOW) == {
        "type": "lane.road_closed",
        "target": "SH-CWH->南京",
        "value": {"closed": True},
        "time": "2026-05-02T07:55:00.000000Z",
        "ttl_s": 6 * 3600,
    }


def test_an_unknown_type_is_named_as_such() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.mood", "SH-CWH", {}), registry(), NOW)
    assert problems_of(exc) == {"type": "unknown"}
    assert "node.backlog" in str(exc.value)


def test_missing_target_value_and_time_are_each_reported() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal({"type": "node.backlog"}, registry(), NOW)
    assert problems_of(exc) == {"target": "required", "value": "required", "time": "required"}


def test_a_lane_target_must_be_written_node_arrow_city() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("lane.road_closed", "SH-CWH 南京", {"closed": True}), registry(), NOW)
    assert problems_of(exc) == {"target": "format"}
    assert "NODE->City" in str(exc.value)


def test_a_node_target_that_looks_like_a_lane_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.backlog", "SH-CWH->南京", {"hours": 1}), registry(), NOW)
    assert problems_of(exc) == {"target": "format"}


def test_with_a_network_an_unknown_node_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.backlog", "XX-NOPE", {"hours": 1}), registry(), NOW, network=china())
    assert problems_of(exc) == {"target": "unknown"}


def test_a_value_failing_its_schema_names_the_field_and_rule() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.agv_online_rate", "SH-CWH", {"online_rate": 1.5}), registry(), NOW)
    assert problems_of(exc) == {"value.online_rate": "maximum"}
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.backlog", "SH-CWH", {}), registry(), NOW)
    assert problems_of(exc) == {"value.hours": "required"}
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("region.weather_alert", "南京", {"level": "purple"}), registry(), NOW)
    assert problems_of(exc) == {"value.level": "enum"}
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.backlog", "SH-CWH", {"hours": 1, "minutes": 5}), registry(), NOW)
    assert problems_of(exc) == {"value.minutes": "unknown_field"}


def test_an_unparseable_time_is_rejected() -> None:
    raw = sig("node.backlog", "SH-CWH", {"hours": 1}) | {"time": "yesterday"}
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(raw, registry(), NOW)
    assert problems_of(exc) == {"time": "format"}


def test_a_time_more_than_15_minutes_ahead_is_rejected_but_10_minutes_is_tolerated() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(sig("node.backlog", "SH-CWH", {"hours": 1}, minutes_ago=-16), registry(), NOW)
    assert problems_of(exc) == {"time": "future"}
    assert validate_signal(sig("node.backlog", "SH-CWH", {"hours": 1}, minutes_ago=-10), registry(), NOW)


def test_unknown_top_level_fields_are_rejected() -> None:
    raw = sig("node.backlog", "SH-CWH", {"hours": 1}) | {"ttl": "1d"}
    with pytest.raises(ValidationFailed) as exc:
        validate_signal(raw, registry(), NOW)
    assert problems_of(exc) == {"ttl": "unknown_field"}


# --- the snapshot -----------------------------------------------------------------------------


def test_a_backlog_signal_applies_within_its_ttl() -> None:
    snap = snapshot([sig("node.backlog", "SH-CWH", {"hours": 4.0}, minutes_ago=29)], NOW, registry())
    assert snap.nodes["SH-CWH"] == NodeSignal(backlog_hours=4.0)


def test_a_backlog_signal_31_minutes_old_with_a_30_minute_ttl_no_longer_applies() -> None:
    signals = [sig("node.backlog", "SH-CWH", {"hours": 4.0}, minutes_ago=31)]
    assert snapshot(signals, NOW, registry()).nodes == {}
    assert signals_used(signals, NOW, registry()) == []


def test_a_signal_newer_than_the_decision_is_not_seen_on_replay() -> None:
    signals = [sig("node.backlog", "SH-CWH", {"hours": 4.0}, minutes_ago=-1)]
    assert snapshot(signals, NOW, registry()).nodes == {}


def test_the_later_signal_for_the_same_type_and_target_wins_whatever_the_input_order() -> None:
    old = sig("node.backlog", "SH-CWH", {"hours": 9.0}, minutes_ago=10)
    new = sig("node.backlog", "SH-CWH", {"hours": 2.0}, minutes_ago=5)
    for signals in ([old, new], [new, old]):
        assert snapshot(signals, NOW, registry()).nodes["SH-CWH"].backlog_hours == 2.0
        assert signals_used(signals, NOW, registry()) == [
            {"type": "node.backlog", "target": "SH-CWH", "time": new["time"]}
        ]


def test_an_agv_online_rate_of_0_3_marks_the_node_down_and_0_8_does_not() -> None:
    down = snapshot([sig("node.agv_online_rate", "NJ-FWH", {"online_rate": 0.3})], NOW, registry())
    assert down.nodes["NJ-FWH"].down
    fine = snapshot([sig("node.agv_online_rate", "NJ-FWH", {"online_rate": 0.8})], NOW, registry())
    assert "NJ-FWH" not in fine.nodes


def test_a_red_weather_alert_closes_the_city_and_a_yellow_one_does_not() -> None:
    red = [sig("region.weather_alert", "南京", {"level": "red", "kind": "typhoon"})]
    assert snapshot(red, NOW, registry()).closed_cities == {"南京"}
    assert signals_used(red, NOW, registry())[0]["type"] == "region.weather_alert"
    yellow = [sig("region.weather_alert", "南京", {"level": "yellow"})]
    assert snapshot(yellow, NOW, registry()).closed_cities == frozenset()
    assert signals_used(yellow, NOW, registry()) == []


def test_a_road_closure_closes_the_lane_and_a_later_reopening_opens_it() -> None:
    closed = sig("lane.road_closed", "NJ-FWH->南京", {"closed": True}, minutes_ago=20)
    assert snapshot([closed], NOW, registry()).closed_lanes == {("NJ-FWH", "南京")}
    reopened = sig("lane.road_closed", "NJ-FWH->南京", {"closed": False}, minutes_ago=5)
    assert snapshot([closed, reopened], NOW, registry()).closed_lanes == frozenset()


def test_sorting_idle_rate_is_set_and_a_saturated_pack_station_adds_backlog() -> None:
    signals = [
        sig("node.backlog", "SH-CWH", {"hours": 1.0}, minutes_ago=2),
        sig("node.pack_station_load", "SH-CWH", {"load": 1.2}, minutes_ago=3),
        sig("node.sorting_idle_rate", "SH-CWH", {"idle_rate": 0.25}),
    ]
    node = snapshot(signals, NOW, registry()).nodes["SH-CWH"]
    assert node.backlog_hours == pytest.approx(1.0 + 1.2 * 2.0)
    assert node.sorting_idle_rate == 0.25
    assert not node.down


def test_a_night_power_squeeze_adds_backlog_to_the_citys_nodes_when_the_network_is_given() -> None:
    signals = [sig("region.power_load_index", "南京", {"index": 0.95, "period": "night"})]
    snap = snapshot(signals, NOW, registry(), network=china())
    assert set(snap.nodes) == {"NJ-FWH", "NJ-JN-ST"}
    assert snap.nodes["NJ-FWH"].backlog_hours == pytest.approx(1.9)
    assert snapshot(signals, NOW, registry()).nodes == {}
    by_day = [sig("region.power_load_index", "南京", {"index": 0.95, "period": "day"})]
    assert snapshot(by_day, NOW, registry(), network=china()).nodes == {}


def test_signals_without_effect_change_nothing_and_are_not_listed_as_used() -> None:
    signals = [
        sig("carrier.capacity", "SF", {"available_orders": 0}),
        sig("node.stock_changed", "SH-CWH", {"sku": "HP-PRO-X", "delta": -5}),
    ]
    snap = snapshot(signals, NOW, registry())
    assert (snap.nodes, snap.closed_cities, snap.closed_lanes) == ({}, frozenset(), frozenset())
    assert signals_used(signals, NOW, registry()) == []


def test_the_snapshot_steers_a_nanjing_order_away_from_a_node_whose_lane_to_nanjing_is_closed() -> None:
    order = Order("O-NJ", 32.05, 118.79, "南京", (OrderLine("HP-PRO-X"),), window_end_h=24.0)
    free = plan(order, china(), snapshot([], NOW, registry()))
    assert free.chosen is not None
    (usual,) = free.chosen.node_ids
    closure = validate_signal(sig("lane.road_closed", f"{usual}->南京", {"closed": True}), registry(), NOW)
    decision = plan(order, china(), snapshot([closure], NOW, registry()))
    assert decision.chosen is not None
    assert usual not in decision.chosen.node_ids
    assert "lane to 南京 closed" in decision.excluded[usual]


# --- order independence -----------------------------------------------------------------------

_POOL = [
    ("node.backlog", "SH-CWH", {"hours": 3.0}),
    ("node.backlog", "SH-CWH", {"hours": 7.5}),
    ("node.backlog", "NJ-FWH", {"hours": 1.0}),
    ("node.agv_online_rate", "SH-CWH", {"online_rate": 0.2}),
    ("node.down", "SH-CWH", {"down": False}),
    ("node.pack_station_load", "NJ-FWH", {"load": 1.1}),
    ("node.sorting_idle_rate", "NJ-FWH", {"idle_rate": 0.3}),
    ("region.weather_alert", "南京", {"level": "red"}),
    ("region.weather_alert", "南京", {"level": "blue"}),
    ("lane.road_closed", "SH-CWH->南京", {"closed": True}),
    ("lane.road_closed", "SH-CWH->南京", {"closed": False}),
    ("region.power_load_index", "南京", {"index": 1.2, "period": "night"}),
    ("carrier.capacity", "SF", {"available_orders": 5}),
]


@st.composite
def signal_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    picks = draw(st.lists(st.tuples(st.sampled_from(_POOL), st.sampled_from([0, 1, 5, 45, 400])), max_size=12))
    return [sig(t, target, value, minutes_ago=m) for (t, target, value), m in picks]


@settings(max_examples=150, deadline=None)
@given(signals=signal_lists(), data=st.data())
def test_the_snapshot_does_not_depend_on_the_order_of_its_input(
    signals: list[dict[str, Any]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(signals))
    net = china()
    assert snapshot(shuffled, NOW, registry(), network=net) == snapshot(signals, NOW, registry(), network=net)
    assert signals_used(shuffled, NOW, registry(), network=net) == signals_used(signals, NOW, registry(), network=net)
