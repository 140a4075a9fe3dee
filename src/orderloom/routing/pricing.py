"""Capacity prices: what one more order at a node costs the network, from a periodic exact solve.

The per-order scorer sees one order at a time, so on its own it fills the
cheapest node until it overflows. Every few minutes (or simulated hours) we
solve the whole assignment of the demand we expect (recent arrivals grouped
by destination and product class) as a transportation LP under the node
capacities, and read the dual value of each capacity constraint: the ¥ the
total cost would fall if that node could take one more order. Adding that
price to the node's score makes the greedy per-order rule land close to the
exact optimum (Acimovic & Graves, MSOM 2015, use the same idea); a node with
spare capacity has price 0, so the prices change nothing until capacity binds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from orderloom.core.errors import Problem, ValidationFailed

TIE_MARGIN = 0.01  # ¥
Scores = Mapping[str, float] | Callable[[], Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class DemandGroup:
    """Orders alike enough to route alike: how many, and each node's score for one of them."""

    key: str
    count: float
    scores: Mapping[str, float]  # node id -> one-leg score (¥); nodes that cannot ship it are absent


@dataclass(frozen=True, slots=True)
class PriceSolve:
    """The result of one exact solve: a price per capacitated node and what was learned from it."""

    prices: Mapping[str, float]
    objective: float
    unserved: float  # orders the capacities could not take at all
    binding: tuple[str, ...]  # nodes whose capacity is used up, dearest first
    seconds: float
    groups: int = 0
    at: float = 0.0  # the clock (hours or seconds, the caller's unit) the solve belongs to

    def explain(self, top: int = 5) -> list[str]:
        """The binding nodes in words."""
        return [
            f"{n} is full: one more order there costs the network ¥{self.prices[n]:.2f}" for n in self.binding[:top]
        ]


def solve_prices(
    groups: Sequence[DemandGroup],
    capacity: Mapping[str, float],
    *,
    unserved_cost: float | None = None,
    at: float = 0.0,
) -> PriceSolve:
    """Solve the transportation LP of `groups` under `capacity` and return each node's capacity price.

    Nodes missing from `capacity` are unlimited. Demand that no capacity can take
    is left unserved at `unserved_cost` per order (default: 10× the dearest arc),
    which also caps every price: a node is never worth more than not serving.
    """
    bad = [Problem(f"capacity.{n}", "range", f"must be ≥ 0, got {c}") for n, c in capacity.items() if c < 0]
    bad += [Problem(f"groups.{g.key}.count", "range", f"must be ≥ 0, got {g.count}") for g in groups if g.count < 0]
    if bad:
        raise ValidationFailed(bad)
    t0 = time.perf_counter()
    if not groups:
        return PriceSolve(dict.fromkeys(capacity, 0.0), 0.0, 0.0, (), time.perf_counter() - t0, 0, at)
    dearest = max((s for g in groups for s in g.scores.values()), default=1.0)
    penalty = unserved_cost if unserved_cost is not None else 10.0 * max(dearest, 1.0)
    # Variables: one per (group, node) arc, then one shortfall per group.
    cost: list[float] = []
    arc_group: list[int] = []
    arc_node: list[int] = []
    node_row = {n: k for k, n in enumerate(capacity)}
    for gi, g in enumerate(groups):
        for node, score in g.scores.items():
            cost.append(score)
            arc_group.append(gi)
            arc_node.append(node_row.get(node, -1))
    arcs = len(cost)
    cost += [penalty] * len(groups)
    eq = sparse.csr_matrix(
        (np.ones(arcs + len(groups)), (arc_group + list(range(len(groups))), list(range(arcs + len(groups))))),
        shape=(len(groups), arcs + len(groups)),
    )
    capped = [a for a in range(arcs) if arc_node[a] >= 0]
    ub = sparse.csr_matrix(
        (np.ones(len(capped)), ([arc_node[a] for a in capped], capped)), shape=(len(capacity), arcs + len(groups))
    )
    res = linprog(
        np.array(cost),
        A_ub=ub if capacity else None,
        b_ub=np.array([float(c) for c in capacity.values()]) if capacity else None,
        A_eq=eq,
        b_eq=np.array([float(g.count) for g in groups]),
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:  # the LP always has a solution (shortfalls), so this is a solver fault
        raise RuntimeError(f"capacity pricing LP failed: {res.message}")
    # HiGHS reports the marginal of a ≤ row as ≤ 0 for a minimisation; the price is its magnitude.
    marginals = res.ineqlin.marginals if capacity else np.zeros(0)
    prices = {node: max(0.0, -float(marginals[k])) for node, k in node_row.items()}
    binding = tuple(sorted((n for n, p in prices.items() if p > 1e-6), key=lambda n: -prices[n]))
    # At the dual price the marginal order is indifferent between the full node and its next best;
    # a cent more sends it elsewhere and leaves the room to orders that gain from it.
    for n in binding:
        prices[n] += TIE_MARGIN
    shortfall = float(res.x[arcs:].sum())
    return PriceSolve(
        prices=prices,
        objective=float(res.fun),
        unserved=shortfall,
        binding=binding,
        seconds=time.perf_counter() - t0,
        groups=len(groups),
        at=at,
    )


@dataclass(slots=True)
class CapacityPricer:
    """Keeps capacity prices fresh: collects recent demand and re-solves every `period`.

    Time is whatever unit the caller counts in (simulated hours in the twin,
    seconds in the service); demand older than `window` is forgotten, and the
    solve scales it to the capacity of one `window`.
    """

    period: float
    window: float
    capacity: Mapping[str, float]  # orders per `window` each node can take
    demand: dict[str, tuple[float, Scores]] = field(default_factory=dict)
    seen: list[tuple[float, str]] = field(default_factory=list)
    last: PriceSolve | None = None

    def observe(self, at: float, key: str, scores: Scores) -> None:
        """One arriving order of group `key`, with its per-node scores or a function that computes them.

        A function is called once per group and solve, so a router can count
        every order without scoring every node for it a second time.
        """
        count, _ = self.demand.get(key, (0.0, scores))
        self.demand[key] = (count + 1.0, scores)
        self.seen.append((at, key))

    def due(self, at: float) -> bool:
        """Whether the prices in force at `at` need a new solve."""
        return self.last is None or at - self.last.at >= self.period

    def prices(self, at: float) -> Mapping[str, float]:
        """The prices in force at `at`, re-solved when the last solve is `period` old."""
        if self.due(at):
            self._forget(at - self.window)
            groups = [DemandGroup(k, c, s() if callable(s) else s) for k, (c, s) in self.demand.items() if c > 0]
            self.last = solve_prices(groups, self.capacity, at=at)
        assert self.last is not None
        return self.last.prices

    def _forget(self, before: float) -> None:
        keep = 0
        for when, key in self.seen:
            if when >= before:
                break
            count, scores = self.demand[key]
            # A group with no order left in the window is dropped: kept at zero, every
            # (city, products) mix ever routed would stay in a long-running worker's memory.
            if count <= 1.0:
                del self.demand[key]
            else:
                self.demand[key] = (count - 1.0, scores)
            keep += 1
        del self.seen[:keep]


def assign_in_turn(
    arrivals: Sequence[Mapping[str, float]],
    capacity: Mapping[str, float],
    prices: Mapping[str, float] | None = None,
) -> tuple[list[str | None], float]:
    """The per-order rule over a stream: each order takes its best node (score + price) that still has room.

    Returns each order's node (None when no node has room) and the total score
    of what was placed (prices are a guide, not a cost, so they are not counted).
    """
    room = dict(capacity)
    extra = prices or {}
    chosen: list[str | None] = []
    total = 0.0
    for scores in arrivals:
        pick = None
        best = 0.0
        for node, s in scores.items():
            if room.get(node, 1.0) < 1.0:
                continue
            v = s + extra.get(node, 0.0)
            if pick is None or v < best:
                pick, best = node, v
        chosen.append(pick)
        if pick is not None:
            total += scores[pick]
            if pick in room:
                room[pick] -= 1.0
    return chosen, total


def assign_with_repricing(
    arrivals: Sequence[Mapping[str, float]],
    capacity: Mapping[str, float],
    expected: Sequence[DemandGroup],
    every: int,
) -> tuple[list[str | None], float, int]:
    """The per-order rule with prices re-solved every `every` orders on what is left.

    Each solve prices the remaining capacity against the expected demand still
    to come (`expected`, scaled to the share of the stream not yet seen); this
    is the periodic exact solve the router runs, in one function so the
    benchmark and the tests measure the same thing. Returns the nodes, the
    total score and how many solves ran.
    """
    room = dict(capacity)
    chosen: list[str | None] = []
    total = 0.0
    solves = 0
    n = len(arrivals)
    for start in range(0, n, max(1, every)):
        left = (n - start) / n
        prices = solve_prices([DemandGroup(g.key, g.count * left, g.scores) for g in expected], room).prices
        solves += 1
        picks, score = assign_in_turn(arrivals[start : start + every], room, prices)
        total += score
        chosen += picks
        for p in picks:
            if p is not None and p in room:
                room[p] -= 1.0
    return chosen, total, solves
