"""The status chain: occurrence order, split shipments, order status and role views."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import StoredEvent
from orderloom.core.settings import Settings
from orderloom.dictionary.validation import validate_event
from orderloom.status.chain import build_chain
from orderloom.status.orders import place_order
from orderloom.status.views import role_view
from tests.unit._support import NOW, ROLES, Rig, order_body, raw_event, rig, shipped

D = shipped()
DETAILS = {"actor", "deviceid", "proof", "position", "recorded", "arrived_late", "source"}


def ev(
    type_id: str, oid: str, minutes: float, *, eid: str | None = None, drop: tuple[str, ...] = (), **data: Any
) -> dict[str, Any]:
    """An event from the dictionary example; `data` replaces example fields, `drop` removes them."""
    return raw_event(D, type_id, oid=oid, eid=eid or f"{type_id}:{minutes}", minutes=minutes, data=data, drop=drop)


def split(oid: str, minutes: float = 5) -> dict[str, Any]:
    return ev(
        "order.split",
        oid,
        minutes,
        shipments=[
            {"shipment": "S1", "lines": [{"sku": "HP-PRO-X", "qty": 1}]},
            {"shipment": "S2", "lines": [{"sku": "YOG-500G", "qty": 4}]},
        ],
    )


def full_chain(r: Rig, oid: str) -> dict[str, Any]:
    return build_chain(r.store.read_stream(oid), r.dictionary)


# ------------------------------------------------------------------ occurrence order


def out_of_order() -> tuple[Rig, str]:
    """Placed at T0; the line-haul position (T0+75m) arrives before the outbound scan (T0+30m)."""
    r = rig()
    oid = r.place("OL-LATE")
    r.record(ev("linehaul.in_transit", oid, 75))
    r.record(ev("outbound.scanned", oid, 30))
    return r, oid


def test_steps_appear_in_the_order_things_happened_not_the_order_they_arrived() -> None:
    r, oid = out_of_order()
    steps = full_chain(r, oid)["steps"]
    assert [s["type"] for s in steps] == ["order.placed", "outbound.scanned", "linehaul.in_transit"]
    assert [s["seq"] for s in steps] == [1, 3, 2]


def test_since_previous_is_the_time_between_occurrences() -> None:
    r, oid = out_of_order()
    steps = full_chain(r, oid)["steps"]
    assert [s["since_previous_s"] for s in steps] == [None, 1800.0, 2700.0]


def test_the_ops_view_keeps_the_occurrence_order_and_gaps() -> None:
    r, oid = out_of_order()
    steps = r.reader.chain(oid, "ops")["steps"]
    assert [s["type"] for s in steps] == ["order.placed", "outbound.scanned", "linehaul.in_transit"]
    assert [s["since_previous_s"] for s in steps] == [None, 1800.0, 2700.0]


def test_events_that_arrive_in_order_are_never_flagged_late() -> None:
    r = rig()
    oid = r.place("OL-ONTIME")
    r.record(ev("outbound.scanned", oid, 30))
    r.record(ev("linehaul.in_transit", oid, 75))
    assert [s["arrived_late"] for s in full_chain(r, oid)["steps"]] == [False, False, False]


def test_the_event_that_arrived_late_is_the_one_flagged() -> None:
    r, oid = out_of_order()
    flags = {s["type"]: s["arrived_late"] for s in full_chain(r, oid)["steps"]}
    assert flags == {"order.placed": False, "outbound.scanned": True, "linehaul.in_transit": False}


def test_an_empty_stream_has_no_status() -> None:
    chain = build_chain([], D)
    assert chain["steps"] == [] and chain["oid"] is None
    assert chain["status"]["id"] is None


# ------------------------------------------------------------------ shipments and order status


def split_order() -> tuple[Rig, str]:
    r = rig()
    oid = r.place("OL-SPLIT")
    r.record(
        split(oid),
        ev("outbound.scanned", oid, 30, shipment="S1"),
        ev("outbound.scanned", oid, 31, eid="scan-S2", shipment="S2"),
        ev("customer.picked_up", oid, 600, shipment="S1"),
        ev("linehaul.in_transit", oid, 120, shipment="S2"),
    )
    return r, oid


def test_a_split_order_with_one_parcel_delivered_is_not_delivered() -> None:
    r, oid = split_order()
    chain = full_chain(r, oid)
    by_name = {sh["shipment"]: sh["status"]["id"] for sh in chain["shipments"]}
    assert by_name == {"S1": "delivered", "S2": "in_transit"}
    status = chain["status"]
    assert status["id"] == "in_transit"
    assert status["kind"] != "delivered"
    assert status["partially_delivered"] is True
    assert status["open_shipments"] == ["S2"]


def test_a_split_order_is_delivered_when_every_parcel_is() -> None:
    r, oid = split_order()
    r.record(ev("customer.picked_up", oid, 900, eid="pick-S2", shipment="S2"))
    status = full_chain(r, oid)["status"]
    assert status["id"] == "delivered"
    assert status["kind"] == "delivered"
    assert "partially_delivered" not in status


def test_the_consumer_is_told_the_order_is_partly_delivered_too() -> None:
    r, oid = split_order()
    status = r.reader.chain(oid, "consumer")["status"]
    assert status["partially_delivered"] is True
    assert status["open_shipments"] == ["S2"]


def test_a_declared_shipment_without_events_keeps_the_order_open() -> None:
    r = rig()
    oid = r.place("OL-SPLIT-QUIET")
    r.record(split(oid), ev("customer.picked_up", oid, 600, shipment="S1"))
    status = full_chain(r, oid)["status"]
    assert status["kind"] != "delivered"
    assert status["open_shipments"] == ["S2"]


def test_an_unsplit_order_has_one_main_shipment_that_follows_the_latest_status() -> None:
    r = rig()
    oid = r.place("OL-SINGLE")
    r.record(
        ev("forward_wh.received", oid, 300, drop=("shipment",)),
        ev("outbound.scanned", oid, 30, drop=("shipment",)),
    )
    chain = full_chain(r, oid)
    assert [sh["shipment"] for sh in chain["shipments"]] == ["main"]
    assert chain["status"]["id"] == "at_forward_wh"
    legs = {leg["leg"]: leg["current"]["type"] for leg in chain["shipments"][0]["legs"]}
    assert legs == {"order": "order.placed", "central_wh": "outbound.scanned", "forward_wh": "forward_wh.received"}


def test_a_cancelled_order_reports_cancelled() -> None:
    r = rig()
    oid = r.place("OL-CANCEL")
    r.record(ev("payment.authorized", oid, 5), ev("order.cancelled", oid, 20))
    status = full_chain(r, oid)["status"]
    assert status["id"] == "cancelled"
    assert status["kind"] == "closed"
    assert r.reader.chain(oid, "consumer")["status"]["id"] == "cancelled"


def test_a_cancelled_split_order_reports_cancelled_even_with_a_parcel_delivered() -> None:
    r, oid = split_order()
    r.record(ev("order.cancelled", oid, 1000))
    assert full_chain(r, oid)["status"]["id"] == "cancelled"


# ------------------------------------------------------------------ role views


def life_cycle(r: Rig, oid: str) -> None:
    """Every non-internal type once, from its dictionary example, a minute apart."""
    types = [t for t in sorted(D.types) if not D.types[t].internal and t != "order.placed"]
    r.record(*(ev(t, oid, 10 + i) for i, t in enumerate(types)))


@pytest.fixture(scope="module")
def lived() -> tuple[Rig, str]:
    r = rig()
    oid = r.place("OL-LIFE")
    life_cycle(r, oid)
    return r, oid


def test_a_consumer_never_sees_device_or_proof(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    view = r.reader.chain(oid, "consumer")
    assert view["steps"], "the consumer should see some steps"
    for step in view["steps"]:
        assert not DETAILS & set(step), step


def test_a_consumer_sees_only_the_fields_the_dictionary_grants(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    for step in r.reader.chain(oid, "consumer")["steps"]:
        granted = D.types[step["type"]].view("consumer").fields
        assert granted is not None, step["type"]
        assert set(step["data"]) <= granted, step["type"]


def test_a_consumer_sees_only_consumer_visible_types(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    types = {s["type"] for s in r.reader.chain(oid, "consumer")["steps"]}
    visible = {t.id for t in D.types.values() if t.view("consumer").visible}
    assert types <= visible
    assert "forward_wh.check_passed" not in types
    assert "order.placed" in types


def test_a_consumer_never_sees_the_recipients_phone(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    assert "13800138000" not in repr(r.reader.chain(oid, "consumer"))


def test_finance_sees_exactly_the_invoicing_types(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    seen = {s["type"] for s in r.reader.chain(oid, "finance")["steps"]}
    invoicing = {t.id for t in D.types.values() if t.invoicing and not t.internal}
    assert seen == invoicing


def test_operations_see_every_step_with_details(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    steps = r.reader.chain(oid, "ops")["steps"]
    assert len(steps) == len(r.store.read_stream(oid))
    assert all(set(s) >= DETAILS for s in steps)


def test_shipment_legs_only_name_steps_the_role_may_see(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    for role in ROLES:
        for sh in r.reader.chain(oid, role)["shipments"]:
            for leg in sh["legs"]:
                assert D.types[leg["current"]["type"]].view(role).visible, (role, leg)


def stored(raw: dict[str, Any], seq: int) -> StoredEvent:
    e = validate_event(raw, D, NOW, allow_internal=True)
    return StoredEvent(
        e.id, e.type, e.source, e.oid, e.time, e.data, e.actor, e.deviceid, e.proof, e.schemaver,
        seq=seq, position=seq, prevhash="0" * 64, hash="f" * 64, recorded=e.time,
    )  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("type_id", sorted(D.types))
def test_no_role_view_leaks_a_field(role: str, type_id: str) -> None:
    raw = raw_event(D, type_id, oid="OL-LEAK", eid="leak-1", minutes=10)
    event = stored(raw, 1)
    # A field the schema does not know yet (as if added later) must stay hidden unless every field is granted.
    event.data["added_later"] = "secret"
    view = role_view(build_chain([event], D), role, D)
    grant = D.types[type_id].view(role)
    if not grant.visible:
        assert view["steps"] == []
        return
    [step] = view["steps"]
    allowed = set(event.data) if grant.fields is None else set(grant.fields)
    assert set(step["data"]) <= allowed
    assert set(step["data"]) == {k for k in event.data if grant.grants(k)}
    if grant.fields is not None:
        assert "added_later" not in step["data"]
    if grant.details:
        assert step["actor"] == raw.get("actor") and step["proof"] == raw.get("proof", {})
    else:
        assert not DETAILS & set(step)


def test_a_role_the_dictionary_does_not_know_sees_nothing(lived: tuple[Rig, str]) -> None:
    r, oid = lived
    assert r.reader.chain(oid, "intruder")["steps"] == []


# ------------------------------------------------------------------ arrival order does not matter

OID = "OL-PERM"
LATER = [
    split(OID),
    ev("payment.authorized", OID, 3),
    ev("outbound.scanned", OID, 30, eid="scan-S1", shipment="S1"),
    ev("outbound.scanned", OID, 40, eid="scan-S2", shipment="S2"),
    ev("linehaul.in_transit", OID, 90, eid="lh-S2", shipment="S2"),
    ev("customer.picked_up", OID, 600, eid="pick-S1", shipment="S1"),
    ev("review.posted", OID, 700),
]
RESENT = [LATER[2], LATER[5]]  # re-sent duplicates


def projection(chain: dict[str, Any]) -> tuple[Any, ...]:
    return (
        [(s["id"], s["status"], s["shipment"], s["time"], s["since_previous_s"]) for s in chain["steps"]],
        chain["status"],
        [(sh["shipment"], sh["status"]["id"]) for sh in chain["shipments"]],
    )


def arrive(batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
    r = rig()
    r.place(OID)
    for batch in batches:
        r.record(*batch)
    return full_chain(r, OID)


REFERENCE = projection(arrive([LATER]))


@st.composite
def arrivals(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    order = draw(st.permutations(LATER + RESENT))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(order) - 1), max_size=4)))
    bounds = [0, *cuts, len(order)]
    return [order[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(arrivals())
def test_the_chain_is_the_same_whatever_the_arrival_order(batches: list[list[dict[str, Any]]]) -> None:
    assert projection(arrive(batches)) == REFERENCE


def test_the_reference_chain_is_the_expected_one() -> None:
    steps, status, shipments = REFERENCE
    assert [s[0] for s in steps][:3] == [f"placed-{OID}", "payment.authorized:3", "order.split:5"]
    assert len(steps) == len(LATER) + 1  # duplicates never add a step
    assert status["partially_delivered"] is True
    assert shipments == [("S1", "delivered"), ("S2", "in_transit")]


def test_the_services_built_on_memory_project_the_same_chain() -> None:
    services = build_services(Settings(db_url="memory://"), clock=ManualClock(NOW))
    place_order(services.intake, order_body(OID), source="t", actor=None)
    services.intake.record(list(reversed(LATER)))
    chain = build_chain(services.store.read_stream(OID), services.dictionary)
    assert projection(chain) == REFERENCE


def test_a_leg_stays_visible_to_a_role_when_its_latest_event_is_hidden_from_that_role() -> None:
    r = rig()
    oid = r.place("OL-LEG")
    r.record(ev("linehaul.departed", oid, 30, drop=("shipment",)))
    r.record(ev("linehaul.in_transit", oid, 60, drop=("shipment",)))  # consumers do not see position pings
    consumer = r.reader.chain(oid, "consumer")
    legs = {leg["leg"]: leg["current"]["type"] for sh in consumer["shipments"] for leg in sh["legs"]}
    assert legs.get("linehaul") == "linehaul.departed"
    ops = r.reader.chain(oid, "ops")
    assert {leg["leg"]: leg["current"]["type"] for leg in ops["shipments"][0]["legs"]}["linehaul"] == (
        "linehaul.in_transit"
    )
