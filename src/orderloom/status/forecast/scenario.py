"""The forecast's twin scenario: a twin scenario file plus a `forecast` section drawn into incidents.

The `forecast` section says how often faults, planned maintenance and
promotions happen; `load_setup` draws them from the scenario's seed (a
separate random stream, so the arrivals are the ones the plain scenario would
draw) and adds them to the scenario as announced disruptions and peaks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.yamlfile import read_yaml
from orderloom.sim.twin import POLICIES, Disruption, Peak, PolicyName, Scenario, parse_scenario

# The shipped scenario (a path only: nothing is read at import).
SCENARIO_YAML = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "forecast" / "sorting_centres.yaml"
WEEK_H = 24 * 7


@dataclass(frozen=True, slots=True)
class Setup:
    """A scenario with its incidents drawn, and how the forecast is judged on it."""

    scenario: Scenario
    policy: PolicyName
    threshold_hours: float
    horizon: int
    held_out_days: int
    source: str

    @property
    def split_hour(self) -> int:
        """The first simulated hour of the held-out period."""
        return (self.scenario.days - self.held_out_days) * 24


def load_setup(path: str | Path | None = None, *, seed: int | None = None, days: int | None = None) -> Setup:
    """Read a forecast scenario (default: the shipped one), optionally with another seed or length, and draw it."""
    p = Path(path) if path is not None else SCENARIO_YAML
    raw = read_yaml(p, "scenario file")
    if isinstance(raw, dict):
        if seed is not None:
            raw["seed"] = seed
        if days is not None:
            raw["days"] = days
    sc = parse_scenario(raw, base=p.parent, source=p.name)
    return draw(sc, raw.get("forecast"), source=p.name)


def draw(sc: Scenario, spec: Any, *, source: str = "scenario") -> Setup:
    """Add the faults, maintenance and promotions the `forecast` section asks for, drawn from the seed."""
    r = _Spec(source)
    if not isinstance(spec, dict):
        r.fail("forecast", "required", "must be a mapping with threshold_hours, horizon_hours and held_out_days")
        raise ValidationFailed(r.problems)
    policy = spec.get("policy", "nearest")
    if policy not in POLICIES:
        r.fail("forecast.policy", "enum", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
    threshold = r.number(spec, "forecast.threshold_hours", (0.1, 1000), 4.0)
    horizon = int(r.number(spec, "forecast.horizon_hours", (1, 23), 6))
    held_out = int(r.number(spec, "forecast.held_out_days", (1, sc.days - 1 if sc.days > 1 else 1), 7))
    rng = np.random.default_rng([sc.seed, 1])  # not the twin's stream: the arrivals stay the scenario's own
    hours = sc.days * 24
    nodes = [n.id for n in sc.network.nodes if n.city in sc.cities]
    extra: list[Disruption] = []
    peaks: list[Peak] = []
    for kind in ("faults", "maintenance"):
        f = spec.get(kind)
        if f is None:
            continue
        where = f"forecast.{kind}"
        rate = r.number(f, f"{where}.per_node_per_week", (0, 100))
        factor = r.pair(f, f"{where}.factor", (0, 1))
        length = r.pair(f, f"{where}.hours", (1, 24 * 7))
        spread = r.number(f, f"{where}.estimate_spread", (0, 3), 0.0)
        lead = r.pair(f, f"{where}.announce_hours", (0, 24 * 14), (0, 0))
        daily = r.pair(f, f"{where}.start_hours_of_day", (0, 24), (0, 24))
        for node in nodes:
            for start in _starts(rng, rate * hours / WEEK_H, hours, daily):
                real = int(rng.integers(int(length[0]), int(length[1]) + 1))
                told = max(1, round(real * float(np.exp(rng.normal(0.0, spread)))))
                extra.append(
                    Disruption(
                        "capacity_drop",
                        start,
                        real,
                        nodes=(node,),
                        factor=round(float(rng.uniform(*factor)), 2),
                        announce_hours=int(rng.integers(int(lead[0]), int(lead[1]) + 1)),
                        announced_hours=told,
                        reason="equipment fault" if kind == "faults" else "planned maintenance",
                    )
                )
    pr = spec.get("promotions")
    if pr is not None:
        where = "forecast.promotions"
        rate = r.number(pr, f"{where}.per_week", (0, 100))
        count = r.pair(pr, f"{where}.cities", (1, len(sc.cities)))
        factor = r.pair(pr, f"{where}.factor", (1, 100))
        length = r.pair(pr, f"{where}.hours", (1, 24 * 7))
        lead = r.pair(pr, f"{where}.announce_hours", (0, 24 * 14), (0, 0))
        daily = r.pair(pr, f"{where}.start_hours_of_day", (0, 24), (0, 24))
        spread = r.number(pr, f"{where}.estimate_spread", (0, 3), 0.0)
        names = sorted(sc.cities)
        for start in _starts(rng, rate * hours / WEEK_H, hours, daily):
            k = int(rng.integers(int(count[0]), int(count[1]) + 1))
            cities = tuple(sorted(str(c) for c in rng.choice(names, size=min(k, len(names)), replace=False)))
            uplift = round(float(rng.uniform(*factor)), 2)
            peaks.append(
                Peak(
                    start,
                    int(rng.integers(int(length[0]), int(length[1]) + 1)),
                    uplift,
                    cities=cities,
                    announce_hours=int(rng.integers(int(lead[0]), int(lead[1]) + 1)),
                    announced_factor=round(uplift * float(np.exp(rng.normal(0.0, spread))), 2),
                )
            )
    if r.problems:
        raise ValidationFailed(r.problems)
    sc = replace(sc, disruptions=sc.disruptions + tuple(extra), peaks=sc.peaks + tuple(peaks))
    return Setup(sc, cast(PolicyName, policy), threshold, horizon, held_out, source)


def _starts(rng: np.random.Generator, expected: float, hours: int, daily: tuple[float, float]) -> list[int]:
    """Start hours of a Poisson number of incidents, each on a random day within the allowed hours of day."""
    out = []
    for _ in range(int(rng.poisson(expected))):
        day = int(rng.integers(0, max(1, hours // 24)))
        out.append(day * 24 + int(rng.integers(int(daily[0]), max(int(daily[0]) + 1, int(daily[1])))))
    return sorted(out)


class _Spec:
    """Reads numbers and [low, high] pairs out of the `forecast` section, one Problem per bad field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, where: str, rule: str, message: str) -> None:
        self.problems.append(Problem(where, rule, f"in {self.source}, {where} {message}"))

    def number(self, raw: Any, where: str, bounds: tuple[float, float], default: float | None = None) -> float:
        value = raw.get(where.rsplit(".", 1)[-1], default) if isinstance(raw, dict) else None
        lo, hi = bounds
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.fail(where, "range", f"must be a number between {lo:g} and {hi:g}, got {value!r}")
            return lo
        return float(value)

    def pair(
        self, raw: Any, where: str, bounds: tuple[float, float], default: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        value = raw.get(where.rsplit(".", 1)[-1], default) if isinstance(raw, dict) else None
        lo, hi = bounds
        ok = isinstance(value, list | tuple) and len(value) == 2
        ok = ok and all(not isinstance(v, bool) and isinstance(v, int | float) and lo <= v <= hi for v in value or ())
        if not ok or value is None or value[0] > value[1]:
            self.fail(where, "range", f"must be [low, high] with {lo:g} <= low <= high <= {hi:g}, got {value!r}")
            return (lo, lo)
        return (float(value[0]), float(value[1]))
