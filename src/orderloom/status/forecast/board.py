"""The control-tower view of the forecast: per sorting centre, the backlog now, the forecast, open alerts, a chart.

Everything is folded from the log up to its last whole hour; the forecasts for
past hours are made again from what was known at each of them (the features
never look later), so the chart's forecast line is what the model would have
said then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound
from orderloom.routing.network import Network
from orderloom.status.forecast.alerts import ALERT, CLEARED, stream_of
from orderloom.status.forecast.evaluate import capacities, cities
from orderloom.status.forecast.features import build
from orderloom.status.forecast.model import BacklogModel
from orderloom.status.forecast.series import SeriesFold, hour_of
from orderloom.store.follow import iter_log
from orderloom.store.port import EventStore

THRESHOLD_H = 4.0  # used when no model is loaded (a model carries its own)
HORIZON_H = 6


@dataclass(frozen=True, slots=True)
class Source:
    """What the board reads: the network of the centres, a model (None: the series only) and a log."""

    network: Network
    model: BacklogModel | None
    store: EventStore | None = None  # None: the app's own log
    label: str = "log"  # shown as `source`, e.g. "demo twin"


def open_alert_event(store: EventStore, node: str) -> dict[str, Any] | None:
    """The node's open alert (its data with the event's id and time), or None when none is open."""
    last = None
    for e in store.read_stream(stream_of(node)):
        if e.type in (ALERT, CLEARED):
            last = e
    if last is None or last.type != ALERT:
        return None
    return {"id": last.id, "time": last.time, **dict(last.data)}


def board(
    store: EventStore,
    network: Network,
    model: BacklogModel | None,
    *,
    hours: int = 48,
    node: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The document of `GET /v1/forecast` (docs/forecast.md); NotFound when `node` is not a centre of the log."""
    threshold = model.threshold_hours if model is not None else THRESHOLD_H
    horizon = model.horizon if model is not None else HORIZON_H
    doc: dict[str, Any] = {
        "at": None,
        "horizon_hours": horizon,
        "threshold_hours": threshold,
        "model_version": model.version if model is not None else None,
        "nodes": [],
    }
    fold = SeriesFold().add_all(iter_log(store))
    cap = {n: c for n, c in capacities(network).items() if c > 0}
    seen = {n for n in (*fold.arrived, *fold.shipped) if n in cap}
    if node is not None and node not in seen:
        known = ", ".join(sorted(seen)) or "none yet"
        raise NotFound(f"the forecast has no sorting centre {node!r} in the log (centres: {known})")
    buckets = [b for per in (*fold.arrived.values(), *fold.shipped.values()) for b in per]
    if not seen or not buckets:
        return doc
    last = max(buckets)
    if now is not None:
        # Only whole hours: the hour still running would look like a sudden drop in arrivals.
        last = min(last, hour_of(now.replace(minute=0, second=0, microsecond=0)))
    names = sorted(seen) if node is None else [node]
    series = fold.series(until=last, nodes=names)
    n = series.hours
    doc["at"] = format_time(series.time_of(n - 1))
    lo = max(0, n - hours - horizon)  # the forecasts made `horizon` hours before the first point of the chart
    predicted: dict[str, np.ndarray] = {}
    rows: dict[str, np.ndarray] = {}
    if model is not None:
        frame = build(series, cap, cities(network), horizon=horizon, rows=range(lo, n))
        values = model.predict(frame.x)
        for name in names:
            mask = np.array([x == name for x in frame.nodes], dtype=bool)
            predicted[name], rows[name] = values[mask], frame.x[mask]
    by_id = {x.id: x for x in network.nodes}
    for name in names:
        c = cap[name]
        backlog = series.backlog[name]
        made = predicted.get(name)
        first = max(0, n - hours)
        points = [
            {
                "time": format_time(series.time_of(i)),
                "arrivals": int(series.arrivals[name][i]),
                "shipped": int(series.shipped[name][i]),
                "backlog_orders": int(backlog[i]),
                "backlog_hours": round(float(backlog[i]) / c, 3),
                "forecast_hours": _at(made, i - horizon - lo),
            }
            for i in range(first, n)
        ]
        ahead = [
            {"time": format_time(series.time_of(i + horizon)), "forecast_hours": _at(made, i - lo)}
            for i in range(max(lo, n - horizon), n)
        ]
        doc["nodes"].append(
            {
                "node": name,
                "name": by_id[name].name,
                "capacity_per_hour": c,
                "threshold_orders": round(threshold * c),
                "backlog_orders": int(backlog[n - 1]),
                "backlog_hours": round(float(backlog[n - 1]) / c, 3),
                "predicted": _predicted(
                    model, made, rows.get(name), target=series.time_of(n - 1 + horizon), capacity=c, threshold=threshold
                ),
                "open_alert": open_alert_event(store, name),
                "series": points,
                "ahead": ahead if made is not None else [],
            }
        )
    return doc


def _at(made: np.ndarray | None, k: int) -> float | None:
    if made is None or not 0 <= k < len(made):
        return None
    return round(float(made[k]), 3)


def _predicted(
    model: BacklogModel | None,
    made: np.ndarray | None,
    x: np.ndarray | None,
    *,
    target: datetime,
    capacity: float,
    threshold: float,
) -> dict[str, Any] | None:
    if model is None or made is None or x is None or not len(made):
        return None
    value = float(made[-1])
    over = value > threshold
    drivers: Sequence[dict[str, Any]] = model.drivers(x[-1]) if over else []
    return {
        "target_time": format_time(target),
        "backlog_hours": round(value, 3),
        "backlog_orders": round(value * capacity),
        "over": over,
        "drivers": list(drivers),
    }
