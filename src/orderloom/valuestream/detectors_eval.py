"""Evaluating one detector over the woven table: the cohort's rate against the comparison's (a pure function)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.valuestream.detectors_document import Detector, matches
from orderloom.valuestream.detectors_table import OrderRecord, Woven


@dataclass(frozen=True, slots=True)
class Group:
    """Orders of a group delivered in the window, and how many had the metric's event in time."""

    size: int
    events: int

    @property
    def rate(self) -> float | None:
        """events / size, None for an empty group."""
        return self.events / self.size if self.size else None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"size": self.size, "events": self.events, "rate": None if self.rate is None else round(self.rate, 4)}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A detector's verdict for a window: the two groups, their ratio, and whether it fires."""

    start: datetime
    end: datetime
    cohort: Group
    comparison: Group
    ratio: float | None
    fires: bool
    why_not: str | None  # when it does not fire: the reason in words

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "window": {"from": format_time(self.start), "to": format_time(self.end)},
            "cohort": self.cohort.as_dict(),
            "comparison": self.comparison.as_dict(),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "fires": self.fires,
            "why_not": self.why_not,
        }


def in_window(order: OrderRecord, start: datetime, end: datetime) -> bool:
    """Whether the order was delivered (unboxed) within (start, end]."""
    return order.delivered_at is not None and start < order.delivered_at <= end


def had_event(order: OrderRecord, d: Detector, now: datetime) -> bool:
    """Whether the metric's event happened within `within_days` of delivery, by `now`."""
    at = order.event_at(d.metric)
    if at is None or order.delivered_at is None or at > now:
        return False
    return at - order.delivered_at <= timedelta(days=d.within_days)


def members(woven: Woven, d: Detector, now: datetime) -> tuple[list[OrderRecord], list[OrderRecord]]:
    """(cohort orders, comparison orders) delivered in the detector's window ending at `now`."""
    start = now - timedelta(days=d.window_days)
    cohort, comparison = [], []
    for order in woven.orders.values():
        if not in_window(order, start, now):
            continue
        attrs = woven.attributes(order)
        inside = matches(attrs, d.cohort)
        if inside:
            cohort.append(order)
        if (d.against is None or matches(attrs, d.against)) and not (inside and d.exclude_cohort):
            comparison.append(order)
    return cohort, comparison


def evaluate(woven: Woven, d: Detector, now: datetime) -> Evaluation:
    """The detector's verdict over orders delivered in (now - window_days, now]."""
    cohort_orders, comparison_orders = members(woven, d, now)
    cohort = Group(len(cohort_orders), sum(had_event(o, d, now) for o in cohort_orders))
    comparison = Group(len(comparison_orders), sum(had_event(o, d, now) for o in comparison_orders))
    ratio = None
    why_not = None
    if cohort.size < d.min_cohort:
        why_not = f"only {cohort.size} orders in the cohort, fewer than the {d.min_cohort} needed to judge"
    elif comparison.size < d.min_cohort:
        why_not = f"only {comparison.size} orders to compare with, fewer than the {d.min_cohort} needed"
    elif cohort.rate is not None and comparison.rate is not None:
        # No event at all in the comparison: any event in the cohort is infinitely more.
        no_base = float("inf") if cohort.events else None
        ratio = cohort.rate / comparison.rate if comparison.rate else no_base
        if ratio is None or ratio <= d.ratio_above:
            why_not = f"the cohort's rate is {_times(ratio)} the comparison's, not above {d.ratio_above:g}×"
    start = now - timedelta(days=d.window_days)
    finite = ratio if ratio is None or ratio != float("inf") else None
    return Evaluation(start, now, cohort, comparison, finite, why_not is None, why_not)


def _times(ratio: float | None) -> str:
    return "not comparable to" if ratio is None else f"{ratio:.2f}×"
