"""A seeded consumer-electronics shop with the seed's headphone problem planted (or not).

Orders of several categories come from marketing campaigns (channel, campaign,
creative), from customers sales knows (age band, whether they used the category
before), with the product's firmware, and some customers call service. The
planted cause: a short-video campaign drew buyers of 35 and older with no prior
headphone use to the premium headphones; most of them could not get through the
app pairing flow and asked to return them within 30 minutes of unboxing. That
lifts the premium headphones' return rate to about 28% against about 12% for
headphones as a whole, while each department's own data looks ordinary.
Without the plant every order returns at its product's base rate. Devices whose
buyers cannot pair send the companion app's crash report from the pairing
screen; other devices crash rarely, anywhere. Facts go through the facts desk
(`generator_events.record_all`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderloom.status.intake import Intake
from orderloom.valuestream.generator_events import event, fact, record_all, sha


@dataclass(frozen=True, slots=True)
class Product:
    """A product of the shop and how often it comes back."""

    sku: str
    name: str
    category: str
    tier: str
    price: float
    weight: float  # share of orders
    base_return: float


PRODUCTS = (
    Product("HP-PRO-X", "降噪耳机 Pro X", "headphones", "premium", 1299.0, 0.11, 0.09),
    Product("HP-LITE", "蓝牙耳机 Lite", "headphones", "standard", 199.0, 0.20, 0.07),
    Product("HP-SPORT", "运动耳机", "headphones", "standard", 329.0, 0.14, 0.07),
    Product("SPK-HOME", "家庭音箱", "speakers", "premium", 1599.0, 0.07, 0.06),
    Product("SPK-MINI", "迷你音箱", "speakers", "standard", 249.0, 0.12, 0.05),
    Product("WAT-S3", "智能手表 S3", "smartwatch", "premium", 1899.0, 0.09, 0.09),
    Product("WAT-FIT", "手环 Fit", "smartwatch", "standard", 399.0, 0.12, 0.08),
    Product("CHG-65W", "65W 充电器", "accessories", "standard", 129.0, 0.15, 0.03),
)
# campaign -> (creative, channel)
CAMPAIGNS = {
    "spring_audio_video": ("short_video", "douyin"),
    "kol_unboxing": ("short_video", "kuaishou"),
    "live_room_618": ("livestream", "taobao_live"),
    "brand_feed": ("image", "wechat"),
    "search_brand": ("search_ad", "tmall"),
}
OLDER = ("35-44", "45-54", "55+")
YOUNGER = ("18-24", "25-34")
MIN_APP = "5.2.0"
# Crashes of the companion app that have nothing to do with pairing: (signature, screen).
CRASHES = (("playback.audio_route", "playback"), ("settings.eq_load", "settings"), ("update.ota_resume", "update"))
REGIONS = (("江苏省", "南京市"), ("上海市", "上海市"), ("广东省", "深圳市"), ("浙江省", "杭州市"), ("四川省", "成都市"))


@dataclass(frozen=True, slots=True)
class Plan:
    """How many orders over how many days, the seed, and whether the cause is planted."""

    orders: int = 3000
    days: int = 60
    seed: int = 7
    plant: bool = True
    planted_rate: float = 0.75  # return rate of the planted group
    quick_share: float = 0.92  # share of the planted group's returns within 30 minutes of unboxing


@dataclass(slots=True)
class Generated:
    """One generated order: its facts by department and what happened to it."""

    oid: str
    customer: str
    product: Product
    placed_at: datetime
    attributes: dict[str, Any]  # the joined attributes, named as the woven table names them
    planted: bool
    delivered_at: datetime | None = None
    return_minutes: float | None = None
    return_reason: str | None = None
    call_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def returned(self) -> bool:
        """Whether a return was requested (by the end of the generated period)."""
        return self.return_minutes is not None


def generate(plan: Plan, end: datetime) -> list[Generated]:
    """The orders of the plan, placed over `plan.days` days before `end` (pure: nothing is written)."""
    r = random.Random(plan.seed)
    weights = [p.weight for p in PRODUCTS]
    out = []
    for i in range(plan.orders):
        product = r.choices(PRODUCTS, weights)[0]
        placed = end - timedelta(days=plan.days) + timedelta(seconds=r.uniform(0, (plan.days - 0.5) * 86400))
        out.append(_order(r, plan, i, product, placed=placed, end=end))
    return out


def _audience(r: random.Random, product: Product) -> tuple[str, str, bool]:
    """(campaign, age band, prior use): the premium headphones' short-video campaigns reach older first-timers."""
    if product.sku == "HP-PRO-X":
        campaign = r.choices(list(CAMPAIGNS), [0.35, 0.25, 0.15, 0.13, 0.12])[0]
    else:
        campaign = r.choice(list(CAMPAIGNS))
    video = CAMPAIGNS[campaign][0] == "short_video" and product.sku == "HP-PRO-X"
    older = r.random() < (0.6 if video else 0.35)
    age = r.choices(OLDER, [0.5, 0.35, 0.15])[0] if older else r.choices(YOUNGER, [0.4, 0.6])[0]
    prior = r.random() >= (0.75 if video and older else 0.45)
    return campaign, age, prior


def _order(r: random.Random, plan: Plan, i: int, product: Product, *, placed: datetime, end: datetime) -> Generated:
    campaign, age, prior = _audience(r, product)
    creative, channel = CAMPAIGNS[campaign]
    planted = plan.plant and product.sku == "HP-PRO-X" and creative == "short_video" and age in OLDER and not prior
    firmware = r.choices(["3.2.1", "3.3.0"], [0.55, 0.45])[0]
    attrs: dict[str, Any] = {
        "order.channel": channel,
        "marketing.channel_id": channel,
        "marketing.campaign": campaign,
        "marketing.creative": creative,
        "sales.age_band": age,
        "sales.prior_category_use": prior,
        "sales.segment": r.choices(["new", "returning", "vip"], [0.55, 0.35, 0.10])[0],
        "product.device_model": product.sku,
        "product.category": product.category,
        "product.price_tier": product.tier,
        "product.firmware_version": firmware,
        "product.app_compatible": r.random() < 0.95,
    }
    g = Generated(f"VS{plan.seed}-{i:05d}", f"C-VS{plan.seed}-{i:05d}", product, placed, attrs, planted)
    delivered = placed + timedelta(hours=r.uniform(20, 72))
    if delivered > end - timedelta(hours=1):
        return g  # still on its way when the period ends
    g.delivered_at = delivered
    rate = plan.planted_rate if planted else product.base_return
    if r.random() < rate:
        quick = r.random() < (plan.quick_share if planted else 0.08)
        minutes = r.uniform(3, 30) if quick else min(r.lognormvariate(8.3, 0.8), 30 * 1440)
        if delivered + timedelta(minutes=minutes) < end - timedelta(minutes=5):
            g.return_minutes = float(int(minutes))  # the return request carries whole minutes
            g.return_reason = _reason(r, planted)
    returned = g.return_minutes is not None
    _crash(g, plan, i, end)
    if r.random() < (0.45 if returned else 0.04):
        after = (g.return_minutes or 0) + r.uniform(10, 2 * 1440)
        call = delivered + timedelta(minutes=after)
        if call + timedelta(hours=21) < end:
            g.call_at = call
            g.attributes["customer_service.sentiment"] = r.choices(
                ["angry", "negative", "neutral", "positive"],
                [0.2, 0.45, 0.25, 0.1] if returned else [0.05, 0.25, 0.45, 0.25],
            )[0]
    return g


def _crash(g: Generated, plan: Plan, i: int, end: datetime) -> None:
    """The companion app's crash report, if the device sent one (its own random stream: the rest stays as it was).

    Buyers who cannot pair crash the pairing screen; everyone else crashes rarely, anywhere.
    """
    assert g.delivered_at is not None
    r = random.Random(f"crash-{plan.seed}-{i}")
    pairing = g.return_reason == "pairing_difficulty"
    headphones = g.product.category == "headphones"
    chance = 0.7 if pairing else (0.2 if g.planted else (0.03 if headphones else 0.01))
    if r.random() >= chance:
        return
    if pairing or (g.planted and r.random() < 0.8):
        signature, screen = "pairing.ble_timeout", "pairing"
    else:
        signature, screen = r.choice(CRASHES)
    minutes = g.return_minutes * r.uniform(0.3, 0.9) if g.return_minutes is not None else r.uniform(5, 3 * 1440)
    at = g.delivered_at + timedelta(minutes=minutes)
    if at >= end - timedelta(minutes=5):
        return
    app = r.choices(["5.2.0", "5.1.4"], [0.7, 0.3])[0]
    g.extra["crash"] = {
        "at": at,
        "crash_signature": signature,
        "crash_screen": screen,
        "app_version": app,
        "crashes": 1 + int(r.expovariate(1)),
    }


def _reason(r: random.Random, planted: bool) -> str:
    if planted:
        return r.choices(["pairing_difficulty", "changed_mind", "defective"], [0.85, 0.1, 0.05])[0]
    return r.choices(["changed_mind", "defective", "not_as_described", "other"], [0.35, 0.25, 0.25, 0.15])[0]


def events_of(g: Generated) -> list[dict[str, Any]]:
    """The raw events telling the order's story, its placement first."""
    a, p, oid = g.attributes, g.product, g.oid
    region, city = REGIONS[int(oid[-5:]) % len(REGIONS)]
    placed = {
        "lines": [{"sku": p.sku, "name": p.name, "qty": 1, "unit_price": p.price}],
        "currency": "CNY",
        "total": p.price,
        "customer": {"id": g.customer, "tier": "standard", "new_customer": a["sales.segment"] == "new"},
        "channel": a["order.channel"],
        "destination": {"region": region, "city": city, "address": f"{city}示例路 {int(oid[-5:]) % 300 + 1} 号"},
        "recipient": {"name": "顾客", "phone": "13800000000"},
        "window": {
            "start": (g.placed_at + timedelta(days=1)).isoformat(),
            "end": (g.placed_at + timedelta(days=3)).isoformat(),
        },
    }
    paid = g.placed_at + timedelta(minutes=2 + int(oid[-3:]) % 15)
    out = [
        event(f"{oid}-placed", "order.placed", oid, g.placed_at, placed, actor=f"customer:{g.customer}"),
        fact(f"{oid}-sales", "sales", g.customer, g.placed_at + timedelta(minutes=1), _sales(g)),
        event(
            f"{oid}-paid",
            "payment.authorized",
            oid,
            paid,
            {"payment_id": f"PAY-{oid}", "amount": p.price, "currency": "CNY", "method": "alipay"},
        ),
        fact(
            f"{oid}-marketing",
            "marketing",
            oid,
            paid + timedelta(minutes=5),
            {k.split(".", 1)[1]: a[k] for k in ("marketing.channel_id", "marketing.campaign", "marketing.creative")}
            | {"attribution_model": "last_click"},
        ),
    ]
    if g.delivered_at is None:
        return out
    packed = g.delivered_at - timedelta(hours=12)
    firmware = {
        "device_model": p.sku,
        "firmware_version": a["product.firmware_version"],
        "app_compatible": a["product.app_compatible"],
        "min_app_version": MIN_APP,
    }
    catalogue = {"device_model": p.sku, "category": p.category, "price_tier": p.tier}
    out.append(fact(f"{oid}-product", "product", oid, packed, firmware))
    out.append(fact(f"{oid}-catalogue", "product", oid, packed, catalogue, obj="order_product"))
    if g.extra.get("crash"):
        crash = dict(g.extra["crash"])
        at = crash.pop("at")
        out.append(fact(f"{oid}-crash", "product", oid, at, crash, obj="app_crash_report"))
    out.append(
        event(
            f"{oid}-delivered",
            "delivery.delivered",
            oid,
            g.delivered_at,
            {"shipment": f"{oid}-S1", "handover": "in_person", "packages": 1},
            actor="courier:GEN-01",
            deviceid="scanner:GEN-01",
            proof={"photo_sha256": sha(oid)},
        )
    )
    if g.return_minutes is not None:
        out.append(
            event(
                f"{oid}-return",
                "return.requested",
                oid,
                g.delivered_at + timedelta(minutes=g.return_minutes),
                {
                    "return_id": f"RT-{oid}",
                    "reason": g.return_reason,
                    "lines": [{"sku": p.sku, "qty": 1}],
                    "opened": True,
                    "minutes_since_delivery": int(g.return_minutes),
                },
                actor=f"customer:{g.customer}",
            )
        )
    if g.call_at is not None:
        out += _call(g)
    return out


def _sales(g: Generated) -> dict[str, Any]:
    a = g.attributes
    return {
        "segment": a["sales.segment"],
        "lifetime_value": 0.0 if a["sales.segment"] == "new" else float(300 + int(g.oid[-4:]) % 5000),
        "age_band": a["sales.age_band"],
        "prior_category_use": a["sales.prior_category_use"],
    }


def _call(g: Generated) -> list[dict[str, Any]]:
    assert g.call_at is not None
    sentiment = g.attributes["customer_service.sentiment"]
    scores = {"angry": -0.9, "negative": -0.5, "neutral": 0.0, "positive": 0.6}
    category = "setup_difficulty" if g.return_reason == "pairing_difficulty" else "product_quality"
    return [
        event(
            f"{g.oid}-complaint",
            "complaint.opened",
            g.oid,
            g.call_at,
            {"complaint_id": f"CP-{g.oid}", "channel": "phone", "category": category, "severity": "medium"},
        ),
        fact(
            f"{g.oid}-cs",
            "customer_service",
            g.oid,
            g.call_at + timedelta(hours=20),
            {"sentiment": sentiment, "sentiment_score": scores[sentiment], "calls": 1, "topic": "device_issue"},
        ),
    ]


def write(intake: Intake, orders: list[Generated]) -> int:
    """Record the generated orders' events; how many were new."""
    return record_all(intake, [e for g in orders for e in events_of(g)])
