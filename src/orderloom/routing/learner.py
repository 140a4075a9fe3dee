"""RL-lite: lateness risk per node × service × destination, learned online from outcomes.

Each (node, service, city) keeps a Beta posterior over "this delivery is
late", updated by every delivered or failed order routed that way. The
scorer adds a `learned` term from it. With `explore` = 0 the posterior mean is
used; above 0, a Thompson sample pulled toward the mean by that factor, so the
policy bounds how much a lucky or unlucky draw can move a decision.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from orderloom.core.envelope import StoredEvent, parse_time

Key = tuple[str, str, str]
MIN_SAMPLES = 5  # below this, nothing is claimed: the term stays out of the score
ROUTED = ("routing.decided", "routing.rerouted")
DELIVERED = ("delivery.delivered", "customer.picked_up")
REJECTED = "node.rejected"


@dataclass(slots=True)
class Posterior:
    """Beta(late + 1, on_time + 1)."""

    late: int = 0
    on_time: int = 0

    @property
    def n(self) -> int:
        return self.late + self.on_time

    @property
    def mean(self) -> float:
        return (self.late + 1) / (self.n + 2)


@dataclass(slots=True)
class LatenessLearner:
    """Posteriors per (node, service, city), folded from the log's outcomes."""

    explore: float = 0.0
    seed: int = 0
    posteriors: dict[Key, Posterior] = field(default_factory=dict)
    # Per node: orders it was given (on_time) and orders it refused or short-picked (late), as a Beta posterior.
    refusals: dict[str, Posterior] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)
    # Orders routed but not yet delivered, kept between calls so the log can be folded in pieces.
    _routes: dict[str, tuple[str, str]] = field(default_factory=dict)
    _cities: dict[str, str] = field(default_factory=dict)
    _ends: dict[str, str] = field(default_factory=dict)
    position: int = 0  # the last log position folded in

    def follow(self, read_all: Callable[[int, int], list[StoredEvent]]) -> None:
        """Fold in what the log holds after `position` (the store's `read_all`)."""
        while page := read_all(self.position, 5000):
            self.learn(page)
            self.position = page[-1].position

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def observe(self, key: Key, late: bool) -> None:
        """One outcome for a node × service × city."""
        p = self.posteriors.setdefault(key, Posterior())
        if late:
            p.late += 1
        else:
            p.on_time += 1

    def risk(self, node: str, service: str, city: str) -> float | None:
        """P(late) to score with, or None while too little is known."""
        p = self.posteriors.get((node, service, city))
        if p is None or p.n < MIN_SAMPLES:
            return None
        if self.explore <= 0:
            return p.mean
        draw = self._rng.betavariate(p.late + 1, p.on_time + 1)
        return p.mean + self.explore * (draw - p.mean)

    def reject_risk(self, node: str) -> float | None:
        """P(the node refuses an order it is given), or None while it has refused none.

        A node that never refused is not penalised for being new or small; once
        it refuses, the Beta posterior prices how often it does.
        """
        p = self.refusals.get(node)
        if p is None or p.late == 0:
            return None
        return p.mean

    def learn(self, events: Iterable[StoredEvent]) -> None:
        """Fold outcomes from events in log order: where each order went, and whether it arrived in time."""
        routes, cities, ends = self._routes, self._cities, self._ends
        for e in events:
            if e.type == "order.placed":
                cities[e.oid] = str((e.data.get("destination") or {}).get("city", "")).removesuffix("市")
                ends[e.oid] = (e.data.get("window") or {}).get("end", "")
            elif e.type in ROUTED and "service" in e.data:
                routes[e.oid] = (str(e.data["node"]), str(e.data["service"]))
                self.refusals.setdefault(str(e.data["node"]), Posterior()).on_time += 1
            elif e.type == REJECTED and "node" in e.data:
                # The order was counted as given when it was routed; it now counts as refused instead.
                p = self.refusals.setdefault(str(e.data["node"]), Posterior())
                p.on_time = max(0, p.on_time - 1)
                p.late += 1
            elif e.oid in routes and (e.type in DELIVERED or e.type == "delivery.failed"):
                node, service = routes.pop(e.oid)
                late = e.type == "delivery.failed" or (
                    bool(ends.get(e.oid)) and e.occurred_at > parse_time(ends[e.oid])
                )
                self.observe((node, service, cities.get(e.oid, "")), late)
