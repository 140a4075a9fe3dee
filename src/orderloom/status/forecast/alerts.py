"""Alerts are events: score one hour of a log and append `forecast.backlog_alert` / `forecast.backlog_cleared`.

Each node's alert state is its own stream `node.<node id>`: an alert is raised
when the forecast crosses the threshold while no alert is open, and cleared
when it falls back under while one is. Event ids name the node and the hour
scored (`fa:` raised, `fc:` cleared), so scoring an hour again appends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.routing.network import Network
from orderloom.status.forecast.evaluate import capacities, cities
from orderloom.status.forecast.features import build
from orderloom.status.forecast.model import BacklogModel
from orderloom.status.forecast.series import Series, SeriesFold, hour_of, instant
from orderloom.status.intake import Intake, ItemResult
from orderloom.store.follow import iter_log
from orderloom.store.port import EventStore

ALERT = "forecast.backlog_alert"
CLEARED = "forecast.backlog_cleared"
ACTOR = "system:forecast"
SOURCE = "orderloom/forecast"


def stream_of(node: str) -> str:
    """The log stream of a node's forecast alerts."""
    return f"node.{node}"


@dataclass(frozen=True, slots=True)
class NodeForecast:
    """One node's forecast made at `at` for `at + horizon`."""

    node: str
    at: datetime
    predicted_hours: float
    current_hours: float
    capacity: float
    drivers: list[dict[str, Any]]

    def over(self, threshold: float) -> bool:
        """Whether the forecast is above the alert threshold."""
        return self.predicted_hours > threshold


def forecast_last_hour(series: Series, model: BacklogModel, network: Network) -> list[NodeForecast]:
    """Each node's forecast from the last hour of the series."""
    cap = capacities(network)
    last = series.hours - 1
    if last < 0:
        return []
    frame = build(series, cap, cities(network), horizon=model.horizon, rows=range(last, last + 1))
    predicted = model.predict(frame.x)
    at = series.time_of(last)
    return [
        NodeForecast(
            node,
            at,
            float(predicted[k]),
            float(frame.column("backlog_h")[k]),
            cap[node],
            model.drivers(frame.x[k]) if predicted[k] > model.threshold_hours else [],
        )
        for k, node in enumerate(frame.nodes)
    ]


def open_alert(store: EventStore, node: str) -> dict[str, Any] | None:
    """The data of the node's open alert, or None when the last word on its stream was an all-clear (or nothing)."""
    last = None
    for e in store.read_stream(stream_of(node)):
        if e.type in (ALERT, CLEARED):
            last = e
    return dict(last.data) if last is not None and last.type == ALERT else None


def alert_events(
    forecasts: Sequence[NodeForecast], open_alerts: Mapping[str, Mapping[str, Any] | None], model: BacklogModel
) -> list[dict[str, Any]]:
    """The alert and all-clear events these forecasts call for, given each node's open alert."""
    out = []
    for f in forecasts:
        at = format_time(f.at)
        target = format_time(f.at + timedelta(hours=model.horizon))
        stamp = f.at.strftime("%Y%m%dT%H%MZ")
        opened = open_alerts.get(f.node)
        common = {
            "node": f.node,
            "at": at,
            "target_time": target,
            "horizon_hours": model.horizon,
            "predicted_backlog_hours": round(f.predicted_hours, 3),
            "threshold_hours": model.threshold_hours,
            "model_version": model.version,
        }
        if f.over(model.threshold_hours) and opened is None:
            data = {
                "alert_id": f"{f.node}:{at}",
                **common,
                "predicted_backlog_orders": round(f.predicted_hours * f.capacity),
                "current_backlog_hours": round(f.current_hours, 3),
                "capacity_per_hour": f.capacity,
                "drivers": f.drivers,
            }
            out.append(_event(f"fa:{f.node}:{stamp}", ALERT, f.node, at, data))
        elif not f.over(model.threshold_hours) and opened is not None:
            data = {"alert_id": str(opened.get("alert_id", "")), **common}
            out.append(_event(f"fc:{f.node}:{stamp}", CLEARED, f.node, at, data))
    return out


def _event(eid: str, etype: str, node: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": eid,
        "type": etype,
        "source": SOURCE,
        "oid": stream_of(node),
        "time": at,
        "actor": ACTOR,
        "data": data,
    }


@dataclass(frozen=True, slots=True)
class Scored:
    """What scoring one hour found and appended."""

    at: datetime | None
    forecasts: list[NodeForecast]
    results: list[ItemResult]


def score_hour(
    intake: Intake,
    model: BacklogModel,
    network: Network,
    *,
    at: datetime | None = None,
    store: EventStore | None = None,
) -> Scored:
    """Fold the log up to the hour ending at `at` (default: the last whole hour of the clock, or of the log if
    earlier), forecast every node of the network, and append the alerts and all-clears that follow."""
    source = store or intake.store
    fold = SeriesFold().add_all(iter_log(source))
    moment = at or intake.clock.now()
    bucket = hour_of(moment.replace(minute=0, second=0, microsecond=0))
    seen = [b for per in (*fold.arrived.values(), *fold.shipped.values()) for b in per]
    if not seen:
        return Scored(None, [], [])
    if at is None:
        bucket = min(bucket, max(seen))
    nodes = [n.id for n in network.nodes if n.orders_per_hour() > 0]
    series = fold.series(until=bucket, nodes=nodes)
    forecasts = forecast_last_hour(series, model, network)
    events = alert_events(forecasts, {f.node: open_alert(source, f.node) for f in forecasts}, model)
    results = intake.record(events, allow_internal=True) if events else []
    return Scored(instant(bucket), forecasts, results)


def score_hours(
    intake: Intake,
    model: BacklogModel,
    network: Network,
    hours: Sequence[datetime],
    *,
    store: EventStore | None = None,
) -> list[Scored]:
    """Score several past hours in time order from one fold of the log (a backfill): the same events as calling
    `score_hour` for each, without folding the whole log again every hour."""
    source = store or intake.store
    fold = SeriesFold().add_all(iter_log(source))
    if not any(fold.arrived.values()) and not any(fold.shipped.values()):
        return []
    nodes = [n.id for n in network.nodes if n.orders_per_hour() > 0]
    opened = {node: open_alert(source, node) for node in nodes}
    out = []
    for at in sorted(hours):
        bucket = hour_of(at.replace(minute=0, second=0, microsecond=0))
        # The fold holds later events too; the series up to `bucket` (and the signals known by then) does not.
        forecasts = forecast_last_hour(fold.series(until=bucket, nodes=nodes), model, network)
        events = alert_events(forecasts, opened, model)
        for e in events:
            opened[e["data"]["node"]] = e["data"] if e["type"] == ALERT else None
        out.append(Scored(instant(bucket), forecasts, intake.record(events, allow_internal=True) if events else []))
    return out
