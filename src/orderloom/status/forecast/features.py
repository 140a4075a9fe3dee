"""Features of a node at the end of an hour, from its series and the signals known then (never later).

Counts are in hours of the node's nominal capacity (orders / orders per hour),
so sorting centres of different sizes share one model. Row (node, i) uses
only indices <= i of the series and signals reported by the end of bucket i;
`tests/unit/test_forecast_series.py` checks that removing later events
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from orderloom.status.forecast.announced import Outlook, outlooks
from orderloom.status.forecast.series import Series
from orderloom.status.forecast.usual import usual as usual_4w
from orderloom.status.forecast.usual import weekday_table

LOCAL_OFFSET_H = 8  # the network is in China (UTC+8): hour of day and weekday are local
HISTORY_DAYS = 7  # days of the same hour that make the "usual" arrivals
WEEK_H = 24 * 7
NAMES: tuple[str, ...] = (
    "backlog_h",
    "backlog_change_3h",
    "arrivals_1h",
    "arrivals_3h",
    "arrivals_24h",
    "shipped_1h",
    "shipped_3h",
    "hour",
    "weekday",
    "usual_arrivals_next",
    "expected_arrivals_next",
    "expected_capacity_next",
    "projected_backlog_h",
    "arrivals_vs_usual_3h",
    "adjusted_projected_backlog_h",
    "yesterday_arrivals_next",
    "yesterday_backlog_at_target",
    "capacity_now",
    "capacity_min_next",
    "loss_remaining_h",
    "loss_overdue_h",
    "next_loss_in_h",
    "promotion_now",
    "promotion_max_next",
    "next_promotion_in_h",
    "usual_4w_arrivals_next",
    "projected_4w_backlog_h",
    "adjusted_projected_4w_backlog_h",
)
# The no-learning projection the model corrects: its best single estimate of the backlog (see model.py).
BASE = "projected_4w_backlog_h"


@dataclass(frozen=True, slots=True)
class Frame:
    """Feature rows with the node and series index each one describes."""

    x: np.ndarray  # (rows, len(NAMES))
    nodes: tuple[str, ...]
    index: np.ndarray  # series index of each row

    def column(self, name: str) -> np.ndarray:
        """One feature over all rows."""
        return self.x[:, NAMES.index(name)]


def build(
    series: Series,
    capacity: Mapping[str, float],
    city_of: Mapping[str, str],
    *,
    horizon: int,
    rows: range | None = None,
) -> Frame:
    """Feature rows for every node with a capacity, at each index in `rows` (default: the whole series)."""
    looks = outlooks(series, city_of, horizon)
    clean = {
        node: _without_promotions(series.arrivals[node], looks[node])
        for node in series.nodes
        if capacity.get(node, 0.0) > 0
    }
    week = weekday_table(clean, series.origin)
    want = rows if rows is not None else range(series.hours)
    idx = np.array([i for i in want if 0 <= i < series.hours], dtype=np.int64)
    blocks, names = [], []
    for node in series.nodes:
        cap = capacity.get(node, 0.0)
        if cap <= 0 or not len(idx):
            continue
        blocks.append(_node_rows(series, node, cap, looks[node], idx, horizon=horizon, week=week))
        names.extend([node] * len(idx))
    x = np.vstack(blocks) if blocks else np.zeros((0, len(NAMES)))
    return Frame(x, tuple(names), np.tile(idx, len(blocks)) if blocks else np.zeros(0, dtype=np.int64))


def _node_rows(
    series: Series,
    node: str,
    cap: float,
    look: Outlook,
    idx: np.ndarray,
    *,
    horizon: int,
    week: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    a = series.arrivals[node] / cap
    s = series.shipped[node] / cap
    b = series.backlog[node] / cap
    clean = _without_promotions(a, look)
    usual = np.stack([_usual(clean, idx + k) for k in range(1, horizon + 1)], axis=1)  # (rows, horizon)
    capacity, demand = look.capacity[idx], look.demand[idx]
    expected = usual * demand
    # How the last hours' arrivals compare with the usual ones times the promotion then announced:
    # a promotion that draws less than announced, or a busy day, shows here before it shows in the backlog.
    seen = sum(_at(a, idx - j) for j in range(3))
    usual_seen = sum(_usual(clean, idx - j) * look.demand_before[idx, j] for j in range(3))
    ratio = np.clip(np.nan_to_num(seen / np.where(usual_seen > 0, usual_seen, np.nan), nan=1.0), 0.5, 2.0)
    projected = fluid(b[idx].astype(float), expected, capacity)
    adjusted = fluid(b[idx].astype(float), expected * ratio[:, None], capacity)
    # Four weeks of the same hour and a network-wide weekday factor: a steadier "usual" (usual.py).
    steady = np.stack([usual_4w(clean, idx + k, series.origin, *week) for k in range(1, horizon + 1)], axis=1)
    expected_4w = steady * demand
    moment = series.origin + idx + 1 + LOCAL_OFFSET_H
    cols = {
        "backlog_h": b[idx],
        "backlog_change_3h": b[idx] - _at(b, idx - 3),
        "arrivals_1h": a[idx],
        "arrivals_3h": _mean_back(a, idx, 3),
        "arrivals_24h": _mean_back(a, idx, 24),
        "shipped_1h": s[idx],
        "shipped_3h": _mean_back(s, idx, 3),
        "hour": moment % 24,
        "weekday": (moment // 24 + 3) % 7,  # 1970-01-01 was a Thursday; Monday is 0
        "usual_arrivals_next": usual.sum(axis=1),
        "expected_arrivals_next": expected.sum(axis=1),
        "expected_capacity_next": capacity.sum(axis=1),
        "projected_backlog_h": projected,
        "arrivals_vs_usual_3h": ratio,
        "adjusted_projected_backlog_h": adjusted,
        "yesterday_arrivals_next": sum(_at(a, idx + k - 24) for k in range(1, horizon + 1)),
        "yesterday_backlog_at_target": _at(b, idx + horizon - 24),
        "capacity_now": capacity[:, 0],
        "capacity_min_next": capacity.min(axis=1),
        "loss_remaining_h": look.remaining_h[idx],
        "loss_overdue_h": look.overdue_h[idx],
        "next_loss_in_h": look.next_drop_h[idx],
        "promotion_now": demand[:, 0],
        "promotion_max_next": demand.max(axis=1),
        "next_promotion_in_h": look.next_promo_h[idx],
        "usual_4w_arrivals_next": steady.sum(axis=1),
        "projected_4w_backlog_h": fluid(b[idx].astype(float), expected_4w, capacity),
        "adjusted_projected_4w_backlog_h": fluid(b[idx].astype(float), expected_4w * ratio[:, None], capacity),
    }
    return np.column_stack([np.asarray(cols[name], dtype=float) for name in NAMES])


def fluid(backlog: np.ndarray, arrivals: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The backlog after the horizon if the expected arrivals come in and the announced capacity goes out."""
    for k in range(arrivals.shape[1]):
        backlog = np.maximum(0.0, backlog + np.nan_to_num(arrivals[:, k], nan=0.0) - capacity[:, k])
    return backlog


def _at(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """v[idx], NaN where idx falls before the series starts."""
    out = np.full(len(idx), np.nan)
    ok = idx >= 0
    out[ok] = v[idx[ok]]
    return out


def _mean_back(v: np.ndarray, idx: np.ndarray, hours: int) -> np.ndarray:
    """Mean of the `hours` values ending at idx (fewer at the start of the series)."""
    csum = np.concatenate(([0.0], np.cumsum(v)))
    lo = np.maximum(idx + 1 - hours, 0)
    out: np.ndarray = (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)
    return out


def _without_promotions(a: np.ndarray, look: Outlook) -> np.ndarray:
    """Arrivals with the hours of announced promotions blanked (NaN): they are not usual hours.

    An hour is blanked only if the promotion was announced by then, so the value at an index never
    depends on what was reported later.
    """
    out = a.astype(float)
    j = np.arange(len(a))
    for known, first, end in look.promotions:
        out[(j >= max(known, first)) & (j < end)] = np.nan
    return out


def _usual(clean: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Usual arrivals in the `target` hours: the mean of the same hour on the last HISTORY_DAYS days, times
    how the same weekday compared with the week around it (the 24 hours a week earlier vs the week before
    yesterday's hour)."""
    past = np.stack([_at(clean, target - 24 * d) for d in range(1, HISTORY_DAYS + 1)], axis=1)
    out = np.full(len(target), np.nan)
    seen = ~np.isnan(past).all(axis=1)
    out[seen] = np.nanmean(past[seen], axis=1)
    filled = np.nan_to_num(clean, nan=0.0)
    csum = np.concatenate(([0.0], np.cumsum(filled)))
    ccount = np.concatenate(([0], np.cumsum(~np.isnan(clean))))

    def mean(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        ok = lo >= 0
        lo_, hi_ = np.clip(lo, 0, len(clean)), np.clip(hi, 0, len(clean))
        n = ccount[hi_] - ccount[lo_]
        return np.where(ok & (n > 0), (csum[hi_] - csum[lo_]) / np.maximum(n, 1), np.nan)

    week_ago = mean(target - WEEK_H - 11, target - WEEK_H + 13)
    around = mean(target - 24 - WEEK_H + 13, target - 24 + 13)
    ratio = np.clip(np.nan_to_num(week_ago / np.where(around > 0, around, np.nan), nan=1.0), 0.7, 1.4)
    return out * ratio
