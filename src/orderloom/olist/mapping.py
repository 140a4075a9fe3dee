"""One Olist order as the atomic CloudEvents Orderloom records, with deterministic ids.

What maps where (and what is lost) is written down in docs/olist.md. The ids
depend only on Olist's own ids, so replaying the sample again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orderloom.olist.localtime import rfc3339
from orderloom.olist.source import Item, OlistData, Order, Party, Payment

SOURCE = "olist"
CURRENCY = "BRL"
OID_PREFIX = "OLIST-"
# Olist's payment types in the dictionary's words; vouchers have no card/bank/wallet method of their own.
METHODS = {"credit_card": "card", "debit_card": "card", "boleto": "bank_transfer"}
VOUCHER = "voucher"
# Final Olist states that end the order; `unavailable` orders were never fulfilled (the product was not available).
CANCELLED = {"canceled": "other", "unavailable": "out_of_stock"}
UNLISTED = "UNLISTED"
TEXT_MAX = 2000
PAYMENTS = "system:olist-payments"


def oid_of(order_id: str) -> str:
    """The Orderloom order id of an Olist order."""
    return OID_PREFIX + order_id


def seller_node(seller_id: str) -> str:
    """The fulfilment-site id of an Olist seller."""
    return "seller-" + seller_id


def _event(order: Order, suffix: str, etype: str, time: str, *, actor: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"olist-{order.order_id}-{suffix}",
        "type": etype,
        "source": SOURCE,
        "oid": oid_of(order.order_id),
        "time": rfc3339(time),
        "actor": actor,
        "data": data,
    }


def _latlng(point: tuple[float, float] | None) -> dict[str, float]:
    return {} if point is None else {"lat": point[0], "lng": point[1]}


def _lines(items: list[Item], d: OlistData, paid: float) -> list[dict[str, Any]]:
    """Identical units (same product at the same price) become one line with a quantity."""
    lines: dict[tuple[str, float], dict[str, Any]] = {}
    for it in items:
        line = lines.get((it.product_id, it.price))
        if line is not None:
            line["qty"] += 1
            continue
        line = {"sku": it.product_id, "qty": 1, "unit_price": it.price}
        category = d.category_of(it.product_id)
        if category:
            line["name"] = category[:200]
        lines[(it.product_id, it.price)] = line
    if lines:
        return list(lines.values())
    # Olist lists no items for most unavailable and some canceled orders; order.placed needs a line.
    return [{"sku": UNLISTED, "name": "items not listed in the Olist data", "qty": 1, "unit_price": round(paid, 2)}]


def placed(order: Order, d: OlistData) -> dict[str, Any]:
    """order.placed at the purchase time, with the promised (estimated) delivery date as the window's end."""
    customer = d.customers.get(order.customer_id) or Party(order.customer_id, order.customer_id, "", "", "")
    items = d.items.get(order.order_id, [])
    paid = sum(p.value for p in d.payments.get(order.order_id, []))
    total = sum(i.price + i.freight for i in items) if items else paid
    destination: dict[str, Any] = {
        "region": customer.state or "unknown",
        "city": (customer.city or "unknown")[:64],
        "address": f"zip prefix {customer.zip_prefix}" if customer.zip_prefix else "unknown",
        **_latlng(d.place(customer)),
    }
    data = {
        "lines": _lines(items, d, paid),
        "currency": CURRENCY,
        "total": round(total, 2),
        "customer": {"id": customer.unique_id, "tier": "standard"},
        "channel": SOURCE,
        "destination": destination,
        # The public sample is anonymised: no name or phone exists to map.
        "recipient": {"name": "anonymised in the Olist data", "phone": "unknown"},
        "window": {"start": rfc3339(order.purchased), "end": rfc3339(order.estimated)},
        "source_refs": [{"system": SOURCE, "number": order.order_id}],
    }
    return _event(order, "placed", "order.placed", order.purchased, actor=f"customer:{customer.unique_id}", data=data)


def _sellers(order: Order, d: OlistData) -> Iterator[dict[str, Any]]:
    by_seller: dict[str, list[Item]] = {}
    for it in d.items.get(order.order_id, []):
        by_seller.setdefault(it.seller_id, []).append(it)
    for seller_id, items in by_seller.items():
        seller = d.sellers.get(seller_id)
        data: dict[str, Any] = {
            "seller": seller_id,
            "node": seller_node(seller_id),
            "items": len(items),
            "price": round(sum(i.price for i in items), 2),
            "freight": round(sum(i.freight for i in items), 2),
            "ship_by": rfc3339(max(i.ship_by for i in items)),
        }
        if seller is not None:
            data.update(city=seller.city[:64], state=seller.state[:8], zip_prefix=seller.zip_prefix)
            data.update(_latlng(d.place(seller)))
        weights = [d.products[i.product_id].weight_g if i.product_id in d.products else None for i in items]
        if all(w is not None for w in weights):
            data["weight_g"] = sum(w for w in weights if w is not None)
        yield _event(
            order,
            f"seller-{seller_id}",
            "marketplace.seller_assigned",
            order.purchased,
            actor="system:olist",
            data=data,
        )


def _payment(order: Order, p: Payment, at: str) -> dict[str, Any] | None:
    payment_id = f"{order.order_id}-{p.seq}"
    base = {"payment_id": payment_id, "amount": round(p.value, 2), "currency": CURRENCY}
    if p.kind == VOUCHER:
        return _event(order, f"pay-{p.seq}", "marketplace.voucher_redeemed", at, actor=PAYMENTS, data=base)
    method = METHODS.get(p.kind)
    if method is None:  # `not_defined`: nothing says how it was paid
        return None
    return _event(order, f"pay-{p.seq}", "payment.authorized", at, actor=PAYMENTS, data={**base, "method": method})


def _review_text(title: str, message: str) -> str:
    return " — ".join(t for t in (title, message) if t)[:TEXT_MAX]


def order_events(order: Order, d: OlistData) -> list[dict[str, Any]]:
    """Every event of one order, its placement first (the log orders them by when they happened)."""
    events = [placed(order, d), *_sellers(order, d)]
    if order.approved:
        # Olist's approval time is when the payment was approved; orders never approved carry no payment event.
        for p in d.payments.get(order.order_id, []):
            e = _payment(order, p, order.approved)
            if e is not None:
                events.append(e)
    items = d.items.get(order.order_id, [])
    sellers = list(dict.fromkeys(i.seller_id for i in items))
    if order.carrier:
        actor = f"seller:{sellers[0]}" if sellers else "system:olist"
        node = seller_node(sellers[0]) if sellers else "seller-unknown"
        data = {"node": node, "sellers": sellers}
        events.append(_event(order, "carrier", "marketplace.handed_to_carrier", order.carrier, actor=actor, data=data))
    if order.delivered:
        events.append(
            _event(order, "delivered", "marketplace.delivered", order.delivered, actor="carrier:olist", data={})
        )
    if order.status in CANCELLED:
        # Olist does not say when an order was cancelled: after the last thing known about it.
        last = max(t for t in (order.purchased, order.approved, order.carrier, order.delivered) if t)
        data = {
            "reason": CANCELLED[order.status],
            "cancelled_by": "system",
            "note": f"Olist order status: {order.status}",
        }
        events.append(_event(order, "cancelled", "order.cancelled", last, actor="system:olist", data=data))
    customer = d.customers.get(order.customer_id)
    seen: set[str] = set()
    for r in d.reviews.get(order.order_id, []):
        if r.review_id in seen:
            continue
        seen.add(r.review_id)
        review: dict[str, Any] = {"rating": r.score, "platform": SOURCE}
        text = _review_text(r.title, r.message)
        if text:
            review["text"] = text
        actor = f"customer:{customer.unique_id}" if customer else "system:olist"
        events.append(_event(order, f"review-{r.review_id}", "review.posted", r.answered, actor=actor, data=review))
    return events
