"""Lead times per stage and late rates by distance band, over the orders read back from the log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from orderloom.olist.geo import BANDS, band_of
from orderloom.olist.ledger import OrderRecord

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage of a delivered order, between two milestones."""

    key: str
    label: str
    start: Callable[[OrderRecord], datetime | None]
    end: Callable[[OrderRecord], datetime | None]


STAGES = (
    Stage("purchase_approval", "purchase → approval", lambda r: r.purchased, lambda r: r.approved),
    Stage("approval_carrier", "approval → carrier", lambda r: r.approved, lambda r: r.carrier),
    Stage("carrier_customer", "carrier → customer", lambda r: r.carrier, lambda r: r.delivered),
    Stage("total", "purchase → customer", lambda r: r.purchased, lambda r: r.delivered),
)


def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear-interpolation percentile (NumPy's default, DuckDB's quantile_cont); None for no values."""
    arr = np.asarray(list(values), dtype=float)
    return None if arr.size == 0 else float(np.percentile(arr, q))


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds() / HOUR


def lead_times(records: Iterable[OrderRecord]) -> dict[str, dict[str, Any]]:
    """p50/p90 hours per stage over complete delivered orders, and how many ran backwards in the data."""
    done = [r for r in records if r.complete]
    out: dict[str, dict[str, Any]] = {}
    for s in STAGES:
        hours = [h for r in done if (h := _hours(s.start(r), s.end(r))) is not None]
        p50, p90 = percentile(hours, 50), percentile(hours, 90)
        out[s.key] = {
            "label": s.label,
            "orders": len(hours),
            "p50_h": _round(p50),
            "p90_h": _round(p90),
            "p50_d": _round(None if p50 is None else p50 / 24),
            "p90_d": _round(None if p90 is None else p90 / 24),
            "mean_h": _round(float(np.mean(hours)) if hours else None),
            "negative": sum(1 for h in hours if h < 0),
        }
    return out


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _rate(flags: list[bool]) -> float | None:
    return None if not flags else round(100.0 * sum(flags) / len(flags), 2)


def late_rates(records: Iterable[OrderRecord]) -> dict[str, Any]:
    """Late share of delivered orders: overall, by calendar day, and per distance band."""
    done = [r for r in records if r.measured]
    late = [bool(r.late) for r in done]
    by_band: dict[str, list[bool]] = {b.key: [] for b in BANDS}
    unknown: list[bool] = []
    for r in done:
        band = band_of(r.distance_km)
        (by_band[band.key] if band else unknown).append(bool(r.late))
    return {
        "orders": len(done),
        "late": sum(late),
        "late_rate_pct": _rate(late),
        "late_by_day_pct": _rate([bool(r.late_by_day) for r in done]),
        "bands": [
            {"band": b.key, "label": b.label, "orders": len(by_band[b.key]), "late_rate_pct": _rate(by_band[b.key])}
            for b in BANDS
        ],
        "unknown_distance": {"orders": len(unknown), "late_rate_pct": _rate(unknown)},
    }


def statuses(records: Iterable[OrderRecord]) -> dict[str, int]:
    """Orders per final status in the log."""
    return dict(Counter(r.status or "none" for r in records).most_common())


def ratings(records: Iterable[OrderRecord]) -> dict[str, Any]:
    """Review scores of delivered orders, on time against late: what lateness costs in the customer's eyes."""
    groups: dict[str, list[int]] = {"on_time": [], "late": []}
    for r in records:
        if r.measured and r.ratings:
            groups["late" if r.late else "on_time"].append(r.ratings[0])
    return {
        k: {
            "orders": len(v),
            "mean_rating": _round(float(np.mean(v)) if v else None),
            "low_rating_pct": _rate([x <= 2 for x in v]),
        }
        for k, v in groups.items()
    }
