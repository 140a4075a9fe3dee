"""Seeded B2B accounts: a first order, what every department knows two hours after payment, and a renewal.

Each account places an enterprise order; sales knows the deal (industry, size,
inquiries, quote rounds, discount, contacts), finance the payment history,
product the supplier's rating, and the order may be changed in its first hours.
Whether the account renews 90 days later follows a hidden logistic model of
those features with noise (nobody's churn is certain). After the two-hour
cut-off come things a scorer must NOT use: late order changes and angry calls,
both more common among accounts that will churn, so leaking them would flatter
any model.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderloom.status.intake import Intake
from orderloom.valuestream.generator_events import event, fact, record_all

CUTOFF = timedelta(hours=2)
SIZES = {"small": 0.45, "mid": 0.0, "large": -0.45}
INDUSTRIES = {"retail": 0.25, "manufacturing": -0.25, "hospitality": 0.15, "education": 0.0, "healthcare": -0.1}
CHANNELS = {"sales_rep": -0.35, "website": 0.0, "distributor": 0.2, "marketplace": 0.55}
CATEGORIES = {"office_equipment": 0.0, "it_hardware": 0.0, "consumables": 0.15, "furniture": 0.0}
REGIONS = ("华东", "华南", "华北", "西南", "华中")
INTERCEPT = -1.4


@dataclass(frozen=True, slots=True)
class B2BPlan:
    """How many accounts over how many days, the seed, and when renewals are decided."""

    accounts: int = 1200
    days: int = 360
    seed: int = 11
    renewal_after_days: int = 90


@dataclass(slots=True)
class Account:
    """One generated account: what was known two hours after payment, and its fate."""

    customer: str
    oid: str
    placed_at: datetime
    paid_at: datetime
    known: dict[str, Any]  # true feature values, named as the woven table names them
    churn_probability: float
    churns: bool
    decided_at: datetime | None  # when the renewal outcome is recorded (None: not yet by the end)
    changes: list[datetime] = field(default_factory=list)  # order changes, before and after the cut-off
    complaint_at: datetime | None = None  # an angry call after the cut-off


def churn_logit(k: dict[str, Any]) -> float:
    """The hidden model: log-odds of churn from the features known at the cut-off."""
    z: float = INTERCEPT
    z += SIZES[k["sales.company_size"]] + INDUSTRIES[k["sales.industry"]] + CHANNELS[k["order.channel"]]
    z += CATEGORIES[k["product.category"]]
    z += -0.12 * (k["sales.inquiry_depth"] - 4) + 0.18 * (k["sales.quote_rounds"] - 2)
    z += 0.035 * (k["sales.discount_pct"] - 12) - 0.28 * (k["sales.contacts"] - 3)
    z += -0.7 * (k["product.supplier_rating"] - 4.1) + 0.015 * (k["finance.avg_days_to_pay"] - 35)
    z += 2.2 * (k["finance.overdue_share"] - 0.2) - 0.06 * (k["sales.orders_to_date"] - 6)
    z += 0.35 * k["order.new_customer"] + 0.3 * k["order.changes"]
    z += 0.004 * (k["payment.minutes_to_pay"] - 60) - 0.15 * math.log(k["order.total"] / 20000)
    if k["sales.company_size"] == "small" and k["order.channel"] == "marketplace":
        z += 0.4  # small shops buying off a marketplace rarely build a relationship
    return z


def generate_accounts(plan: B2BPlan, end: datetime) -> list[Account]:
    """The accounts of the plan, paid over `plan.days` days before `end` (pure: nothing is written)."""
    r = random.Random(plan.seed)
    out = []
    for i in range(plan.accounts):
        placed = end - timedelta(days=plan.days) + timedelta(seconds=r.uniform(0, (plan.days - 1) * 86400))
        out.append(_account(r, plan, i, placed, end))
    return out


def _account(r: random.Random, plan: B2BPlan, i: int, placed: datetime, end: datetime) -> Account:
    orders_to_date = min(int(r.expovariate(1 / 6)), 60)
    minutes_to_pay = round(min(r.lognormvariate(3.8, 0.7), 24 * 60), 1)
    paid = placed + timedelta(minutes=minutes_to_pay)
    qty = max(1, int(r.lognormvariate(3.2, 0.8)))
    price = r.choice([120.0, 480.0, 950.0, 2600.0])
    method = r.choices(["credit_terms", "bank_transfer"], [0.7, 0.3])[0]
    k: dict[str, Any] = {
        "order.channel": r.choices(list(CHANNELS), [0.35, 0.3, 0.2, 0.15])[0],
        "order.region": r.choice(REGIONS),
        "order.total": round(qty * price, 2),
        "order.quantity": qty,
        "order.lines": 1,
        "order.new_customer": orders_to_date == 0,
        "payment.method": method,
        "payment.terms_days": r.choice([30, 45, 60]) if method == "credit_terms" else 0,
        "payment.minutes_to_pay": minutes_to_pay,
        "sales.company_size": r.choices(list(SIZES), [0.4, 0.4, 0.2])[0],
        "sales.industry": r.choice(list(INDUSTRIES)),
        "sales.inquiry_depth": min(int(r.gammavariate(4, 1)), 20),
        "sales.quote_rounds": 1 + min(int(r.expovariate(1 / 1.2)), 8),
        "sales.discount_pct": round(r.uniform(0, 25), 1),
        "sales.contacts": 1 + min(int(r.expovariate(1 / 2)), 10),
        "sales.orders_to_date": orders_to_date,
        "sales.lifetime_value": round(orders_to_date * r.lognormvariate(9, 0.6), 2),
        "finance.avg_days_to_pay": round(min(r.gammavariate(5, 7), 150), 1),
        "finance.overdue_share": round(r.betavariate(2, 8), 3),
        "product.category": r.choice(list(CATEGORIES)),
        "product.supplier_rating": round(min(5.0, max(1.0, r.gauss(4.1, 0.45))), 1),
    }
    early = [placed + (paid + CUTOFF - placed) * r.random() for _ in range(_poisson(r, 0.6))]
    k["order.changes"] = len(early)
    p = 1 / (1 + math.exp(-churn_logit(k)))
    churns = r.random() < p
    decided = paid + timedelta(days=plan.renewal_after_days)
    late = [
        paid + CUTOFF + timedelta(minutes=r.uniform(10, 10 * 1440))
        for _ in range(r.random() < (0.5 if churns else 0.15))
    ]
    complaint = paid + timedelta(days=r.uniform(3, 20)) if r.random() < (0.4 if churns else 0.08) else None
    a = Account(
        customer=f"C-B2B-{plan.seed}-{i:04d}",
        oid=f"B2B{plan.seed}-{i:04d}",
        placed_at=placed,
        paid_at=paid,
        known=k,
        churn_probability=p,
        churns=churns,
        decided_at=decided if decided < end else None,
        changes=sorted(t for t in early + late if t < end),
        complaint_at=complaint if complaint is not None and complaint + timedelta(hours=2) < end else None,
    )
    return a


def _poisson(r: random.Random, mean: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= r.random()
        if p < limit:
            return n
        n += 1


def account_manager(customer: str) -> str:
    """The sales owner of a generated account: twelve managers share the accounts by number."""
    return f"AM-{int(customer[-4:]) % 12 + 1:03d}"


def events_of(a: Account) -> list[dict[str, Any]]:
    """The raw events of the account's story, its order's placement first."""
    k, oid, c = a.known, a.oid, a.customer
    placed = {
        "lines": [
            {
                "sku": f"B2B-{k['product.category'].upper()}",
                "qty": k["order.quantity"],
                "unit_price": round(k["order.total"] / k["order.quantity"], 2),
            }
        ],
        "currency": "CNY",
        "total": k["order.total"],
        "customer": {"id": c, "tier": "enterprise", "new_customer": k["order.new_customer"]},
        "channel": k["order.channel"],
        "destination": {"region": k["order.region"], "city": "总部", "address": "采购部收货处"},
        "recipient": {"name": "采购部", "phone": "4008000000"},
        "window": {
            "start": (a.placed_at + timedelta(days=2)).isoformat(),
            "end": (a.placed_at + timedelta(days=7)).isoformat(),
        },
    }
    sales = {key.split(".", 1)[1]: k[key] for key in k if key.startswith("sales.")}
    sales["segment"] = "wholesale"
    sales["account_manager"] = account_manager(c)
    out = [
        fact(f"{oid}-sales", "sales", c, a.placed_at - timedelta(days=1), sales),
        fact(
            f"{oid}-finance",
            "finance",
            c,
            a.placed_at - timedelta(hours=6),
            {
                "avg_days_to_pay": k["finance.avg_days_to_pay"],
                "invoices_counted": k["sales.orders_to_date"],
                "overdue_share": k["finance.overdue_share"],
                "credit_terms_days": k["payment.terms_days"],
            },
        ),
        event(f"{oid}-placed", "order.placed", oid, a.placed_at, placed, actor=f"sales:{c}"),
        event(
            f"{oid}-paid",
            "payment.authorized",
            oid,
            a.paid_at,
            {
                "payment_id": f"PAY-{oid}",
                "amount": k["order.total"],
                "currency": "CNY",
                "method": k["payment.method"],
                "terms_days": k["payment.terms_days"],
            },
        ),
        fact(
            f"{oid}-product",
            "product",
            oid,
            a.placed_at + timedelta(minutes=5),
            {
                "device_model": placed["lines"][0]["sku"],
                "category": k["product.category"],
                "supplier_rating": k["product.supplier_rating"],
            },
            obj="order_product",
        ),
    ]
    for n, at in enumerate(a.changes):
        change = {
            "destination": {"region": k["order.region"], "city": "总部", "address": f"采购部收货处 {n + 2} 号门"},
            "reason": "customer_request",
            "requested_by": "cs",
        }
        out.append(event(f"{oid}-change-{n}", "order.address_changed", oid, at, change, actor="cs:b2b-desk"))
    if a.complaint_at is not None:
        out.append(
            event(
                f"{oid}-complaint",
                "complaint.opened",
                oid,
                a.complaint_at,
                {"complaint_id": f"CP-{oid}", "channel": "phone", "category": "service", "severity": "high"},
            )
        )
        out.append(
            fact(
                f"{oid}-cs",
                "customer_service",
                oid,
                a.complaint_at + timedelta(hours=1),
                {"sentiment": "angry", "sentiment_score": -0.8, "calls": 2, "topic": "other"},
            )
        )
    if a.decided_at is not None:
        renewal = "churned" if a.churns else "renewed"
        out.append(fact(f"{oid}-renewal", "sales", c, a.decided_at, {"renewal": renewal}, obj="customer_renewal"))
    return out


def write_accounts(intake: Intake, accounts: list[Account]) -> int:
    """Record the generated accounts' events; how many were new."""
    return record_all(intake, [e for a in accounts for e in events_of(a)])
