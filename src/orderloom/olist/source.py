"""Reading the Olist CSV files of one folder into plain records (no mapping, no I/O beyond the files)."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.olist.geo import centroids

FILES = {
    "orders": "olist_orders_dataset.csv",
    "customers": "olist_customers_dataset.csv",
    "items": "olist_order_items_dataset.csv",
    "payments": "olist_order_payments_dataset.csv",
    "reviews": "olist_order_reviews_dataset.csv",
    "sellers": "olist_sellers_dataset.csv",
    "products": "olist_products_dataset.csv",
    "geolocation": "olist_geolocation_dataset.csv",
    "categories": "product_category_name_translation.csv",
}


@dataclass(frozen=True, slots=True)
class Order:
    """One row of the orders file; times are São Paulo wall-clock text, None when empty."""

    order_id: str
    customer_id: str
    status: str
    purchased: str
    approved: str | None
    carrier: str | None
    delivered: str | None
    estimated: str


@dataclass(frozen=True, slots=True)
class Item:
    """One unit of a product sold by a seller within an order."""

    order_id: str
    item_no: int
    product_id: str
    seller_id: str
    ship_by: str
    price: float
    freight: float


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment of an order (an order may be paid by card and voucher together)."""

    order_id: str
    seq: int
    kind: str
    installments: int
    value: float


@dataclass(frozen=True, slots=True)
class Review:
    """A satisfaction survey answer."""

    review_id: str
    order_id: str
    score: int
    title: str
    message: str
    created: str
    answered: str


@dataclass(frozen=True, slots=True)
class Party:
    """A customer (per order, with the person's unique id) or a seller, located by zip prefix."""

    id: str
    unique_id: str
    zip_prefix: str
    city: str
    state: str


@dataclass(frozen=True, slots=True)
class Product:
    """A product's category (Portuguese name) and shipping weight."""

    product_id: str
    category: str
    weight_g: float | None


@dataclass(slots=True)
class OlistData:
    """The whole sample, indexed by order id where a file has several rows per order."""

    orders: list[Order]
    customers: dict[str, Party]
    sellers: dict[str, Party]
    products: dict[str, Product]
    categories: dict[str, str]
    geo: dict[str, tuple[float, float]]
    items: dict[str, list[Item]] = field(default_factory=dict)
    payments: dict[str, list[Payment]] = field(default_factory=dict)
    reviews: dict[str, list[Review]] = field(default_factory=dict)

    def category_of(self, product_id: str) -> str | None:
        """The product's category in English (Portuguese when the translation file lacks it)."""
        product = self.products.get(product_id)
        if product is None or not product.category:
            return None
        return self.categories.get(product.category, product.category)

    def place(self, party: Party | None) -> tuple[float, float] | None:
        """The zip-prefix centroid of a customer or seller."""
        return None if party is None else self.geo.get(party.zip_prefix)


def _rows(folder: Path, name: str) -> Iterator[dict[str, str]]:
    path = folder / FILES[name]
    if not path.is_file():
        raise ValidationFailed(
            [
                Problem(
                    "DIR", "olist_files", f"{folder} has no {FILES[name]}: point at the folder of the Olist CSV files"
                )
            ]
        )
    # utf-8-sig: a byte-order mark, if an editor added one, must not become part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as fh:
        yield from csv.DictReader(fh)


def _opt(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def missing_files(folder: Path) -> list[str]:
    """The Olist files a folder lacks."""
    return [f for f in FILES.values() if not (folder / f).is_file()]


def load(folder: Path, limit: int | None = None) -> OlistData:
    """Read the sample; with `limit`, only the first `limit` orders by purchase time (and what they refer to)."""
    orders = sorted(
        (
            Order(
                r["order_id"],
                r["customer_id"],
                r["order_status"],
                r["order_purchase_timestamp"],
                _opt(r["order_approved_at"]),
                _opt(r["order_delivered_carrier_date"]),
                _opt(r["order_delivered_customer_date"]),
                r["order_estimated_delivery_date"],
            )
            for r in _rows(folder, "orders")
        ),
        key=lambda o: (o.purchased, o.order_id),
    )
    if limit is not None:
        orders = orders[:limit]
    wanted = {o.order_id for o in orders}
    items: dict[str, list[Item]] = defaultdict(list)
    for r in _rows(folder, "items"):
        if r["order_id"] in wanted:
            items[r["order_id"]].append(
                Item(
                    r["order_id"],
                    int(r["order_item_id"]),
                    r["product_id"],
                    r["seller_id"],
                    r["shipping_limit_date"],
                    float(r["price"]),
                    float(r["freight_value"]),
                )
            )
    payments: dict[str, list[Payment]] = defaultdict(list)
    for r in _rows(folder, "payments"):
        if r["order_id"] in wanted:
            payments[r["order_id"]].append(
                Payment(
                    r["order_id"],
                    int(r["payment_sequential"]),
                    r["payment_type"],
                    int(r["payment_installments"] or 0),
                    float(r["payment_value"]),
                )
            )
    reviews: dict[str, list[Review]] = defaultdict(list)
    for r in _rows(folder, "reviews"):
        if r["order_id"] in wanted:
            reviews[r["order_id"]].append(
                Review(
                    r["review_id"],
                    r["order_id"],
                    int(r["review_score"]),
                    (r["review_comment_title"] or "").strip(),
                    (r["review_comment_message"] or "").strip(),
                    r["review_creation_date"],
                    r["review_answer_timestamp"],
                )
            )
    customers = {
        r["customer_id"]: Party(
            r["customer_id"],
            r["customer_unique_id"],
            r["customer_zip_code_prefix"],
            r["customer_city"],
            r["customer_state"],
        )
        for r in _rows(folder, "customers")
    }
    sellers = {
        r["seller_id"]: Party(
            r["seller_id"], r["seller_id"], r["seller_zip_code_prefix"], r["seller_city"], r["seller_state"]
        )
        for r in _rows(folder, "sellers")
    }
    products = {
        r["product_id"]: Product(r["product_id"], r["product_category_name"] or "", _float(r["product_weight_g"]))
        for r in _rows(folder, "products")
    }
    categories = {r["product_category_name"]: r["product_category_name_english"] for r in _rows(folder, "categories")}
    points = (
        (r["geolocation_zip_code_prefix"], float(r["geolocation_lat"]), float(r["geolocation_lng"]))
        for r in _rows(folder, "geolocation")
    )
    for rows in items.values():
        rows.sort(key=lambda i: i.item_no)
    for pays in payments.values():
        pays.sort(key=lambda p: p.seq)
    return OlistData(
        orders=orders,
        customers=customers,
        sellers=sellers,
        products=products,
        categories=categories,
        geo=centroids(points),
        items=dict(items),
        payments=dict(payments),
        reviews=dict(reviews),
    )
