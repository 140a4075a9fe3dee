"""Usual arrivals from four weeks of history: the same hour of day per node, times a weekday factor pooled over nodes.

Arrivals are noisy hour by hour, so a week of one node's history gives a
shaky "usual" (at 60 orders an hour, seven samples are ±5% each hour) and one
day's comparison with its week a shaky weekday effect. Four weeks of the same
hour are twice as steady, and the weekday effect is the same kind of thing at
every centre (people shop on Saturdays everywhere), so it is estimated from
the whole network's days, each day's total at least a few thousand orders.

Causal: the usual value for a target hour uses only hours a full day or more
before it, and weekday factors only use days that ended a day or more before
it, so a forecast made up to 23 hours ahead never reads its own future.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

LOCAL_OFFSET_H = 8  # the network is in China (UTC+8): days and weekdays are local
DAYS = 28


def same_hour_mean(clean: np.ndarray, target: np.ndarray, days: int = DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the same hour on the last `days` days before each target (NaN hours left out), and how many."""
    past = np.full((len(target), days), np.nan)
    for d in range(1, days + 1):
        j = target - 24 * d
        ok = (j >= 0) & (j < len(clean))
        past[ok, d - 1] = clean[j[ok]]
    count = (~np.isnan(past)).sum(axis=1)
    total = np.nansum(past, axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


def weekday_table(clean: Mapping[str, np.ndarray], origin: int) -> tuple[np.ndarray, np.ndarray]:
    """The network's arrivals per local day (NaN hours filled with that node's same-hour mean) and each day's weekday.

    Day k covers series indices from `first + 24 k`; only whole days are listed.
    """
    n = len(next(iter(clean.values()))) if clean else 0
    first = (-(origin + LOCAL_OFFSET_H)) % 24  # the first index that starts a local day
    whole = max(0, (n - first) // 24)
    totals = np.zeros(whole)
    idx = np.arange(n)
    for v in clean.values():
        fill, _ = same_hour_mean(v, idx, 7)
        filled = np.where(np.isnan(v), fill, v)
        filled = np.nan_to_num(filled, nan=0.0)
        if whole:
            totals += filled[first : first + 24 * whole].reshape(whole, 24).sum(axis=1)
    start = origin + first + LOCAL_OFFSET_H
    weekday = ((start // 24 + np.arange(whole)) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    return totals, weekday


def usual(clean: np.ndarray, target: np.ndarray, origin: int, totals: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Usual arrivals in each target hour: four weeks of the same hour, corrected for the target's weekday."""
    base, _ = same_hour_mean(clean, target)
    first = (-(origin + LOCAL_OFFSET_H)) % 24
    day = np.floor_divide(target - first, 24)  # the local day of each target (negative before the first whole day)
    wd = ((origin + target + LOCAL_OFFSET_H) // 24 + 3) % 7
    factor = np.ones(len(target))
    for d in np.unique(day):
        # Days that ended at least a day before the target's day began, within the same four weeks.
        hi, lo = min(int(d) - 1, len(totals)), max(0, int(d) - DAYS)
        if hi - lo < 7:
            continue
        window, days_wd = totals[lo:hi], weekday[lo:hi]
        rows = day == d
        same = window[days_wd == wd[rows][0]]
        if len(same) and window.mean() > 0:
            # The same-hour mean covers about the window's days: dividing by its mean day and multiplying by the
            # mean day of the target's weekday corrects it for the weekday.
            factor[rows] = same.mean() / window.mean()
    return base * np.clip(factor, 0.7, 1.4)
