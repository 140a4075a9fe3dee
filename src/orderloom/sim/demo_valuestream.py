"""The demo's value stream and field operations: enough history for the console's intelligence and value-stream pages.

Three weeks of a small electronics shop (premium headphones, a speaker, a
watch): orders placed, paid, shipped, delivered and sometimes returned, and
what five departments say about them, delivered through the facts intake as
the history happened (mostly on time, some late, some never, a few refused).
Premium headphones bought from the short-video creative come back within the
hour far more often than the rest, so the demo's `headphone_returns` detector
fires, its root cause names the creative, and the default `detector_evidence`
playbook gives product, marketing and customer service a task each with their
evidence package (publishing the narrower `headphone_returns_playbook` as well
would give each department two tasks per firing). Field operations reuse
the PDA simulator with a faulty firmware, so open monitor findings have a root
cause too. Everything goes through intake and the policy log, like any client.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.clock import Clock
from orderloom.core.envelope import format_time, parse_time
from orderloom.policy.log import PolicyLog
from orderloom.policy.model import PolicyVersion
from orderloom.sim.demo import _event
from orderloom.sim.demo_experiment import load_experiment
from orderloom.sim.fieldops import FieldOpsPlan, Plant, generate
from orderloom.status.intake import Intake
from orderloom.store.follow import iter_log
from orderloom.valuestream.catalog import load_contracts
from orderloom.valuestream.config import ValueStreamConfig
from orderloom.valuestream.detectors import run_detectors
from orderloom.valuestream.facts import FactDesk

PREFIX = "OL-VS"
DETECTOR = "headphone_returns"
ACTOR = "system:demo"
# (sku, name, price, device model, firmware versions); the first is the detector's cohort.
PRODUCTS = (
    ("HP-PRO-X", "降噪耳机 Pro X", 1299.0, "HP-PRO-X", ("2.1.0", "2.2.1")),
    ("SPK-MINI", "蓝牙音箱 mini", 299.0, "SPK-MINI", ("1.4.0",)),
    ("WATCH-S2", "智能手表 S2", 899.0, "WATCH-S2", ("5.0.2", "5.1.0")),
)
CHANNELS = ("douyin", "wechat_mini", "app")  # the order's sales channel, by creative
CREATIVES = (("douyin_live", "short_video"), ("wechat_moments", "banner"), ("app_push", "livestream"))


class _Replay(Clock):
    """The time a replayed delivery arrived at: the facts desk stamps `received_at` from its intake's clock."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True, slots=True)
class _Sale:
    oid: str
    customer: str
    product: int
    creative: int
    placed: datetime
    paid: datetime
    shipped: datetime
    delivered: datetime


def _events(svc: Services, sale: _Sale, rng: random.Random) -> list[dict[str, Any]]:
    sku, name, price, _, _ = PRODUCTS[sale.product]
    placed = _event(svc, sale.oid, 0, "order.placed", sale.placed)
    placed["actor"] = f"customer:{sale.customer}"
    placed["data"].update(
        lines=[{"sku": sku, "name": name, "qty": 1, "unit_price": price}],
        total=price,
        channel=CHANNELS[sale.creative],
        customer={**placed["data"]["customer"], "id": sale.customer, "new_customer": False},
        # Promised within two days: most arrive in time, the slow ones do not (the experiment's on-time metric).
        window={"start": format_time(sale.placed), "end": format_time(sale.placed + timedelta(hours=48))},
    )
    pay = {"amount": price, "payment_id": f"PAY-{sale.oid}"}
    out = [
        placed,
        _event(svc, sale.oid, 1, "payment.authorized", sale.paid - timedelta(minutes=1), **pay),
        _event(svc, sale.oid, 2, "payment.captured", sale.paid, **pay),
        _event(svc, sale.oid, 3, "outbound.scanned", sale.shipped),
        _event(svc, sale.oid, 4, "delivery.delivered", sale.delivered),
    ]
    # The seed case: short-video buyers of the headphones give up on the app's pairing within the hour.
    planted = sale.product == 0 and sale.creative == 0
    if rng.random() < (0.6 if planted else 0.06):
        minutes = rng.randint(8, 50) if planted else rng.randint(600, 2500)
        asked = sale.delivered + timedelta(minutes=minutes)
        ret = {"return_id": f"RT-{sale.oid}", "lines": [{"sku": sku, "qty": 1}], "minutes_since_delivery": minutes}
        reason = "pairing_difficulty" if planted else rng.choice(["changed_mind", "defective"])
        out += [
            _event(svc, sale.oid, 5, "return.requested", asked, reason=reason, **ret),
            _event(svc, sale.oid, 6, "return.collected", asked + timedelta(hours=20), return_id=ret["return_id"]),
            _event(svc, sale.oid, 7, "return.received", asked + timedelta(hours=44), return_id=ret["return_id"]),
            _event(svc, sale.oid, 8, "refund.issued", asked + timedelta(hours=46), return_id=ret["return_id"]),
        ]
    return out


@dataclass(slots=True)
class _Anchors:
    """When the events a contract's SLA counts from happened on one order, and whose order it is."""

    customer: str = ""
    times: dict[str, datetime] = field(default_factory=dict)


PLANTED = ("channel_id", "reason")  # the fields the demo's deliberately bad rows break
ANCHORS = ("order.placed", "payment.authorized", "payment.captured", "outbound.scanned")


def _anchors(svc: Services) -> dict[str, _Anchors]:
    """Every order in the log with its anchors' first times: departments deliver for every order, not just ours."""
    out: dict[str, _Anchors] = defaultdict(_Anchors)
    for e in iter_log(svc.store):
        if e.oid is None or e.type not in ANCHORS:
            continue
        a = out[e.oid]
        a.times.setdefault(e.type, parse_time(e.time))
        if e.type == "order.placed":
            a.customer = str((e.data or {}).get("customer", {}).get("id", ""))
    return out


def _facts(
    orders: dict[str, _Anchors], sales: dict[str, _Sale], rng: random.Random
) -> dict[datetime, list[tuple[str, str | None, dict[str, Any]]]]:
    """Each department's records (domain, contract object or None for its default, record) keyed by arrival."""
    due: dict[datetime, list[tuple[str, str | None, dict[str, Any]]]] = defaultdict(list)

    def add(domain: str, anchor: datetime | None, sla: timedelta, record: dict[str, Any], late: float) -> None:
        draw = rng.random()
        if anchor is None or draw < 0.04:
            return  # never delivered
        at = (
            anchor + sla + timedelta(minutes=rng.randint(20, 300))
            if draw < 0.04 + late
            else anchor + sla * rng.uniform(0.1, 0.95)
        )
        due[at].append((domain, None, record))

    customers: dict[str, _Anchors] = {}
    for oid, a in orders.items():
        placed, paid = a.times.get("order.placed"), a.times.get("payment.captured")
        sale = sales.get(oid)
        rush = {"oid": oid, "rush_order": rng.random() < 0.15}
        if rush["rush_order"]:
            rush.update(reason="promise_at_risk", expedite_cost=round(rng.uniform(8, 40), 2))
        add("supply_chain", placed, timedelta(minutes=30), rush, 0.12)
        channel, creative = CREATIVES[sale.creative if sale else rng.randrange(3)]
        marketing = {"oid": oid, "channel_id": channel, "campaign": "double11_audio" if sale else "fresh_weekly"}
        add("marketing", paid, timedelta(hours=2), {**marketing, "creative": creative}, 0.08)
        if sale is not None:  # product's firmware contract is about devices: the shop's orders, not the groceries
            _, _, _, model, firmwares = PRODUCTS[sale.product]
            firmware = rng.choice(firmwares)
            product = {
                "oid": oid,
                "device_model": model,
                "firmware_version": firmware,
                "app_compatible": firmware != "2.1.0",
            }
            add("product", a.times.get("outbound.scanned"), timedelta(hours=4), product, 0.05)
            crash = _crash(sale)
            if crash is not None:
                due[sale.delivered + timedelta(minutes=crash.pop("after_minutes"))].append(
                    ("product", "app_crash_report", {"oid": oid, **crash})
                )
        if a.customer and a.customer not in customers:
            customers[a.customer] = a
    for customer, first in customers.items():
        segment = rng.choice(["new", "returning", "vip"])
        profile = {"customer_id": customer, "segment": segment, "lifetime_value": round(rng.uniform(300, 9000), 2)}
        add("sales", first.times.get("order.placed"), timedelta(hours=24), profile, 0.1)
        history = {
            "customer_id": customer,
            "avg_days_to_pay": round(rng.uniform(0, 20), 1),
            "invoices_counted": rng.randint(1, 12),
        }
        add("finance", first.times.get("payment.authorized"), timedelta(hours=24), history, 0.15)
    # Feeds send bad rows too: these are refused, named by field and rule, and counted in contract health.
    for k, s in enumerate(list(sales.values())[:: max(1, len(sales) // 6)]):
        due[s.paid + timedelta(minutes=5 + k)].append(
            ("marketing", None, {"oid": s.oid, "channel_id": "Douyin Live", "campaign": "x"})
        )
        due[s.placed + timedelta(minutes=3 + k)].append(
            ("supply_chain", None, {"oid": s.oid, "rush_order": True, "reason": "urgent"})
        )
    return due


def _crash(sale: _Sale) -> dict[str, Any] | None:
    """The companion app's crash report from the headphones, if it sent one (its own random stream per order).

    Short-video buyers who cannot pair crash the pairing screen; other devices crash rarely, elsewhere.
    """
    if sale.product != 0:
        return None
    r = random.Random(f"crash-{sale.oid}")
    planted = sale.creative == 0
    if r.random() >= (0.5 if planted else 0.04):
        return None
    signature, screen = (
        ("pairing.ble_timeout", "pairing")
        if planted
        else r.choice((("playback.decoder_fault", "playback"), ("settings.null_ref", "settings")))
    )
    return {
        "crash_signature": signature,
        "crash_screen": screen,
        "app_version": r.choice(("5.2.0", "5.1.4")),
        "crashes": 1 + int(r.expovariate(1)),
        "after_minutes": r.randint(5, 45),
    }


def _sales(now: datetime, rng: random.Random, orders: int) -> list[_Sale]:
    out = []
    for k in range(1, orders + 1):
        placed = now - timedelta(days=24) + timedelta(seconds=rng.uniform(0, 18 * 86400))
        paid = placed + timedelta(minutes=rng.randint(2, 20))
        shipped = paid + timedelta(hours=rng.uniform(4, 20))
        # Half the orders are the premium headphones, a third of those from the short-video creative and up.
        product = 0 if k % 2 == 0 else rng.choice((1, 2))
        creative = rng.choice((0, 0, 1, 2)) if product == 0 else rng.randrange(3)
        delivered = shipped + timedelta(hours=rng.uniform(18, 40))
        customer = f"C-VS-{rng.randrange(1, orders // 2):04d}"  # customers come back, for repurchase views
        out.append(_Sale(f"{PREFIX}-{k:04d}", customer, product, creative, placed, paid, shipped, delivered))
    return out


def _detector(svc: Services) -> None:
    """Publish the detector and run it (load_demo installed the default playbooks first)."""
    log = PolicyLog(svc.intake)
    if not log.state(DETECTOR).versions:
        models = [p[3] for p in PRODUCTS]
        document = {
            "label": {"zh": "高端耳机退货率异常", "en": "Premium headphones come back too often"},
            "description": "Premium headphones delivered in the last 30 days, returned within 30 days, against every "
            "other product. Fires above 2x with at least 40 orders each; at most once a day.",
            "cohort": {"product.device_model": "HP-PRO-X"},
            "metric": {"kind": "return_rate", "within_days": 30},
            "compare": {"against": "all", "exclude_cohort": True, "ratio_above": 2.0},
            "min_cohort": 40,
            "window_days": 30,
            "schedule": {"every": "1d"},
            "root_cause": {"exclude": ["marketing.attribution_model"], "max_conditions": 2},
        }
        schema = {"type": "object", "properties": {"product.device_model": {"type": "string", "enum": models}}}
        note = "demo: the seed case on the shipped product contract's device_model"
        saved = log.save(PolicyVersion(DETECTOR, 0, "detector", document, schema, note=note), actor=ACTOR)
        log.publish(DETECTOR, saved.version, actor=ACTOR, reason="demo")
    run_detectors(svc)


def load_value_stream(svc: Services, now: datetime, *, orders: int = 160) -> int:
    """Write the shop's history, the field-operations orders and every department's facts; returns orders placed."""
    rng = random.Random(11)
    sales = _sales(now, rng, orders)
    # A return still under way at `now` has only its past steps.
    events = [e for s in sales for e in _events(svc, s, rng) if parse_time(e["time"]) <= now]
    rejected = [r for r in svc.intake.record(events) if r.status == "rejected"]
    if rejected:
        raise RuntimeError(f"demo event {rejected[0].id} was rejected: {rejected[0].problems}")
    # Field operations with a PDA firmware that drops the forward-warehouse check: open findings with a cause.
    plan = FieldOpsPlan(orders=240, seed=7, plant=Plant(drop_rate=0.5), days=2.0, prefix="OL-FO")
    field_orders = generate(svc, plan, end=now - timedelta(hours=2)).orders
    clock = _Replay(now)
    desk = FactDesk(
        Intake(svc.store, svc.dictionary, clock, svc.directory),
        load_contracts(ValueStreamConfig.from_env().contract_paths, svc.dictionary),
    )
    for at, batch in sorted(_facts(_anchors(svc), {s.oid: s for s in sales}, rng).items()):
        if at > now:
            continue  # not delivered yet: pending, or missing once due
        clock.at = at
        by_object: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
        for domain, obj, record in batch:
            by_object[domain, obj].append(record)
        for (domain, obj), records in by_object.items():
            for r in desk.record(domain, records, actor=ACTOR, source="demo", object_name=obj):
                # Only the planted bad rows may be refused; anything else is a mistake in this generator.
                if r.status == "rejected" and not any(p.field.split(".")[-1] in PLANTED for p in r.problems):
                    raise RuntimeError(f"demo {domain} fact {r.id} was rejected: {r.problems}")
    _detector(svc)
    seen: set[str] = set()
    decided = []
    for sale in sorted(sales, key=lambda x: x.placed):
        decided.append((sale.oid, CHANNELS[sale.creative], sale.customer not in seen, PRODUCTS[sale.product][2]))
        seen.add(sale.customer)
    load_experiment(svc, decided)
    return orders + field_orders
