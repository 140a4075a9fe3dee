"""Olist orders as atomic events: São Paulo times, final states, deterministic ids, and the fold back from the log."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from orderloom.dictionary.validation import validate_event
from orderloom.olist.ledger import fold
from orderloom.olist.localtime import rfc3339
from orderloom.olist.mapping import UNLISTED, oid_of, order_events
from orderloom.olist.source import Item, OlistData, Order, Party, Payment, Product, Review
from tests.unit._support import NOW, rig, shipped

CUSTOMER = Party("c-1", "person-1", "20231", "rio de janeiro", "RJ")
SELLER = Party("s-1", "s-1", "04726", "sao paulo", "SP")


def sample(*orders: Order, items: bool = True) -> OlistData:
    """A tiny Olist data set: one customer in Rio, one seller in São Paulo, one item and one card payment per order."""
    return OlistData(
        orders=list(orders),
        customers={"c-1": CUSTOMER},
        sellers={"s-1": SELLER},
        products={"p-1": Product("p-1", "beleza_saude", 1500.0)},
        categories={"beleza_saude": "health_beauty"},
        geo={"20231": (-22.91, -43.18), "04726": (-23.65, -46.71)},
        items={o.order_id: [Item(o.order_id, 1, "p-1", "s-1", "2018-01-17 12:00:00", 99.9, 20.0)] for o in orders}
        if items
        else {},
        payments={o.order_id: [Payment(o.order_id, 1, "credit_card", 3, 119.9)] for o in orders},
        reviews={},
    )


DELIVERED = Order(
    "o-delivered",
    "c-1",
    "delivered",
    purchased="2018-01-15 10:00:00",
    approved="2018-01-15 10:20:00",
    carrier="2018-01-17 09:00:00",
    delivered="2018-01-25 15:00:00",
    estimated="2018-01-30 00:00:00",
)


def chain_status(data: OlistData, order: Order) -> str:
    r = rig()
    r.record(*order_events(order, data))
    status: str = r.reader.chain(oid_of(order.order_id), "ops")["status"]["id"]
    return status


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2017-07-09 21:57:05", "2017-07-10T00:57:05"),  # southern winter: UTC-3
        ("2018-01-15 12:00:00", "2018-01-15T14:00:00"),  # daylight saving time (until 2019): UTC-2
        ("2018-02-17 23:30:00", "2018-02-18T01:30:00"),  # the hour repeated when DST ended: the first (DST) one
    ],
)
def test_olist_wall_clock_times_become_the_right_utc_instant(local: str, utc: str) -> None:
    assert datetime.fromisoformat(rfc3339(local)).astimezone(UTC).replace(tzinfo=None).isoformat() == utc


def test_the_placement_is_stored_at_the_purchase_instant_in_utc_with_the_promise_as_the_window_end() -> None:
    placed = order_events(DELIVERED, sample(DELIVERED))[0]
    event = validate_event(placed, shipped(), NOW)
    assert event.type == "order.placed"
    assert event.time == "2018-01-15T12:00:00.000000Z"
    assert event.data["window"]["end"] == "2018-01-30T00:00:00-02:00"
    assert event.data["currency"] == "BRL"
    assert event.data["total"] == pytest.approx(119.9)


def test_every_event_of_a_delivered_order_is_valid_and_the_chain_ends_delivered() -> None:
    data = sample(DELIVERED)
    events = order_events(DELIVERED, data)
    assert [e["type"] for e in events] == [
        "order.placed",
        "marketplace.seller_assigned",
        "payment.authorized",
        "marketplace.handed_to_carrier",
        "marketplace.delivered",
    ]
    assert chain_status(data, DELIVERED) == "delivered"


def test_mapping_the_same_order_twice_gives_identical_events_so_a_replay_is_a_duplicate() -> None:
    data = sample(DELIVERED)
    assert order_events(DELIVERED, data) == order_events(DELIVERED, data)
    r = rig()
    r.record(*order_events(DELIVERED, data))
    again = r.intake.record(order_events(DELIVERED, data))
    assert {x.status for x in again} == {"duplicate"}


def test_a_canceled_order_is_cancelled_after_the_last_thing_known_about_it() -> None:
    order = replace(DELIVERED, order_id="o-canceled", status="canceled", delivered=None)
    data = sample(order)
    events = order_events(order, data)
    assert events[-1]["type"] == "order.cancelled"
    assert events[-1]["time"] == rfc3339(order.carrier or "")
    assert events[-1]["data"]["note"] == "Olist order status: canceled"
    assert chain_status(data, order) == "cancelled"


def test_an_unavailable_order_without_items_is_cancelled_as_out_of_stock_with_a_placeholder_line() -> None:
    order = replace(DELIVERED, order_id="o-unavailable", status="unavailable", carrier=None, delivered=None)
    data = sample(order, items=False)
    events = order_events(order, data)
    assert events[0]["data"]["lines"][0]["sku"] == UNLISTED
    assert events[0]["data"]["total"] == pytest.approx(119.9)  # what was paid, since no item is listed
    assert events[-1]["data"]["reason"] == "out_of_stock"
    assert chain_status(data, order) == "cancelled"


@pytest.mark.parametrize(
    ("status", "approved", "carrier", "final"),
    [
        ("shipped", "2018-01-15 10:20:00", "2018-01-17 09:00:00", "shipped_out"),
        ("invoiced", "2018-01-15 10:20:00", None, "paid"),
        ("processing", "2018-01-15 10:20:00", None, "paid"),
        ("created", None, None, "placed"),
    ],
)
def test_an_order_that_was_never_delivered_ends_at_the_last_milestone_it_reached(
    status: str, approved: str | None, carrier: str | None, final: str
) -> None:
    order = replace(
        DELIVERED, order_id=f"o-{status}", status=status, approved=approved, carrier=carrier, delivered=None
    )
    assert chain_status(sample(order), order) == final


def test_a_voucher_is_a_payment_of_its_own_and_an_undefined_payment_is_left_out() -> None:
    data = sample(DELIVERED)
    data.payments[DELIVERED.order_id] = [
        Payment(DELIVERED.order_id, 1, "credit_card", 1, 100.0),
        Payment(DELIVERED.order_id, 2, "voucher", 1, 19.9),
        Payment(DELIVERED.order_id, 3, "not_defined", 1, 0.0),
    ]
    types = [e["type"] for e in order_events(DELIVERED, data)]
    assert types.count("payment.authorized") == 1
    assert types.count("marketplace.voucher_redeemed") == 1


def test_a_review_is_posted_when_the_customer_answered_with_title_and_message_as_text() -> None:
    data = sample(DELIVERED)
    data.reviews[DELIVERED.order_id] = [
        Review("r-1", DELIVERED.order_id, 2, "Atraso", "chegou tarde", "2018-01-26 00:00:00", "2018-01-27 18:00:00")
    ]
    review = order_events(DELIVERED, data)[-1]
    assert review["type"] == "review.posted"
    assert review["time"] == rfc3339("2018-01-27 18:00:00")
    assert review["data"] == {"rating": 2, "platform": "olist", "text": "Atraso — chegou tarde"}


def test_the_log_folds_back_into_milestones_distance_and_lateness() -> None:
    late = replace(DELIVERED, order_id="o-late", delivered="2018-01-30 08:00:00")
    data = sample(DELIVERED, late)
    r = rig()
    for o in data.orders:
        r.record(*order_events(o, data))
    records = fold(r.store.read_all(0, 1000), r.dictionary)
    on_time, was_late = records[oid_of(DELIVERED.order_id)], records[oid_of(late.order_id)]
    assert on_time.approved == datetime(2018, 1, 15, 12, 20, tzinfo=UTC)
    assert on_time.carrier == datetime(2018, 1, 17, 11, 0, tzinfo=UTC)
    assert on_time.complete and not on_time.late
    assert was_late.late and was_late.late_by_day is False  # 08:00 on the promised day: late by the hour only
    assert on_time.distance_km == pytest.approx(360, abs=15)  # São Paulo to Rio
    assert on_time.seller is not None and on_time.seller.weight_g == 1500.0


def test_orders_of_other_feeds_in_the_same_log_are_left_out_of_the_fold() -> None:
    r = rig()
    r.place("OL-OTHER-1")
    data = sample(DELIVERED)
    r.record(*order_events(DELIVERED, data))
    assert list(fold(r.store.read_all(0, 1000), r.dictionary)) == [oid_of(DELIVERED.order_id)]
