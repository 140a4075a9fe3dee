"""The forecast for `orderloom serve --demo`: a model trained on the shipped twin, shown on another twin run.

Training simulates six weeks (about a minute on two cores), so it runs in a
background thread after the API is up; until it is done the board shows
`source: "demo (training)"` and no model. The run it shows is another seed of
the same scenario, kept in its own in-memory log: its hundreds of thousands of
routing and scan events would otherwise swamp the demo orders, their views and
their monitors. The run is shown up to the hour of its last two days when the
most centres were forecast over the threshold, and the alerts of the day before
are appended, so the board opens on real `forecast.backlog_alert` events.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import format_time
from orderloom.core.settings import Settings
from orderloom.core.yamlfile import read_yaml
from orderloom.routing.network import Network
from orderloom.sim.twin import Scenario, parse_scenario, simulate
from orderloom.status.forecast.alerts import score_hours
from orderloom.status.forecast.board import Source
from orderloom.status.forecast.evaluate import capacities, cities, train
from orderloom.status.forecast.features import build
from orderloom.status.forecast.model import BacklogModel
from orderloom.status.forecast.observe import USED_TYPES
from orderloom.status.forecast.scenario import SCENARIO_YAML, draw, load_setup
from orderloom.status.forecast.series import Series, fold_events

SHOWN_DAYS = 10  # a week of history for the usual arrivals, and a few days to chart
SCORED_HOURS = 24  # hours before the cut whose alerts and all-clears are appended
log = logging.getLogger("orderloom.forecast")


def start_demo(state: Any) -> threading.Thread:
    """Fill `state.forecast_source` in a daemon thread: first "training", then the shown run with its model."""
    setup = load_setup()
    state.forecast_source = Source(setup.scenario.network, None, label="demo (training)")
    thread = threading.Thread(target=_build, args=(state,), name="forecast-demo", daemon=True)
    thread.start()
    return thread


def _build(state: Any) -> None:
    try:
        state.forecast_source = build_demo()
    except Exception:  # a demo nicety must never take the API down; say why in the log
        log.exception("the forecast demo could not be built")


def build_demo(*, days: int = SHOWN_DAYS, scored_hours: int = SCORED_HOURS) -> Source:
    """Train on the shipped scenario, simulate another seed for `days`, keep it up to its busiest forecast hour of
    the last two days in a memory log, and append the alerts of the `scored_hours` before that."""
    setup = load_setup()
    model = train(setup)
    sc = _shown(setup.scenario.seed + 1, days)
    end = format_time(sc.start + timedelta(days=sc.days))
    events: list[dict[str, Any]] = []

    def record(batch: list[dict[str, Any]]) -> None:
        # Only the simulated days: the twin then drains its queues with no new arrivals, which no real day does.
        events.extend(e for e in batch if str(e.get("time", "")) <= end)

    simulate(sc, setup.policy, record=record, record_types=USED_TYPES)
    cut = _busiest(fold_events(events), model, sc.network)
    svc = build_services(Settings(db_url="memory://"), clock=ManualClock(cut))
    stamp = format_time(cut)
    kept = [e for e in events if str(e["time"]) <= stamp]
    for k in range(0, len(kept), 5000):
        svc.intake.record(kept[k : k + 5000], allow_internal=True)
    score_hours(svc.intake, model, sc.network, [cut - timedelta(hours=k) for k in range(scored_hours)])
    return Source(sc.network, model, store=svc.store, label="demo twin")


def _busiest(series: Series, model: BacklogModel, network: Network) -> datetime:
    """The hour of the last two days when most centres were forecast over the threshold (then the highest forecast).

    A demo is cut there so the board opens on a moment worth looking at; the data up to it is the run's own.
    """
    rows = range(max(0, series.hours - 48), series.hours)
    frame = build(series, capacities(network), cities(network), horizon=model.horizon, rows=rows)
    predicted = model.predict(frame.x)
    best, best_key = series.hours - 1, (-1, -1.0)
    for i in rows:
        mine = predicted[frame.index == i]
        key = (int((mine > model.threshold_hours).sum()), float(mine.max()) if len(mine) else 0.0)
        if key > best_key:
            best, best_key = i, key
    return series.time_of(best)


def _shown(seed: int, days: int) -> Scenario:
    """The shipped scenario with another seed, cut to `days` (nothing is held out of a run only shown)."""
    raw = read_yaml(SCENARIO_YAML, "scenario file")
    raw.update(seed=seed, days=days)
    raw["forecast"]["held_out_days"] = 1
    return draw(parse_scenario(raw, base=SCENARIO_YAML.parent, source=SCENARIO_YAML.name), raw["forecast"]).scenario
