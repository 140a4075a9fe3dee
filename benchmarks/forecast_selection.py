"""How the backlog model was chosen: candidates judged on a validation week inside the training period.

For seeds 2026, 11 and 12 of the shipped forecast scenario: fit each candidate
on the node-hours whose target lies in the first 21 days, score its alerts on
the next 7 (days 22-28, still the training period), and average the F1 over the
seeds. The held-out last 14 days are never read here. The winner is what
`status/forecast/model.py` ships; `benchmarks/forecast.py` then judges it on
the held-out period.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import emit, machine
from sklearn.ensemble import HistGradientBoostingRegressor

from orderloom.status.forecast.evaluate import WARM_UP_H, active_capacities, cities, scores, targets
from orderloom.status.forecast.features import BASE, NAMES, build
from orderloom.status.forecast.observe import observe
from orderloom.status.forecast.scenario import load_setup

VALIDATION_DAYS = 7
EXTRA_SEEDS = (11, 12)


def _trees(**settings: Any) -> Callable[[], HistGradientBoostingRegressor]:
    base: dict[str, Any] = {"max_iter": 300, "learning_rate": 0.05, "random_state": 0}
    return lambda: HistGradientBoostingRegressor(**{**base, **settings})


# name -> (estimator factory or None for the projection alone, whether the trees learn the projection's error)
CANDIDATES: dict[str, tuple[Callable[[], HistGradientBoostingRegressor] | None, bool]] = {
    "projection_4w_alone": (None, False),
    "trees_on_backlog": (_trees(), False),
    "trees_on_projection_error": (_trees(), True),
    "shallow_trees_on_projection_error": (
        _trees(max_iter=200, max_depth=3, min_samples_leaf=40, l2_regularization=1.0),
        True,
    ),
}


def validation_f1(seed: int) -> dict[str, float]:
    """Each candidate's alert F1 on the last training week of one seed."""
    setup = load_setup(seed=seed)
    seen = observe(setup)
    cap = active_capacities(setup)
    frame = build(
        seen.series, cap, cities(setup.scenario.network), horizon=setup.horizon,
        rows=range(WARM_UP_H, seen.series.hours - setup.horizon),
    )  # fmt: skip
    y = targets(seen.series, frame, cap, setup.horizon)
    start = setup.split_hour - VALIDATION_DAYS * 24
    fit = frame.index + setup.horizon < start
    val = (frame.index + setup.horizon < setup.split_hour) & (frame.index >= start)
    projection = frame.x[:, NAMES.index(BASE)]
    actual = y[val] > setup.threshold_hours
    out = {}
    for name, (make, on_error) in CANDIDATES.items():
        if make is None:
            predicted = projection[val]
        elif on_error:
            predicted = make().fit(frame.x[fit], y[fit] - projection[fit]).predict(frame.x[val]) + projection[val]
        else:
            predicted = make().fit(frame.x[fit], y[fit]).predict(frame.x[val])
        s = scores(predicted > setup.threshold_hours, actual)
        out[name] = s.f1
        print(f"seed {seed}: {name:36} P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f} ({int(actual.sum())} alerts)")
    return out


def main() -> None:
    """Score every candidate on every seed's validation week; print the means and the JSON line."""
    print(f"machine: {machine()}")
    seeds = [int(s) for s in sys.argv[1:]] or [load_setup().scenario.seed, *EXTRA_SEEDS]
    t0 = time.perf_counter()
    runs = [validation_f1(seed) for seed in seeds]
    means = {name: float(np.mean([r[name] for r in runs])) for name in CANDIDATES}
    best = max(means, key=lambda n: means[n])
    print()
    for name, f1 in means.items():
        print(f"{name:36} mean validation F1 {f1:.3f}{'  <- chosen' if name == best else ''}")
    figures: dict[str, Any] = {f"mean_val_f1_{n}": round(f, 4) for n, f in means.items()}
    figures.update(best=best, seeds=seeds, seconds=round(time.perf_counter() - t0, 1))
    emit(figures)


if __name__ == "__main__":
    main()
