"""Evidence packages: what each department needs to act on a detector's firing, computed from the woven log.

When a detector fires, every department gets the slice of the joined data it
can act on, computed from the cohort's own orders (never canned text):
- marketing: the conversion funnel of the cohort per channel and creative
  (placed → paid → delivered → kept), with each row's return rate;
- product: the cohort's firmware versions with their return and crash figures,
  and the crash reports (signature, screen, firmware, minutes after unboxing);
- customer service: the suggested answer pack (`evidence_answers.py`).
The packages are stored in the `detector.fired` event, so a playbook hands
them on as they were when the detector fired.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from orderloom.valuestream.detectors_document import Detector, matches
from orderloom.valuestream.detectors_eval import had_event
from orderloom.valuestream.detectors_table import OrderRecord, Woven
from orderloom.valuestream.evidence_answers import answer_pack

CHANNELS = ("marketing.channel_id", "order.channel")  # marketing's attribution first, the order's own channel else
CREATIVE = "marketing.creative"
CAMPAIGN = "marketing.campaign"
FIRMWARE = "product.firmware_version"
COMPATIBLE = "product.app_compatible"
CRASH = "product.crash_signature"
CRASH_SCREEN = "product.crash_screen"
APP_VERSION = "product.app_version"
QUICK_MINUTES = 30
MAX_ROWS = 12
NONE = "(none)"


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded, None for an empty whole."""
    return round(part / whole, 4) if whole else None


def first_known(order: OrderRecord, name: str) -> datetime | None:
    """When `name` first became known about the order (None: never)."""
    return min((at for at, n, _ in order.trail.known if n == name), default=None)


def packages(
    woven: Woven, d: Detector, now: datetime, cohort: list[OrderRecord], cause: dict[str, Any]
) -> dict[str, Any]:
    """Every department's package for a firing: marketing, product, customer_service."""
    placed = _placed_in_window(woven, d, now, cohort)
    return {
        "marketing": funnel(woven, d, now, placed),
        "product": firmware(woven, d, now, cohort),
        "customer_service": answer_pack(woven, d, now, cohort, cause),
    }


def _placed_in_window(woven: Woven, d: Detector, now: datetime, delivered: list[OrderRecord]) -> list[OrderRecord]:
    """The cohort's orders placed in the window, and those delivered in it (placed a little earlier)."""
    start = now - timedelta(days=d.window_days)
    out = {o.oid: o for o in delivered}
    for o in woven.orders.values():
        if o.oid in out or o.placed_at is None or not start < o.placed_at <= now:
            continue
        if matches(woven.attributes(o), d.cohort):
            out[o.oid] = o
    return list(out.values())


def _channel(attrs: dict[str, Any]) -> str:
    return str(next((attrs[k] for k in CHANNELS if attrs.get(k) not in (None, "")), NONE))


def funnel(woven: Woven, d: Detector, now: datetime, orders: list[OrderRecord]) -> dict[str, Any]:
    """Marketing's package: placed → paid → delivered → kept per channel and creative, worst return rate first."""
    groups: dict[tuple[str, str], list[OrderRecord]] = {}
    campaigns: dict[tuple[str, str], Counter[str]] = {}
    for o in orders:
        attrs = woven.attributes(o)
        key = (_channel(attrs), str(attrs.get(CREATIVE) or NONE))
        groups.setdefault(key, []).append(o)
        campaigns.setdefault(key, Counter())[str(attrs.get(CAMPAIGN) or NONE)] += 1
    rows = []
    for (channel, creative), members in groups.items():
        stages = _stages(members, d, now)
        rows.append(
            {
                "channel": channel,
                "creative": creative,
                "campaigns": [c for c, _ in campaigns[(channel, creative)].most_common(3)],
                **stages,
            }
        )
    total = _stages(orders, d, now)
    # Worst first: the rows whose buyers send the product back most, among rows big enough to say so.
    rows.sort(key=lambda r: (r["delivered"] < 10, -(r["return_rate"] or 0.0), -r["placed"], r["channel"]))
    return {
        "title": {"zh": "按渠道与素材的转化漏斗", "en": "Conversion funnel by channel and creative"},
        "stages": ["placed", "paid", "delivered", "kept"],
        "cohort": total,
        "rows": rows[:MAX_ROWS],
        "rows_total": len(rows),
    }


def _stages(orders: Iterable[OrderRecord], d: Detector, now: datetime) -> dict[str, Any]:
    placed = paid = delivered = events = quick = 0
    for o in orders:
        placed += 1
        paid += o.paid_at is not None and o.paid_at <= now
        if o.delivered_at is None or o.delivered_at > now:
            continue
        delivered += 1
        if had_event(o, d, now):
            events += 1
            minutes = _minutes_to_event(o, d)
            quick += minutes is not None and minutes <= QUICK_MINUTES
    kept = delivered - events
    return {
        "placed": placed,
        "paid": paid,
        "delivered": delivered,
        "events": events,
        "kept": kept,
        "pay_rate": rate(paid, placed),
        "delivery_rate": rate(delivered, paid),
        "keep_rate": rate(kept, delivered),
        "return_rate": rate(events, delivered),
        "quick_events": quick,
    }


def _minutes_to_event(o: OrderRecord, d: Detector) -> float | None:
    if d.metric == "return_rate":
        return o.return_minutes
    if o.complained_at is None or o.delivered_at is None:
        return None
    return (o.complained_at - o.delivered_at).total_seconds() / 60


def firmware(woven: Woven, d: Detector, now: datetime, cohort: list[OrderRecord]) -> dict[str, Any]:
    """Product's package: the cohort's firmware versions and the crash reports its devices sent."""
    versions: dict[str, list[OrderRecord]] = {}
    crashes: dict[tuple[str, str], list[tuple[OrderRecord, dict[str, Any]]]] = {}
    for o in cohort:
        attrs = woven.attributes(o)
        versions.setdefault(str(attrs.get(FIRMWARE) or NONE), []).append(o)
        if attrs.get(CRASH):
            crashes.setdefault((str(attrs[CRASH]), str(attrs.get(CRASH_SCREEN) or NONE)), []).append((o, attrs))
    crashed = {o.oid for members in crashes.values() for o, _ in members}
    rows: list[dict[str, Any]] = []
    for version, members in versions.items():
        events = sum(had_event(o, d, now) for o in members)
        rows.append(
            {
                "firmware_version": version,
                "orders": len(members),
                "events": events,
                "event_rate": rate(events, len(members)),
                "app_incompatible": sum(woven.attributes(o).get(COMPATIBLE) is False for o in members),
                "with_crash_reports": sum(o.oid in crashed for o in members),
            }
        )
    rows.sort(key=lambda r: (-r["orders"], r["firmware_version"]))
    reports = [_crash_row(sig, screen, members, d, now) for (sig, screen), members in crashes.items()]
    reports.sort(key=lambda r: (-r["orders"], r["signature"]))
    return {
        "title": {"zh": "队列的固件版本与崩溃报告", "en": "Firmware versions and crash reports of the cohort"},
        "orders": len(cohort),
        "firmware": rows[:MAX_ROWS],
        "crash_reports": {
            "orders_with_reports": len(crashed),
            "share_of_cohort": rate(len(crashed), len(cohort)),
            "share_of_events": rate(
                sum(had_event(o, d, now) for o in cohort if o.oid in crashed),
                sum(had_event(o, d, now) for o in cohort),
            ),
            "signatures": reports[:MAX_ROWS],
        },
        "reasons": _top(o.return_reason for o in cohort if had_event(o, d, now) and d.metric == "return_rate"),
    }


def _crash_row(
    signature: str, screen: str, members: list[tuple[OrderRecord, dict[str, Any]]], d: Detector, now: datetime
) -> dict[str, Any]:
    minutes = [
        (at - o.delivered_at).total_seconds() / 60
        for o, _ in members
        if o.delivered_at is not None and (at := first_known(o, CRASH)) is not None
    ]
    events = sum(had_event(o, d, now) for o, _ in members)
    return {
        "signature": signature,
        "screen": screen,
        "orders": len(members),
        "events": events,
        "event_rate": rate(events, len(members)),
        "firmware": _top((a.get(FIRMWARE) for _, a in members), 3),
        "app_versions": _top((a.get(APP_VERSION) for _, a in members), 3),
        "median_minutes_after_delivery": round(statistics.median(minutes), 1) if minutes else None,
    }


def _top(values: Iterable[Any], n: int = 5, key: Callable[[Any], str] = str) -> list[dict[str, Any]]:
    """The most common values with their counts and shares (unknowns left out)."""
    counts = Counter(key(v) for v in values if v not in (None, ""))
    total = sum(counts.values())
    return [{"value": v, "count": c, "share": rate(c, total)} for v, c in counts.most_common(n)]
