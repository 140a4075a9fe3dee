"""The Olist orders read back from the log: one record per order, folded from its events alone.

Milestones are found through the dictionary's statuses (the first event that
makes the order paid, shipped out, delivered), not through event names, so a
feed that reports the same milestones with core types folds the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from orderloom.core.envelope import StoredEvent, parse_time
from orderloom.dictionary.model import Dictionary
from orderloom.olist.geo import distance_km
from orderloom.olist.localtime import zone
from orderloom.olist.mapping import OID_PREFIX
from orderloom.status.directory import PLACED

SELLER = "marketplace.seller_assigned"
REVIEW = "review.posted"
PAID, SHIPPED, CANCELLED = "paid", "shipped_out", "cancelled"


@dataclass(frozen=True, slots=True)
class SellerPart:
    """The part of an order one seller ships, as known at placement."""

    seller: str
    state: str | None
    point: tuple[float, float] | None
    items: int
    price: float
    freight: float
    weight_g: float | None
    ship_by: datetime | None


@dataclass(slots=True)
class OrderRecord:
    """What the log says about one order; times are aware UTC datetimes."""

    oid: str
    purchased: datetime | None = None
    promised: datetime | None = None
    approved: datetime | None = None
    carrier: datetime | None = None
    delivered: datetime | None = None
    status: str | None = None
    customer: str | None = None
    customer_state: str | None = None
    customer_point: tuple[float, float] | None = None
    categories: list[str] = field(default_factory=list)
    total: float = 0.0
    sellers: list[SellerPart] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    ratings: list[int] = field(default_factory=list)
    status_at: tuple[str, int] = ("", -1)  # (time, position) of the event that set `status`
    seller_at: list[int] = field(default_factory=list)  # log position of each of `sellers`

    @property
    def seller(self) -> SellerPart | None:
        """The seller of the first item: the one whose handover the order-level carrier time records."""
        return self.sellers[0] if self.sellers else None

    @property
    def distance_km(self) -> float | None:
        """Seller to customer, great-circle, between zip-prefix centroids."""
        s = self.seller
        return distance_km(s.point if s else None, self.customer_point)

    @property
    def measured(self) -> bool:
        """Delivered and not cancelled, promised time known: the orders lateness is measured on.

        Not "status is delivered": the status follows the order of occurrence, and a few orders have
        milestones out of order in the data (delivered before the carrier took the parcel), which
        leaves their chain at an earlier status although they were delivered.
        """
        return self.delivered is not None and self.promised is not None and self.status != CANCELLED

    @property
    def complete(self) -> bool:
        """Measured, with every milestone known: the orders lead times are measured on."""
        return self.measured and None not in (self.purchased, self.approved, self.carrier)

    @property
    def late(self) -> bool | None:
        """Delivered after the promised (estimated) delivery time; None while not delivered."""
        if self.delivered is None or self.promised is None:
            return None
        return self.delivered > self.promised

    @property
    def late_by_day(self) -> bool | None:
        """Delivered on a later São Paulo calendar day than the promised date."""
        if self.delivered is None or self.promised is None:
            return None
        return _local_day(self.delivered) > _local_day(self.promised)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(zone()).date()


def _point(data: dict[str, Any]) -> tuple[float, float] | None:
    lat, lng = data.get("lat"), data.get("lng")
    return (float(lat), float(lng)) if isinstance(lat, int | float) and isinstance(lng, int | float) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _placed(r: OrderRecord, data: dict[str, Any], at: datetime) -> None:
    r.purchased = at
    window = data.get("window") or {}
    if isinstance(window.get("end"), str):
        r.promised = parse_time(window["end"])
    customer = data.get("customer") or {}
    r.customer = customer.get("id") if isinstance(customer.get("id"), str) else None
    dest = data.get("destination") or {}
    r.customer_state = dest.get("region") if isinstance(dest.get("region"), str) else None
    r.customer_point = _point(dest)
    r.categories = [str(x["name"]) for x in data.get("lines", []) if isinstance(x, dict) and x.get("name")]
    r.total = _num(data.get("total")) or 0.0


def _seller(data: dict[str, Any]) -> SellerPart:
    ship_by = data.get("ship_by")
    return SellerPart(
        seller=str(data.get("seller")),
        state=data.get("state") if isinstance(data.get("state"), str) else None,
        point=_point(data),
        items=int(data.get("items") or 0),
        price=_num(data.get("price")) or 0.0,
        freight=_num(data.get("freight")) or 0.0,
        weight_g=_num(data.get("weight_g")),
        ship_by=parse_time(ship_by) if isinstance(ship_by, str) else None,
    )


def fold(events: Iterable[StoredEvent], dictionary: Dictionary, prefix: str = OID_PREFIX) -> dict[str, OrderRecord]:
    """Every order whose id starts with `prefix`, from its events (in any order: times decide)."""
    records: dict[str, OrderRecord] = {}
    for e in events:
        if not e.oid.startswith(prefix):
            continue
        t = dictionary.get(e.type)
        if t is None:
            continue
        r = records.get(e.oid)
        if r is None:
            r = records[e.oid] = OrderRecord(e.oid)
        at = e.occurred_at
        if e.type == PLACED:
            _placed(r, e.data, at)
        elif e.type == SELLER:
            # Sellers are kept in log order: the first item's seller is written first.
            spot = sum(1 for p in r.seller_at if p < e.position)
            r.sellers.insert(spot, _seller(e.data))
            r.seller_at.insert(spot, e.position)
        elif e.type == REVIEW and isinstance(e.data.get("rating"), int):
            r.ratings.append(int(e.data["rating"]))
        if t.stage == "payment" and t.status == PAID:
            r.methods.add(str(e.data.get("method") or e.type))
        status = t.status
        if status is None:
            continue
        term = dictionary.statuses.get(status)
        if status == PAID:
            r.approved = _first(r.approved, at)
        elif status == SHIPPED:
            r.carrier = _first(r.carrier, at)
        elif term is not None and term.kind == "delivered":
            r.delivered = _first(r.delivered, at)
        # The status is the one set last in time (position breaks ties), as in the status chain.
        key = (e.time, e.position)
        if key >= r.status_at:
            r.status_at = key
            r.status = status
    return records


def _first(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current
