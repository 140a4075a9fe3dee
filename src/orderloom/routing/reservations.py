"""Reservations: what each node has promised to open orders, kept as a ledger of deltas.

A routing decision reserves the order's lines at its node; a re-route moves
them; a rejection, a cancellation or the goods leaving (outbound scan)
releases them. The ledger applies each event as a delta per node and SKU, as
an inventory system would — which is exactly where order systems are known to
corrupt reservations (a double release, a release at the old node after a
re-route). `reserved_from_orders` recomputes the same totals from scratch;
the property test holds the two equal over random histories.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from orderloom.core.envelope import StoredEvent

ROUTED = ("routing.decided", "routing.rerouted")
CLOSING = ("order.cancelled", "outbound.scanned")


@dataclass(slots=True)
class OrderReservation:
    """One order's place in the ledger."""

    lines: dict[str, int] = field(default_factory=dict)
    node: str | None = None
    open: bool = True


class ReservationLedger:
    """Reserved quantity per node and SKU, maintained event by event."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderReservation] = {}
        self._reserved: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._seen: set[str] = set()

    def apply(self, e: StoredEvent) -> None:
        """Fold one event in (duplicates are ignored, so at-least-once delivery is harmless)."""
        if e.id in self._seen:
            return
        self._seen.add(e.id)
        order = self.orders.setdefault(e.oid, OrderReservation())
        if e.type == "order.placed":
            lines: dict[str, int] = defaultdict(int)
            for line in e.data.get("lines", []):
                lines[str(line["sku"])] += int(line.get("qty", 1))
            # Lines can arrive after a routing decision (late placement): re-reserve with the real quantities.
            self._move(order, order.node, dict(lines))
        elif not order.open:
            return
        elif e.type in ROUTED:
            self._move(order, str(e.data["node"]), order.lines)
        elif e.type == "node.rejected" and e.data.get("node") == order.node:
            self._move(order, None, order.lines)
        elif e.type in CLOSING:
            self._move(order, None, order.lines)
            order.open = False

    def _move(self, order: OrderReservation, node: str | None, lines: dict[str, int]) -> None:
        if order.open and order.node is not None:
            for sku, qty in order.lines.items():
                self._reserved[order.node][sku] -= qty
        order.node, order.lines = node, lines
        if order.open and node is not None:
            for sku, qty in lines.items():
                self._reserved[node][sku] += qty

    def reserved(self) -> dict[str, dict[str, int]]:
        """Node -> SKU -> reserved quantity, without zeros."""
        return {n: {s: q for s, q in skus.items() if q} for n, skus in self._reserved.items() if any(skus.values())}


def reserved_from_orders(orders: Iterable[OrderReservation]) -> dict[str, dict[str, int]]:
    """The same totals computed from scratch: the lines of every open, placed order at its node."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in orders:
        if o.open and o.node is not None:
            for sku, qty in o.lines.items():
                out[o.node][sku] += qty
    return {n: {s: q for s, q in skus.items() if q} for n, skus in out.items() if any(skus.values())}
