"""Train on the first part of a twin run, judge the alerts on the held-out end, against naive baselines.

A row is one node at the end of one hour t; it is a true alert when the
node's backlog at t + horizon is over the threshold (hours of its nominal
capacity). Rows whose target hour falls in the held-out period are never
trained on; the held-out rows are the hours t from the split on. Nothing is
shuffled across time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from orderloom.routing.network import Network
from orderloom.status.forecast.ceiling import foresight
from orderloom.status.forecast.features import Frame, build
from orderloom.status.forecast.model import BacklogModel, fit
from orderloom.status.forecast.observe import observe
from orderloom.status.forecast.scenario import Setup
from orderloom.status.forecast.series import Series

WARM_UP_H = 24  # the first day has no "usual" arrivals to compare with
# The rules the model is judged against: what an operator could do without it.
BASELINES = {
    "last_value": "alert at t+6 if the backlog is over the threshold now",
    "same_hour_yesterday": "alert at t+6 if the backlog was over the threshold 24 hours before t+6",
    "fluid_projection": "no learning: usual arrivals (last 7 days) x announced promotions in, announced capacity out",
    "fluid_projection_4w": "the same with four weeks of the same hour and a network-wide weekday factor",
    "never_alert": "never alert (shows how little accuracy over all node-hours says)",
    "foresight_ceiling": "not a forecast: the projection told the twin's true future rates and capacities",
}


@dataclass(frozen=True, slots=True)
class Scores:
    """How one alert rule did on the held-out rows."""

    precision: float
    recall: float
    f1: float
    alerts: int  # alerts raised
    hits: int  # of which came true
    accuracy: float = 0.0  # share of all held-out node-hours called right (flattered by the many calm hours)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one train-and-hold-out run."""

    setup: Setup
    model: BacklogModel
    scores: Mapping[str, Scores]  # "model" and each baseline
    actual_alerts: int  # held-out rows whose backlog really was over the threshold
    train_rows: int
    test_rows: int
    orders: int
    events: int
    seconds: float

    def figures(self) -> dict[str, Any]:
        """The flat figures for the JSON line."""
        out: dict[str, Any] = {}
        for name, s in self.scores.items():
            out[f"{name}_precision"] = round(s.precision, 4)
            out[f"{name}_recall"] = round(s.recall, 4)
            out[f"{name}_f1"] = round(s.f1, 4)
            out[f"{name}_alerts"] = s.alerts
            out[f"{name}_accuracy"] = round(s.accuracy, 4)
        out.update(
            actual_alerts=self.actual_alerts,
            train_rows=self.train_rows,
            test_rows=self.test_rows,
            held_out_days=self.setup.held_out_days,
            threshold_hours=self.setup.threshold_hours,
            horizon_hours=self.setup.horizon,
            seed=self.setup.scenario.seed,
            orders=self.orders,
            events_folded=self.events,
            model_version=self.model.version,
            seconds=round(self.seconds, 1),
        )
        return out

    def lines(self) -> list[str]:
        """The table for an operations person."""
        sc = self.setup.scenario
        head = (
            f"scenario {sc.name}, seed {sc.seed}: {sc.days} days, {len(self.node_ids())} sorting centres, "
            f"{self.orders:,} orders, {self.events:,} events folded"
        )
        rule = (
            f"alert = backlog {self.setup.horizon} h ahead > {self.setup.threshold_hours:g} h of the centre's"
            f" capacity; trained on {self.train_rows:,} node-hours, held out the last {self.setup.held_out_days} days "
            f"({self.test_rows:,} node-hours, {self.actual_alerts} of them over the threshold)"
        )
        rows = [head, rule, ""]
        rows.append(f"{'rule':22} {'precision':>9} {'recall':>7} {'F1':>6} {'alerts':>7} {'true':>6} {'accuracy':>9}")
        for name, s in self.scores.items():
            rows.append(
                f"{name:22} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {s.alerts:7d} {s.hits:6d} {s.accuracy:9.3f}"
            )
        return rows

    def node_ids(self) -> list[str]:
        """The sorting centres that get orders in the scenario."""
        return sorted(active_capacities(self.setup))


def capacities(network: Network) -> dict[str, float]:
    """Each node's nominal orders per hour: what backlog hours are measured in."""
    return {n.id: n.orders_per_hour() for n in network.nodes}


def active_capacities(setup: Setup) -> dict[str, float]:
    """The capacity of each node that serves one of the scenario's destination cities (the others stay idle)."""
    sc = setup.scenario
    return {n.id: n.orders_per_hour() for n in sc.network.nodes if n.city in sc.cities and n.orders_per_hour() > 0}


def cities(network: Network) -> dict[str, str]:
    """Each node's city, the target of the promotions that concern it."""
    return {n.id: n.city for n in network.nodes}


def targets(series: Series, frame: Frame, capacity: Mapping[str, float], horizon: int) -> np.ndarray:
    """Each row's backlog hours `horizon` hours after its time (NaN past the end of the series)."""
    out = np.full(len(frame.index), np.nan)
    for k, (node, i) in enumerate(zip(frame.nodes, frame.index, strict=True)):
        if i + horizon < series.hours:
            out[k] = series.backlog[node][i + horizon] / capacity[node]
    return out


def scores(predicted: np.ndarray, actual: np.ndarray) -> Scores:
    """Precision, recall and F1 of alerts (0 where undefined)."""
    hits = int((predicted & actual).sum())
    raised, real = int(predicted.sum()), int(actual.sum())
    p = hits / raised if raised else 0.0
    r = hits / real if real else 0.0
    right = float((predicted == actual).mean()) if len(actual) else 0.0
    return Scores(p, r, 2 * p * r / (p + r) if p + r else 0.0, raised, hits, right)


def evaluate(setup: Setup) -> Evaluation:
    """Simulate, fold the events, train on the early rows and score the model and the baselines on the rest."""
    t0 = time.perf_counter()
    real: dict[int, dict[str, float]] = {}
    seen = observe(setup, trace=lambda h, nodes: real.__setitem__(h, {n: s.capacity for n, s in nodes.items()}))
    series, network = seen.series, setup.scenario.network
    cap, horizon, threshold = active_capacities(setup), setup.horizon, setup.threshold_hours
    frame = build(series, cap, cities(network), horizon=horizon, rows=range(WARM_UP_H, series.hours - horizon))
    y = targets(series, frame, cap, horizon)
    train = frame.index + horizon < setup.split_hour
    test = frame.index >= setup.split_hour
    model = fit(
        frame.x[train],
        y[train],
        horizon=horizon,
        threshold_hours=threshold,
        trained_on=f"{setup.scenario.name}:{setup.scenario.seed}:{setup.split_hour}",
    )
    actual = y[test] > threshold
    x = frame.x[test]
    rules = {
        "model": model.alerts(x),
        "last_value": frame.column("backlog_h")[test] > threshold,
        "same_hour_yesterday": np.nan_to_num(frame.column("yesterday_backlog_at_target")[test], nan=0.0) > threshold,
        "fluid_projection": frame.column("projected_backlog_h")[test] > threshold,
        "fluid_projection_4w": frame.column("projected_4w_backlog_h")[test] > threshold,
        "never_alert": np.zeros(len(actual), dtype=bool),
        "foresight_ceiling": foresight(setup.scenario, frame, cap, real, horizon=horizon)[test] > threshold,
    }
    return Evaluation(
        setup=setup,
        model=model,
        scores={name: scores(pred, actual) for name, pred in rules.items()},
        actual_alerts=int(actual.sum()),
        train_rows=int(train.sum()),
        test_rows=int(test.sum()),
        orders=seen.report.orders,
        events=seen.events,
        seconds=time.perf_counter() - t0,
    )


def train(setup: Setup) -> BacklogModel:
    """A model trained on the whole run (every row whose target is inside it), for scoring live logs."""
    seen = observe(setup)
    series, network = seen.series, setup.scenario.network
    cap = active_capacities(setup)
    frame = build(series, cap, cities(network), horizon=setup.horizon, rows=range(WARM_UP_H, series.hours))
    y = targets(series, frame, cap, setup.horizon)
    keep = ~np.isnan(y)
    return fit(
        frame.x[keep],
        y[keep],
        horizon=setup.horizon,
        threshold_hours=setup.threshold_hours,
        trained_on=f"{setup.scenario.name}:{setup.scenario.seed}:all",
    )
