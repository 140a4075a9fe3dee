"""Which orders exist and whose they are, read from each order's first event.

Orders are never deleted, so a positive answer can be cached for good; a
negative one is never cached (the order may be placed a moment later).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from orderloom.store.port import EventStore

PLACED = "order.placed"


@dataclass(frozen=True, slots=True)
class OrderHead:
    """An order's existence and owner."""

    oid: str
    customer: str | None


class OrderDirectory:
    """Looks up orders by id, with a bounded cache of known ones."""

    def __init__(self, store: EventStore, capacity: int = 100_000) -> None:
        self._store = store
        self._capacity = capacity
        self._cache: OrderedDict[str, OrderHead] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, oid: str) -> OrderHead | None:
        """The order, or None when no event was ever recorded for it."""
        with self._lock:
            head = self._cache.get(oid)
            if head is not None:
                self._cache.move_to_end(oid)
                return head
        first = self._store.read_stream(oid, limit=1)
        if not first:
            return None
        head = OrderHead(oid, customer_of(first[0].type, first[0].data))
        self.remember(head)
        return head

    def remember(self, head: OrderHead) -> None:
        """Record an order that was just placed."""
        with self._lock:
            self._cache[head.oid] = head
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)


def customer_of(event_type: str, data: dict[str, object]) -> str | None:
    """The customer id an order.placed payload names."""
    if event_type != PLACED:
        return None
    customer = data.get("customer")
    if isinstance(customer, dict) and isinstance(customer.get("id"), str):
        return str(customer["id"])
    return None
