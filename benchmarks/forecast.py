"""Benchmark: the 6-hour sorting-centre backlog forecast on the twin, against naive baselines.

For the shipped forecast scenario (six sorting centres, six weeks) and two more
seeds: simulate, fold the events into hourly series, train on the first four
weeks, and score alerts (backlog 6 h ahead > 4 h of capacity) on the last two.
Prints each run's table, the mean over the seeds and one JSON line. The
`foresight_ceiling` row is not a forecast: it is told the twin's true future
(rates and capacities), so it shows how much of the target the arrivals' own
randomness leaves reachable.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from _common import emit, machine

from orderloom.status.forecast.evaluate import BASELINES, evaluate
from orderloom.status.forecast.scenario import load_setup

EXTRA_SEEDS = (11, 12)
RULES = ("model", *BASELINES)


def main() -> None:
    """Run the evaluation for the shipped seed and the extra ones; print tables, means and the JSON line."""
    print(f"machine: {machine()}")
    seeds = [int(s) for s in sys.argv[1:]] or [load_setup().scenario.seed, *EXTRA_SEEDS]
    figures: dict[str, Any] = {}
    runs = []
    total = time.perf_counter()
    for n, seed in enumerate(seeds):
        ev = evaluate(load_setup(seed=seed))
        runs.append(ev)
        print()
        for line in ev.lines():
            print(line)
        print(f"({ev.seconds:.0f} s: simulate, fold, features, train, score)")
        if n == 0:
            figures.update(ev.figures())
    print()
    print(f"mean over seeds {', '.join(map(str, seeds))}:")
    print(f"{'rule':22} {'precision':>9} {'recall':>7} {'F1':>6}")
    for rule in RULES:
        p = sum(r.scores[rule].precision for r in runs) / len(runs)
        r_ = sum(r.scores[rule].recall for r in runs) / len(runs)
        f = sum(r.scores[rule].f1 for r in runs) / len(runs)
        print(f"{rule:22} {p:9.3f} {r_:7.3f} {f:6.3f}")
        figures[f"mean_{rule}_precision"] = round(p, 4)
        figures[f"mean_{rule}_recall"] = round(r_, 4)
        figures[f"mean_{rule}_f1"] = round(f, 4)
    model_f1, last_f1 = figures["mean_model_f1"], figures["mean_last_value_f1"]
    figures["mean_f1_ratio_model_to_last_value"] = round(model_f1 / last_f1, 2) if last_f1 else None
    figures["seeds"] = seeds
    figures["meets_target_0_9"] = figures["model_precision"] >= 0.9 and figures["model_recall"] >= 0.9
    figures["mean_meets_target_0_9"] = figures["mean_model_precision"] >= 0.9 and figures["mean_model_recall"] >= 0.9
    figures["total_seconds"] = round(time.perf_counter() - total, 1)
    print(f"model F1 / last-value F1 (mean): {figures['mean_f1_ratio_model_to_last_value']}")
    verdicts = (("on the shipped seed", "meets_target_0_9"), ("on the mean of the seeds", "mean_meets_target_0_9"))
    for where, key in verdicts:
        print(f"target precision and recall >= 0.9 {where}: {'met' if figures[key] else 'NOT met'}")
    emit(figures)


if __name__ == "__main__":
    main()
