"""Reserved quantities always equal the sum of open plans, over any history of place / route / re-route /
reject / cancel / ship, including re-delivered events and placements that arrive late."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.core.envelope import StoredEvent
from orderloom.routing.reservations import ReservationLedger, reserved_from_orders

NODES = ["SH-CWH", "HF-FWH", "NJ-FWH"]
SKUS = ["YOG-500G", "HP-PRO-X"]


def ev(n: int, oid: str, etype: str, data: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        f"e{n}",
        etype,
        "t",
        oid,
        f"2026-05-01T08:00:{n % 60:02d}.000000Z",
        data,
        None,
        None,
        {},
        1,
        n,
        n,
        "0" * 64,
        "0" * 64,
        "2026-05-01T08:00:00.000000Z",
    )


step = st.one_of(
    st.tuples(
        st.just("order.placed"), st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 5)), min_size=1, max_size=3)
    ),
    st.tuples(st.sampled_from(["routing.decided", "routing.rerouted", "node.rejected"]), st.sampled_from(NODES)),
    st.tuples(st.sampled_from(["order.cancelled", "outbound.scanned"]), st.none()),
)
history = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), step, st.booleans()), max_size=60)


def build(items: list[tuple[str, tuple[str, Any], bool]]) -> list[StoredEvent]:
    events = []
    for n, (oid, (etype, arg), resend) in enumerate(items):
        if etype == "order.placed":
            data: dict[str, Any] = {"lines": [{"sku": s, "qty": q} for s, q in arg]}
        elif arg is not None:
            data = {"node": arg, "reason": "rejected"} if etype == "node.rejected" else {"node": arg}
        else:
            data = {}
        e = ev(n, oid, etype, data)
        events.append(e)
        if resend:
            events.append(e)  # at-least-once delivery: the same event again
    return events


def model(events: list[StoredEvent]) -> dict[str, dict[str, int]]:
    """The rules written again, per order from scratch: the reference the ledger must match."""
    orders: dict[str, dict[str, Any]] = {}
    seen = set()
    for e in events:
        if e.id in seen:
            continue
        seen.add(e.id)
        o = orders.setdefault(e.oid, {"lines": {}, "node": None, "open": True})
        if e.type == "order.placed":
            lines: dict[str, int] = defaultdict(int)
            for line in e.data["lines"]:
                lines[line["sku"]] += line["qty"]
            o["lines"] = dict(lines)
        elif not o["open"]:
            continue
        elif e.type in ("routing.decided", "routing.rerouted"):
            o["node"] = e.data["node"]
        elif e.type == "node.rejected" and e.data["node"] == o["node"]:
            o["node"] = None
        elif e.type in ("order.cancelled", "outbound.scanned"):
            o["open"] = False
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in orders.values():
        if o["open"] and o["node"]:
            for sku, qty in o["lines"].items():
                out[o["node"]][sku] += qty
    return {n: dict(s) for n, s in out.items() if any(s.values())}


@settings(max_examples=400, deadline=None)
@given(history)
def test_reserved_quantities_always_equal_the_sum_of_open_plans(items: list[Any]) -> None:
    events = build(items)
    ledger = ReservationLedger()
    for i, e in enumerate(events):
        ledger.apply(e)
        assert ledger.reserved() == model(events[: i + 1])
        assert all(q >= 0 for skus in ledger.reserved().values() for q in skus.values())
    assert ledger.reserved() == reserved_from_orders(ledger.orders.values())


def test_a_reroute_moves_the_reservation_and_a_rejection_at_the_old_node_does_not_touch_the_new_one() -> None:
    ledger = ReservationLedger()
    for e in [
        ev(1, "A", "order.placed", {"lines": [{"sku": "YOG-500G", "qty": 4}]}),
        ev(2, "A", "routing.decided", {"node": "NJ-FWH"}),
        ev(3, "A", "routing.rerouted", {"node": "HF-FWH"}),
        ev(4, "A", "node.rejected", {"node": "NJ-FWH", "reason": "closed"}),  # stale: A already left NJ
    ]:
        ledger.apply(e)
    assert ledger.reserved() == {"HF-FWH": {"YOG-500G": 4}}
    ledger.apply(ev(5, "A", "outbound.scanned", {}))
    assert ledger.reserved() == {}
