"""Customer health: the features a B2B customer has two hours after payment, and whether they renewed.

Every feature is an attribute of the woven table read as of the cut-off
(payment + 2 hours), so nothing learned later (a late order change, an angry
call, the renewal itself) can leak into a score. B2B orders are the orders of
`enterprise` customers; the outcome is the `renewal` field of the sales
domain's customer facts (`renewed` or `churned`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from orderloom.valuestream.detectors_table import OrderRecord, Woven

CUTOFF = timedelta(hours=2)
B2B_TIER = "enterprise"
OUTCOME = "sales.renewal"
CHURNED = "churned"
RENEWED = "renewed"

Kind = Literal["number", "category"]

# (attribute, kind): 22 features from the order, payment, sales, finance and product.
FEATURES: tuple[tuple[str, Kind], ...] = (
    ("order.channel", "category"),
    ("order.region", "category"),
    ("order.total", "number"),
    ("order.quantity", "number"),
    ("order.lines", "number"),
    ("order.new_customer", "number"),
    ("order.changes", "number"),
    ("payment.method", "category"),
    ("payment.terms_days", "number"),
    ("payment.minutes_to_pay", "number"),
    ("sales.company_size", "category"),
    ("sales.industry", "category"),
    ("sales.inquiry_depth", "number"),
    ("sales.quote_rounds", "number"),
    ("sales.discount_pct", "number"),
    ("sales.contacts", "number"),
    ("sales.orders_to_date", "number"),
    ("sales.lifetime_value", "number"),
    ("finance.avg_days_to_pay", "number"),
    ("finance.overdue_share", "number"),
    ("product.category", "category"),
    ("product.supplier_rating", "number"),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One B2B order at its cut-off: its features and, when known, whether the customer churned."""

    customer: str
    oid: str
    paid_at: datetime
    cutoff: datetime
    features: dict[str, Any]
    churned: bool | None  # None: the renewal is not decided yet


def feature_value(value: Any, kind: Kind) -> Any:
    """A raw attribute as the model reads it: numbers as floats (booleans 0/1), categories as text."""
    if value is None:
        return None
    if kind == "category":
        return str(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(value) if isinstance(value, int | float) else None


def features_at(woven: Woven, order: OrderRecord, cutoff: datetime) -> dict[str, Any]:
    """The order's features as known at `cutoff`."""
    known = woven.attributes(order, at=cutoff)
    return {name: feature_value(known.get(name), kind) for name, kind in FEATURES}


def outcome(woven: Woven, customer: str | None, after: datetime) -> bool | None:
    """Whether the customer churned, from the renewal recorded after `after` (None: not decided yet)."""
    trail = woven.customers.get(customer or "")
    if trail is None:
        return None
    decided = [(t, v) for t, name, v in trail.known if name == OUTCOME and t > after and v in (CHURNED, RENEWED)]
    return min(decided, key=lambda d: d[0])[1] == CHURNED if decided else None


def b2b_orders(woven: Woven) -> Iterator[OrderRecord]:
    """The paid orders of enterprise customers."""
    for order in woven.orders.values():
        if order.paid_at is None or order.customer is None:
            continue
        tier = next((v for _, name, v in order.trail.known if name == "order.tier"), None)
        if tier == B2B_TIER:
            yield order


def rows(woven: Woven, now: datetime | None = None) -> list[Row]:
    """Every B2B order whose cut-off has passed by `now`, oldest payment first."""
    out = []
    for order in b2b_orders(woven):
        assert order.paid_at is not None and order.customer is not None
        cutoff = order.paid_at + CUTOFF
        if now is not None and cutoff > now:
            continue
        out.append(
            Row(
                order.customer,
                order.oid,
                order.paid_at,
                cutoff,
                features_at(woven, order, cutoff),
                outcome(woven, order.customer, order.paid_at),
            )
        )
    out.sort(key=lambda r: (r.paid_at, r.oid))
    return out
