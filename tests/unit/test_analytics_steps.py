"""Steps from the log: occurrence order, repeats, split shipments, sites, exclusions and incremental refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderloom.core.envelope import Event, format_time
from orderloom.status.analytics.duck import DuckDBDwellAnalytics, connect
from orderloom.status.analytics.port import Step
from orderloom.store.memory import MemoryEventStore
from orderloom.store.port import AppendRequest
from tests.unit._support import shipped

D = shipped()
T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def ev(oid: str, type_id: str, minutes: float, eid: str | None = None, **data: Any) -> Event:
    """An event at T0 + `minutes`; the store does not validate, so data holds only what the steps need."""
    return Event(
        id=eid or f"{oid}:{type_id}:{minutes}",
        type=type_id,
        source="tests",
        oid=oid,
        time=format_time(T0 + timedelta(minutes=minutes)),
        data=data,
    )


def append(store: MemoryEventStore, *events: Event) -> None:
    store.append(AppendRequest(events=list(events)))


def model(store: MemoryEventStore, **kw: Any) -> DuckDBDwellAnalytics:
    return DuckDBDwellAnalytics(store, D, **kw)


def closed(steps: list[Step]) -> list[tuple[str, str | None, float | None]]:
    return [(s.from_type, s.to_type, s.duration_s) for s in steps if s.to_type is not None]


def test_steps_follow_occurrence_order_when_events_arrive_out_of_order() -> None:
    store = MemoryEventStore()
    append(
        store,
        ev("OL-1", "order.placed", 0),
        ev("OL-1", "pack.completed", 90, node="SH-CW-01"),
        ev("OL-1", "pick.completed", 30, node="SH-CW-01"),
    )
    m = model(store)
    m.refresh()
    assert closed(m.steps_of("OL-1")) == [
        ("order.placed", "pick.completed", 30 * 60.0),
        ("pick.completed", "pack.completed", 60 * 60.0),
    ]


def test_the_last_event_leaves_an_open_step_that_no_percentile_counts() -> None:
    store = MemoryEventStore()
    append(store, ev("OL-1", "order.placed", 0), ev("OL-1", "payment.captured", 10))
    m = model(store)
    m.refresh()
    last = m.steps_of("OL-1")[-1]
    assert (last.from_type, last.to_type, last.duration_s) == ("payment.captured", None, None)
    assert m.summary()["steps"] == 1
    assert m.summary()["open_steps"] == 1


def test_a_resent_event_and_a_second_scan_leave_one_step_timed_from_the_first_scan() -> None:
    store = MemoryEventStore()
    scan = ev("OL-1", "outbound.scanned", 20, node="SH-CW-01")
    append(store, ev("OL-1", "pack.completed", 0, node="SH-CW-01"), scan)
    append(store, scan)  # the same event again: the store keeps it once
    append(store, ev("OL-1", "outbound.scanned", 25, eid="rescan", node="SH-CW-01"))
    append(store, ev("OL-1", "linehaul.departed", 80, from_node="SH-CW-01", to_node="NJ-FW-02"))
    m = model(store)
    m.refresh()
    assert closed(m.steps_of("OL-1")) == [
        ("pack.completed", "outbound.scanned", 20 * 60.0),
        ("outbound.scanned", "linehaul.departed", 60 * 60.0),
    ]


def test_a_step_takes_its_stage_from_the_event_it_starts_at_and_carries_the_last_known_node() -> None:
    store = MemoryEventStore()
    append(
        store,
        ev("OL-1", "order.placed", 0),
        ev("OL-1", "routing.decided", 5, node="SH-CW-01"),
        ev("OL-1", "outbound.scanned", 60, node="SH-CW-01"),
        ev("OL-1", "linehaul.departed", 120, from_node="SH-CW-01", to_node="NJ-FW-02"),
        ev("OL-1", "linehaul.in_transit", 180, location="K123"),
        ev("OL-1", "linehaul.arrived", 300, node="NJ-FW-02"),
        ev("OL-1", "forward_wh.received", 330, node="NJ-FW-02"),
    )
    m = model(store)
    m.refresh()
    got = [(s.from_type, s.node, s.stage, s.leg) for s in m.steps_of("OL-1")]
    stage = {tid: (t.stage, t.leg) for tid, t in D.types.items()}
    assert got == [
        ("order.placed", None, *stage["order.placed"]),
        ("routing.decided", "SH-CW-01", *stage["routing.decided"]),
        ("outbound.scanned", "SH-CW-01", *stage["outbound.scanned"]),
        ("linehaul.departed", "SH-CW-01", *stage["linehaul.departed"]),
        ("linehaul.in_transit", "SH-CW-01", *stage["linehaul.in_transit"]),
        ("linehaul.arrived", "NJ-FW-02", *stage["linehaul.arrived"]),
        ("forward_wh.received", "NJ-FW-02", *stage["forward_wh.received"]),
    ]


def test_a_split_order_has_one_lane_per_shipment_and_counts_its_shared_steps_once() -> None:
    store = MemoryEventStore()
    append(
        store,
        ev("OL-1", "order.placed", 0),
        ev("OL-1", "payment.captured", 10),
        ev("OL-1", "pick.completed", 30, shipment="S1", node="SH-CW-01"),
        ev("OL-1", "pick.completed", 40, shipment="S2", node="SH-CC-02"),
        ev("OL-1", "pack.completed", 100, shipment="S1", node="SH-CW-01"),
        ev("OL-1", "pack.completed", 70, shipment="S2", node="SH-CC-02"),
    )
    m = model(store)
    m.refresh()
    by_lane: dict[str | None, list[tuple[str, str | None, float | None]]] = {}
    for s in m.steps_of("OL-1"):
        if s.to_type is not None:
            by_lane.setdefault(s.shipment, []).append((s.from_type, s.to_type, s.duration_s))
    assert by_lane == {
        "S1": [
            ("order.placed", "payment.captured", 600.0),
            ("payment.captured", "pick.completed", 1200.0),
            ("pick.completed", "pack.completed", 4200.0),
        ],
        "S2": [("payment.captured", "pick.completed", 1800.0), ("pick.completed", "pack.completed", 1800.0)],
    }


def test_system_streams_and_internal_events_are_left_out() -> None:
    internal = next(tid for tid, t in D.types.items() if t.internal)
    store = MemoryEventStore()
    append(
        store,
        ev("sig.node.backlog", "order.placed", 0),  # an order type on a system stream still does not count
        ev("sys.apikeys", "order.placed", 0),
        ev("OL-1", "order.placed", 0),
        ev("OL-1", internal, 5),
        ev("OL-1", "payment.captured", 10),
    )
    m = model(store)
    loaded = m.refresh()
    assert (loaded.read, loaded.events) == (5, 2)
    assert closed(m.steps_of("OL-1")) == [("order.placed", "payment.captured", 600.0)]
    assert m.summary()["orders"] == 1


def test_refresh_reads_only_new_events_and_recomputes_the_orders_a_late_event_touches() -> None:
    store = MemoryEventStore()
    append(store, ev("OL-1", "order.placed", 0), ev("OL-1", "pack.completed", 60, node="N1"))
    append(store, ev("OL-2", "order.placed", 0), ev("OL-2", "pack.completed", 45, node="N1"))
    m = model(store)
    assert m.refresh().events == 4
    before = m.steps_of("OL-2")
    append(store, ev("OL-1", "pick.completed", 20, node="N1"))  # happened before pack, learned after
    loaded = m.refresh()
    assert (loaded.read, loaded.events, loaded.orders) == (1, 1, 1)
    assert loaded.position == store.last_position()
    assert closed(m.steps_of("OL-1")) == [
        ("order.placed", "pick.completed", 1200.0),
        ("pick.completed", "pack.completed", 2400.0),
    ]
    assert m.steps_of("OL-2") == before
    assert m.refresh().read == 0


def test_an_incremental_refresh_gives_the_same_steps_as_a_rebuild() -> None:
    store = MemoryEventStore()
    events = [
        ev(f"OL-{k % 7}", t, minutes, node=f"N{k % 3}")
        for k, (t, minutes) in enumerate(
            (t, (k * 37) % 300) for k, t in enumerate(["order.placed", "pick.completed", "pack.completed"] * 20)
        )
    ]
    live = model(store, chunk=4)
    for k in range(0, len(events), 6):
        append(store, *events[k : k + 6])
        live.refresh()
    rebuilt = model(store)
    rebuilt.refresh()
    for n in range(7):
        assert live.steps_of(f"OL-{n}") == rebuilt.steps_of(f"OL-{n}")
    assert live.summary() == rebuilt.summary()


def test_duckdb_may_never_install_or_load_an_extension_by_itself() -> None:
    con = connect()
    settings = con.execute(
        "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
    ).fetchone()
    assert settings == (False, False)
    with pytest.raises(Exception, match="lock"):
        con.execute("SET autoinstall_known_extensions = true")
    con.close()


def test_an_unknown_time_zone_is_a_configuration_error_naming_it() -> None:
    from orderloom.core.errors import ConfigError

    m = model(MemoryEventStore(), tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        m.refresh()


def test_an_order_touched_in_several_chunks_of_one_refresh_is_recomputed_and_counted_once() -> None:
    store = MemoryEventStore()
    append(store, ev("OL-1", "order.placed", 0))
    m = model(store, chunk=1)
    m.refresh()
    append(store, ev("OL-1", "pick.completed", 20, node="N1"), ev("OL-1", "pack.completed", 50, node="N1"))
    loaded = m.refresh()
    assert (loaded.events, loaded.orders) == (2, 1)
    assert closed(m.steps_of("OL-1")) == [
        ("order.placed", "pick.completed", 1200.0),
        ("pick.completed", "pack.completed", 1800.0),
    ]
