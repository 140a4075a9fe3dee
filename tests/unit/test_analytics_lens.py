"""The status lens: steps against typical durations, where an order is waiting, and what each role sees of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orderloom.core.errors import NotFound
from orderloom.status.analytics.duck import DuckDBDwellAnalytics
from orderloom.status.analytics.lens import order_lens
from tests.unit._support import Rig, raw_event, rig, shipped

D = shipped()
POPULATION = 10  # orders that set the typical durations: pick -> pack 30 min, pack -> outbound 60-69 min


def record(r: Rig, oid: str, type_id: str, minutes: float, **data: Any) -> None:
    r.record(raw_event(D, type_id, oid=oid, minutes=minutes, data=data, drop=("shipment",)))


def population(r: Rig) -> None:
    for k in range(POPULATION):
        oid = f"OL-P{k}"
        r.place(oid, minutes=k)
        record(r, oid, "pick.completed", k + 30)
        record(r, oid, "pack.completed", k + 60)
        record(r, oid, "outbound.scanned", k + 120 + k)


def lens(r: Rig, model: DuckDBDwellAnalytics, oid: str, role: str = "ops", **kw: Any) -> dict[str, Any]:
    return order_lens(r.reader, model, oid, role, now=r.clock.now(), **kw)


@pytest.fixture
def world() -> tuple[Rig, DuckDBDwellAnalytics]:
    r = rig()
    population(r)
    # The subject: picked 23h 10m after T0, packed 5h 50m later; the clock stands at T0 + 24h.
    r.place("OL-SUBJECT", minutes=1000)
    record(r, "OL-SUBJECT", "pick.completed", 1040)
    record(r, "OL-SUBJECT", "pack.completed", 1380)
    return r, DuckDBDwellAnalytics(r.store, D, typical_max_age_s=0)


def test_each_step_carries_its_typical_duration_and_a_slow_step_is_flagged(
    world: tuple[Rig, DuckDBDwellAnalytics],
) -> None:
    r, model = world
    doc = lens(r, model, "OL-SUBJECT")
    by_pair = {(s["from"]["type"], s["to"]["type"]): s for s in doc["steps"]}
    pick_pack = by_pair[("pick.completed", "pack.completed")]
    assert pick_pack["duration_s"] == 340 * 60
    assert pick_pack["typical"]["p50_s"] == 30 * 60
    assert pick_pack["typical"]["count"] == POPULATION + 1  # the subject's own step counts too
    assert pick_pack["slow"] is True
    ordinary = lens(r, model, "OL-P3")
    assert not any(s["slow"] for s in ordinary["steps"])


def test_an_order_is_stuck_once_its_wait_passes_the_typical_p90(world: tuple[Rig, DuckDBDwellAnalytics]) -> None:
    r, model = world
    (waiting,) = lens(r, model, "OL-SUBJECT")["waiting"]
    assert waiting["last"]["type"] == "pack.completed"
    assert waiting["elapsed_s"] == 60 * 60
    assert waiting["typical"]["p90_s"] > 60 * 60
    assert waiting["stuck"] is False
    assert [x["type"] for x in waiting["expected_next"]] == ["outbound.scanned"]
    assert waiting["expected_next"][0]["share"] == 1.0
    r.clock.advance(timedelta(hours=2))
    doc = lens(r, model, "OL-SUBJECT")
    (waiting,) = doc["waiting"]
    assert waiting["elapsed_s"] == 3 * 60 * 60
    assert waiting["over_typical_p90"] is True
    assert waiting["stuck"] is True
    assert doc["stuck"] is True
    assert doc["stuck_at"]["last"]["id"] == waiting["last"]["id"]


def test_a_dictionary_timer_that_ran_out_makes_an_order_stuck_without_typical_data(
    world: tuple[Rig, DuckDBDwellAnalytics],
) -> None:
    r, model = world
    (waiting,) = lens(r, model, "OL-P0")["waiting"]
    timer = D.types["outbound.scanned"].timers[0]
    assert waiting["typical"] is None  # no order has left outbound.scanned yet
    assert waiting["over_typical_p90"] is None
    assert [t["id"] for t in waiting["timers"]] == [timer.id]
    assert waiting["timers"][0]["overdue"] is True
    assert {x["type"] for x in waiting["expected_next"]} == set(timer.expect)
    assert waiting["stuck"] is True


def test_a_cancelled_order_is_finished_and_never_stuck(world: tuple[Rig, DuckDBDwellAnalytics]) -> None:
    r, model = world
    r.place("OL-GONE", minutes=0)
    record(r, "OL-GONE", "order.cancelled", 5)
    r.clock.advance(timedelta(days=30))
    doc = lens(r, model, "OL-GONE")
    (waiting,) = doc["waiting"]
    assert waiting["finished"] is True
    assert waiting["expected_next"] == []
    assert doc["stuck"] is False


def test_the_typical_duration_is_the_nodes_own_when_the_node_has_enough_steps(
    world: tuple[Rig, DuckDBDwellAnalytics],
) -> None:
    r, _ = world
    node = D.types["pick.completed"].example["data"]["node"]
    for min_node_count, basis in ((POPULATION, "node"), (POPULATION + 5, "all")):
        model = DuckDBDwellAnalytics(r.store, D, min_node_count=min_node_count)
        step = next(s for s in lens(r, model, "OL-P1")["steps"] if s["from"]["type"] == "pick.completed")
        assert step["node"] == node
        assert step["typical"]["basis"] == basis


def test_a_consumer_sees_only_their_types_and_no_node_and_steps_span_hidden_events(
    world: tuple[Rig, DuckDBDwellAnalytics],
) -> None:
    r, model = world
    consumer_types = {tid for tid, t in D.types.items() if t.view("consumer").visible}
    assert "pick.completed" not in consumer_types  # the premise of this test
    doc = lens(r, model, "OL-SUBJECT", role="consumer", customer_scope="C-20231187")
    seen = {s["from"]["type"] for s in doc["steps"]} | {s["to"]["type"] for s in doc["steps"]}
    assert seen <= consumer_types
    assert all(s["node"] is None for s in doc["steps"] + doc["waiting"])
    first = doc["steps"][0]
    assert (first["from"]["type"], first["to"]["type"]) == ("order.placed", "pack.completed")
    assert first["duration_s"] == 380 * 60
    assert first["typical"]["p50_s"] == pytest.approx(60 * 60)  # placed -> pack over the population, as seen
    consumer_label = D.types["pack.completed"].view("consumer").label
    assert consumer_label is not None
    assert first["to"]["label"] == dict(consumer_label)  # the consumer's own wording


def test_a_consumer_cannot_open_someone_elses_order(world: tuple[Rig, DuckDBDwellAnalytics]) -> None:
    r, model = world
    with pytest.raises(NotFound):
        lens(r, model, "OL-SUBJECT", role="consumer", customer_scope="C-SOMEONE-ELSE")


def test_expected_next_events_a_role_cannot_see_are_not_named(world: tuple[Rig, DuckDBDwellAnalytics]) -> None:
    r, model = world
    r.place("OL-TRUCK", minutes=0)
    record(r, "OL-TRUCK", "linehaul.departed", 10)
    visible = {tid for tid, t in D.types.items() if t.view("consumer").visible}
    doc = lens(r, model, "OL-TRUCK", role="consumer", customer_scope="C-20231187")
    (waiting,) = doc["waiting"]
    named = {x["type"] for x in waiting["expected_next"]} | {x for t in waiting["timers"] for x in t["expect"]}
    assert named
    assert named <= visible
    staff = lens(r, model, "OL-TRUCK", role="ops")["waiting"][0]
    assert {x["type"] for x in staff["expected_next"]} - visible  # ops is told about the hidden in-transit report
