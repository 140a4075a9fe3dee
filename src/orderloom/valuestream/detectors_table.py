"""The woven table: each order with what every department knows about it, read from the log in one pass.

Attributes are named `<source>.<field>`: `order.channel`, `payment.method` and
the like from the order's own events, and `<domain>.<field>` from domain facts
(`fact.recorded`) about the order (on its stream) or about its customer (on
`cust.<customer id>`). Every attribute keeps the time it became known, so a
reader can ask what was known at a moment: the health score must only use what
was known two hours after payment, never what came later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderloom.core.envelope import StoredEvent, parse_time

FACT = "fact.recorded"
CUSTOMER_STREAM = "cust."
DELIVERED = ("delivery.delivered", "customer.picked_up")
RETURNED = "return.requested"
COMPLAINED = "complaint.opened"
CHANGED = "order.address_changed"
PAID = "payment.authorized"
PLACED = "order.placed"
# Streams that are not orders (policies, tasks, signals, contracts, detectors, customers).
_NOT_ORDERS = ("sys.", "sig.", "det.", "contract.", CUSTOMER_STREAM)


@dataclass(slots=True)
class Trail:
    """What became known about one subject (an order or a customer), attribute by attribute, in time order."""

    known: list[tuple[datetime, str, Any]] = field(default_factory=list)

    def note(self, at: datetime, name: str, value: Any) -> None:
        """Record that `name` became `value` at `at`."""
        self.known.append((at, name, value))

    def as_of(self, at: datetime | None) -> dict[str, Any]:
        """The latest value of each attribute known at `at` (everything when `at` is None)."""
        out: dict[str, Any] = {}
        for when, name, value in sorted(self.known, key=lambda k: k[0]):
            if at is not None and when > at:
                break
            out[name] = value
        return out


@dataclass(slots=True)
class OrderRecord:
    """One order: its milestones and its trail of attributes."""

    oid: str
    customer: str | None = None
    placed_at: datetime | None = None
    paid_at: datetime | None = None
    delivered_at: datetime | None = None
    returned_at: datetime | None = None
    return_reason: str | None = None
    return_minutes: float | None = None  # from delivery (unboxing) to the return request
    complained_at: datetime | None = None
    changes: list[datetime] = field(default_factory=list)
    trail: Trail = field(default_factory=Trail)

    def event_at(self, metric: str) -> datetime | None:
        """When the metric's event happened to this order (None: it did not)."""
        return self.returned_at if metric == "return_rate" else self.complained_at


@dataclass(slots=True)
class Woven:
    """Orders and customers as the log tells them, plus the policy saves seen on the way."""

    orders: dict[str, OrderRecord] = field(default_factory=dict)
    customers: dict[str, Trail] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)  # policy name -> kind of its latest saved version

    def attributes(self, order: OrderRecord, at: datetime | None = None) -> dict[str, Any]:
        """The order's attributes known at `at`: its customer's facts first, the order's own on top."""
        out: dict[str, Any] = {}
        if order.customer is not None and order.customer in self.customers:
            out.update(self.customers[order.customer].as_of(at))
        out.update(order.trail.as_of(at))
        out["order.changes"] = sum(1 for t in order.changes if at is None or t <= at)
        return out


def weave(events: Iterable[StoredEvent]) -> Woven:
    """Fold the log into the woven table (a pure function of the events)."""
    woven = Woven()
    for e in events:
        if e.type == "policy.version_saved":
            woven.policies[str(e.data.get("name"))] = str(e.data.get("kind"))
            continue
        if e.oid.startswith(CUSTOMER_STREAM):
            if e.type == FACT:
                trail = woven.customers.setdefault(e.oid[len(CUSTOMER_STREAM) :], Trail())
                _facts(trail, parse_time(e.time), e.data)
            continue
        if e.oid.startswith(_NOT_ORDERS):
            continue
        _order_event(woven, e)
    return woven


def _order_event(woven: Woven, e: StoredEvent) -> None:
    order = woven.orders.get(e.oid)
    if order is None:
        if e.type != PLACED:
            return  # a stray event of an order we never saw placed
        order = woven.orders[e.oid] = OrderRecord(e.oid)
    at = parse_time(e.time)
    d = e.data
    if e.type == PLACED:
        _placed(order, at, d)
    elif e.type == PAID and order.paid_at is None:
        order.paid_at = at
        order.trail.note(at, "payment.method", d.get("method"))
        order.trail.note(at, "payment.terms_days", d.get("terms_days", 0))
        if order.placed_at is not None:
            order.trail.note(at, "payment.minutes_to_pay", round((at - order.placed_at).total_seconds() / 60, 1))
    elif e.type in DELIVERED and order.delivered_at is None:
        order.delivered_at = at
    elif e.type == RETURNED and order.returned_at is None:
        order.returned_at = at
        order.return_reason = d.get("reason")
        minutes = d.get("minutes_since_delivery")
        if minutes is None and order.delivered_at is not None:
            minutes = (at - order.delivered_at).total_seconds() / 60
        order.return_minutes = None if minutes is None else float(minutes)
    elif e.type == COMPLAINED and order.complained_at is None:
        order.complained_at = at
    elif e.type == CHANGED:
        order.changes.append(at)
    elif e.type == FACT:
        _facts(order.trail, at, d)


def _placed(order: OrderRecord, at: datetime, d: Mapping[str, Any]) -> None:
    order.placed_at = at
    customer = d.get("customer") or {}
    order.customer = customer.get("id")
    lines = d.get("lines") or []
    note = order.trail.note
    note(at, "order.channel", d.get("channel"))
    note(at, "order.tier", customer.get("tier"))
    note(at, "order.new_customer", bool(customer.get("new_customer", False)))
    note(at, "order.total", d.get("total"))
    note(at, "order.lines", len(lines))
    note(at, "order.quantity", sum(int(li.get("qty", 0)) for li in lines))
    if lines:
        note(at, "order.sku", lines[0].get("sku"))
    region = (d.get("destination") or {}).get("region")
    if isinstance(region, str):  # sealed personal fields are not strings we can read; the region never is one
        note(at, "order.region", region)


def _facts(trail: Trail, at: datetime, d: Mapping[str, Any]) -> None:
    domain = d.get("domain")
    for name, value in (d.get("fields") or {}).items():
        # Lists and objects (interest tags, nested records) are not single attributes a cohort can test.
        if isinstance(value, str | int | float | bool) and domain:
            trail.note(at, f"{domain}.{name}", value)
