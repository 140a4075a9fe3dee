"""What the signals announce about the coming hours, as known at the end of each hour bucket.

Two signal types shape a sorting centre's next hours:

- `node.capacity_drop` (target: a node): an equipment fault or planned
  maintenance leaves `factor` of the capacity from `starts_at` for an expected
  `expected_hours`; a later report of the same `incident` with `cleared: true`
  says it is over (repairs overrun or finish early: the estimate is only that).
- `region.promotion` (target: a city): arrivals to the city are expected to be
  `factor` times the usual from `starts_at` for `hours`.

Only reports whose bucket is at or before the forecast's bucket are used, so
nothing here can see the future beyond what was announced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from orderloom.core.envelope import parse_time
from orderloom.status.forecast.series import EPOCH, ReportedSignal, Series

CAPACITY = "node.capacity_drop"
PROMOTION = "region.promotion"
FAR = 48.0  # "nothing announced" is told to the model as this many hours away


@dataclass(frozen=True, slots=True)
class Outlook:
    """Per index of a node's series: the announced capacity factor and demand factor for each hour ahead."""

    capacity: np.ndarray  # (hours, horizon): expected share of capacity in each of the next hours
    demand: np.ndarray  # (hours, horizon): expected promotion uplift of arrivals in each of the next hours
    demand_before: np.ndarray  # (hours, 3): the uplift announced for the hour just ended and the two before it
    remaining_h: np.ndarray  # expected hours left of the capacity loss in force (0 if none)
    overdue_h: np.ndarray  # hours a capacity loss in force has run past its expected end
    next_drop_h: np.ndarray  # hours until the next announced capacity loss starts (FAR if none)
    next_promo_h: np.ndarray  # hours until the next announced promotion starts (FAR if none)
    # Each promotion as (series index it became known at, first index it covers, index after its end):
    # hours it covered are not "usual" hours once it is known.
    promotions: tuple[tuple[int, float, float], ...] = ()


@dataclass(slots=True)
class _Window:
    start: float  # epoch hours
    hours: float
    factor: float
    cleared: bool = False


def outlooks(series: Series, city_of: Mapping[str, str], horizon: int) -> dict[str, Outlook]:
    """Each node's outlook over its series; `city_of` maps a node to the city its promotions target."""
    by_target: dict[tuple[str, str], list[ReportedSignal]] = {}
    for s in series.signals:
        by_target.setdefault((s.type, s.target), []).append(s)
    return {
        node: _outlook(
            series,
            by_target.get((CAPACITY, node), []),
            by_target.get((PROMOTION, city_of.get(node, "")), []),
            horizon,
        )
        for node in series.nodes
    }


def _outlook(series: Series, drops: list[ReportedSignal], promos: list[ReportedSignal], horizon: int) -> Outlook:
    n = series.hours
    capacity = np.ones((n, horizon))
    demand = np.ones((n, horizon))
    before = np.ones((n, 3))
    remaining, overdue = np.zeros(n), np.zeros(n)
    next_drop, next_promo = np.full(n, FAR), np.full(n, FAR)
    incidents: dict[str, _Window] = {}
    promotions: dict[str, _Window] = {}
    d = p = 0
    for i in range(n):
        b = series.origin + i
        while d < len(drops) and drops[d].bucket <= b:
            _note_drop(incidents, drops[d])
            d += 1
        while p < len(promos) and promos[p].bucket <= b:
            _note_promo(promotions, promos[p])
            p += 1
        now = b + 1.0  # the instant bucket b ends, in epoch hours
        for w in incidents.values():
            if w.cleared:
                continue
            end = w.start + w.hours
            if w.start <= now:
                # A loss in force with no `cleared` report is assumed to last past its estimate.
                remaining[i] = max(remaining[i], end - now)
                overdue[i] = max(overdue[i], now - end)
                end = max(end, now + horizon)
            else:
                next_drop[i] = min(next_drop[i], w.start - now)
            for k in range(horizon):
                hour = now + k  # bucket b+k+1 is worked from `now + k` on
                if w.start <= hour < end:
                    capacity[i, k] *= w.factor
        for w in promotions.values():
            if w.start > now:
                next_promo[i] = min(next_promo[i], w.start - now)
            for k in range(horizon):
                hour = now + k
                if w.start <= hour < w.start + w.hours:
                    demand[i, k] *= w.factor
            for j in range(3):
                hour = now - 1 - j  # bucket b-j was worked from `now - 1 - j` on
                if w.start <= hour < w.start + w.hours:
                    before[i, j] *= w.factor
    known = tuple(
        (s.bucket - series.origin, w.start - series.origin, w.start + w.hours - series.origin)
        for s in promos
        for w in [_promo_window(s)]
    )
    return Outlook(capacity, demand, before, remaining, overdue, next_drop, next_promo, known)


def _note_drop(incidents: dict[str, _Window], s: ReportedSignal) -> None:
    v = s.value
    key = str(v.get("incident") or s.time)
    start = _hours(v.get("starts_at"), s.time)
    if v.get("cleared"):
        if key in incidents:
            incidents[key].cleared = True
        return
    incidents[key] = _Window(start, _number(v.get("expected_hours"), 1.0), _number(v.get("factor"), 1.0))


def _note_promo(promotions: dict[str, _Window], s: ReportedSignal) -> None:
    promotions[str(s.value.get("incident") or s.time)] = _promo_window(s)


def _promo_window(s: ReportedSignal) -> _Window:
    v = s.value
    return _Window(_hours(v.get("starts_at"), s.time), _number(v.get("hours"), 1.0), _number(v.get("factor"), 1.0))


def _hours(text: object, fallback: str) -> float:
    """Epoch hours of an RFC 3339 time (the signal's own time when missing or unreadable)."""
    moment: datetime
    try:
        moment = parse_time(text if isinstance(text, str) else fallback)
    except ValueError:
        moment = parse_time(fallback)
    return (moment - EPOCH).total_seconds() / 3600.0


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
