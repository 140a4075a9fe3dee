"""Place one order on a node and carrier service by score, and say why."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from orderloom.routing.network import CarrierService, Network, Node, haversine_km

Tier = Literal["vip", "standard", "economy"]
# Being late for a VIP costs twice as much as for a standard order.
TIER_LATENESS: Mapping[str, float] = {"vip": 2.0, "standard": 1.0, "economy": 0.5}
TERMS: tuple[str, ...] = (
    "cost",
    "radius_stretch",
    "lateness",
    "load",
    "capacity",
    "co2",
    "learned",
    "rejections",
    "budget",
    "soft",
    "split",  # always last: a plan sets it once, not per leg
)
# A routing profile's soft constraints: ¥ added to a leg from this node by this service.
SoftPenalty = Callable[[Node, CarrierService], float]
# P(late) for (node, service, destination city), learned from outcomes; None when nothing is learned.
LateRisk = Callable[[str, str, str], float | None]
# P(the node refuses or short-picks an order it is given), from its rejection history; None when unknown.
RejectRisk = Callable[[str], float | None]
LEARNED_LATE_HOURS = 8.0  # what a late delivery typically costs in hours, to turn P(late) into the lateness unit


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One SKU of an order; cold-chain lines may only travel cold."""

    sku: str
    qty: int = 1
    cold_chain: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    """What the scorer needs to know about an order: where, what, by when."""

    oid: str
    lat: float
    lng: float
    city: str
    lines: tuple[OrderLine, ...]
    window_end_h: float
    tier: Tier = "standard"


@dataclass(frozen=True, slots=True)
class NodeSignal:
    """A node's live state as last reported."""

    backlog_hours: float = 0.0
    sorting_idle_rate: float = 1.0
    down: bool = False


IDLE = NodeSignal()


@dataclass(frozen=True, slots=True)
class Signals:
    """A snapshot of operational signals; nodes without an entry count as idle."""

    nodes: Mapping[str, NodeSignal] = field(default_factory=dict)
    closed_cities: frozenset[str] = frozenset()
    closed_lanes: frozenset[tuple[str, str]] = frozenset()  # (node id, destination city)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each term counts, in ¥ per unit (a routing profile's numbers)."""

    cost: float = 1.0
    lateness: float = 6.0  # per expected hour late
    load: float = 0.5  # per backlog hour at the node
    split_penalty: float = 15.0  # per extra shipment
    co2: float = 0.1  # per kg CO2
    radius_stretch: float = 0.05  # per km beyond the node's service radius
    rejection: float = 20.0  # per unit P(reject): re-sourcing a refused order costs handling and hours


@dataclass(frozen=True, slots=True)
class Leg:
    """One shipment of a plan: these SKUs from this node by this service."""

    node_id: str
    service_id: str
    skus: tuple[str, ...]
    km: float
    eta_hours: float


@dataclass(frozen=True, slots=True)
class Plan:
    """One or two legs with a total score (lower is better) and its named terms."""

    legs: tuple[Leg, ...]
    score: float
    breakdown: Mapping[str, float]

    @property
    def node_ids(self) -> tuple[str, ...]:
        """The nodes this plan ships from."""
        return tuple(leg.node_id for leg in self.legs)


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen plan, its runners-up, why other nodes were out, and the signals used."""

    oid: str
    chosen: Plan | None
    alternatives: tuple[Plan, ...]
    excluded: Mapping[str, tuple[str, ...]]  # why each node could not ship the whole order alone
    signals_used: Mapping[str, NodeSignal]

    def explain(self) -> list[str]:
        """The decision in plain sentences for an operations person."""
        if self.chosen is None:
            return [f"order {self.oid} cannot be placed: no node or pair of nodes can ship it"] + [
                f"not {n}: {'; '.join(r)}" for n, r in self.excluded.items()
            ]
        c = self.chosen
        out = [f"chose {_legs_text(c)} (score {c.score:.1f}: {_terms_text(c.breakdown)})"]
        for alt in self.alternatives:
            worse = sorted(((alt.breakdown[t] - c.breakdown[t], t) for t in TERMS), reverse=True)
            why = ", ".join(f"{t} +{d:.1f}" for d, t in worse if d > 0.05) or "no single term"
            load = "; ".join(
                f"{n} backlog {s.backlog_hours:.1f} h, sorting idle {s.sorting_idle_rate:.0%}"
                for n in alt.node_ids
                if (s := self.signals_used.get(n)) is not None
            )
            seen = f" ({load})" if load else ""  # live signals of the alternative's nodes, when there are any
            out.append(f"not {_legs_text(alt)}: score {alt.score:.1f}, worse on {why}{seen}")
        out += [f"not {n}: {'; '.join(r)}" for n, r in self.excluded.items()]
        return out


def expected_hours_late(eta_hours: float, window_end_h: float) -> float:
    """E[max(0, T - window)] for an arrival time T ~ Normal(eta, 1 h + 15 % of eta)."""
    # A spread that grows with the ETA prices the risk of a plan that is on time only on paper.
    sigma = 1.0 + 0.15 * eta_hours
    z = (eta_hours - window_end_h) / sigma
    cdf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return (eta_hours - window_end_h) * cdf + sigma * pdf


def nearest_node(order: Order, network: Network) -> Node | None:
    """The baseline rule: the nearest node holding every line, blind to signals and cost."""
    stocked = [n for n in network.nodes if all(n.has(ln.sku, ln.qty) for ln in order.lines)]
    return min(stocked, key=lambda n: haversine_km(n.lat, n.lng, order.lat, order.lng), default=None)


_Cand = tuple[float, Leg, tuple[float, ...]]


def plan(
    order: Order,
    network: Network,
    signals: Signals,
    weights: Weights = Weights(),
    capacity_price: Mapping[str, float] | None = None,
    *,
    top: int = 3,
    learned: LateRisk | None = None,
    soft: SoftPenalty | None = None,
    rejects: RejectRisk | None = None,
    budget: float = 0.0,
) -> Decision:
    """Score every feasible plan for the order and return the best with its explanation.

    `budget` is how much more cost counts for this order because budgets covering it are
    over their limit (see routing/budgets.py); 0 leaves the score as it is.
    """
    prices = capacity_price or {}
    ctx = _Ctx(order, signals, weights, prices, network.services, learned=learned, soft=soft, rejects=rejects)
    ctx.budget = budget
    lines = order.lines
    all_lines = frozenset(range(len(lines)))
    excluded: dict[str, tuple[str, ...]] = {}
    singles: list[_Cand] = []
    partial: list[tuple[Node, float, frozenset[int]]] = []
    for node in network.nodes:
        sig = signals.nodes.get(node.id, IDLE)
        km = haversine_km(node.lat, node.lng, order.lat, order.lng)
        reasons = ctx.node_reasons(node, sig, km)
        if reasons:
            excluded[node.id] = reasons
            continue
        has: list[int] = []
        missing: list[str] = []
        for i, ln in enumerate(lines):
            if not node.has(ln.sku, ln.qty):
                missing.append(f"no stock of {ln.sku}")
            elif ln.cold_chain and not node.cold_storage:
                missing.append(f"no cold storage for {ln.sku}")
            else:
                has.append(i)
        partial.append((node, km, frozenset(has)))
        if missing:
            excluded[node.id] = tuple(missing)
            continue
        best, why_not = ctx.best_leg(node, sig, km, all_lines)
        if best is None:
            excluded[node.id] = why_not
        else:
            singles.append(best)

    if singles:
        singles.sort(key=lambda c: c[0])
        plans = [_plan((c,), 0.0) for c in singles[: top + 1]]
    else:
        plans = _splits(ctx, partial, all_lines, top + 1)
    chosen = plans[0] if plans else None
    shown = {n for p in plans for n in p.node_ids} | {n for n, r in excluded.items() if "node down" in r}
    used = {n: signals.nodes[n] for n in sorted(shown) if n in signals.nodes}
    return Decision(order.oid, chosen, tuple(plans[1:]), excluded, used)


def single_node_scores(
    order: Order,
    network: Network,
    signals: Signals,
    weights: Weights = Weights(),
    *,
    learned: LateRisk | None = None,
    soft: SoftPenalty | None = None,
    rejects: RejectRisk | None = None,
) -> dict[str, float]:
    """The best one-leg score of every node that can ship the whole order, before capacity prices.

    These are the arc costs of the exact assignment problems (capacity pricing,
    batch re-routing): the same terms the per-order rule adds up.
    """
    ctx = _Ctx(order, signals, weights, {}, network.services, learned=learned, soft=soft, rejects=rejects)
    every = frozenset(range(len(order.lines)))
    out: dict[str, float] = {}
    for node in network.nodes:
        sig = signals.nodes.get(node.id, IDLE)
        km = haversine_km(node.lat, node.lng, order.lat, order.lng)
        if ctx.node_reasons(node, sig, km):
            continue
        if not all(node.has(ln.sku, ln.qty) and (node.cold_storage or not ln.cold_chain) for ln in order.lines):
            continue
        best, _ = ctx.best_leg(node, sig, km, every)
        if best is not None:
            out[node.id] = best[0]
    return out


class _Ctx:
    """Per-order constants, so the inner loop only does arithmetic."""

    def __init__(
        self,
        order: Order,
        signals: Signals,
        weights: Weights,
        prices: Mapping[str, float],
        services: tuple[CarrierService, ...],
        *,
        learned: LateRisk | None = None,
        soft: SoftPenalty | None = None,
        rejects: RejectRisk | None = None,
    ) -> None:
        self.order, self.signals, self.w, self.prices, self.services = order, signals, weights, prices, services
        self.learned = learned
        self.soft = soft
        self.rejects = rejects
        self.budget = 0.0
        self.lateness_w = weights.lateness * TIER_LATENESS[order.tier]
        self.city_closed = order.city in signals.closed_cities

    def node_reasons(self, node: Node, sig: NodeSignal, km: float) -> tuple[str, ...]:
        reasons: list[str] = []
        if sig.down:
            reasons.append("node down")
        if self.city_closed or (node.id, self.order.city) in self.signals.closed_lanes:
            reasons.append(f"lane to {self.order.city} closed")
        reach = node.service_radius_km + node.radius_elasticity_km
        if km > reach:
            reasons.append(f"{km:.0f} km away, beyond its {reach:.0f} km service radius")
        return tuple(reasons)

    def best_leg(
        self, node: Node, sig: NodeSignal, km: float, idx: frozenset[int]
    ) -> tuple[_Cand | None, tuple[str, ...]]:
        """The cheapest service for these lines from this node, or the reasons none fits."""
        lines = self.order.lines
        cold = any(lines[i].cold_chain for i in idx)
        w = self.w
        # Node-level terms are the same for every service, so compute them once.
        stretch = w.radius_stretch * max(0.0, km - node.service_radius_km)
        load = w.load * (sig.backlog_hours + (1.0 - sig.sorting_idle_rate))
        price = self.prices.get(node.id, 0.0)
        refusal = self.rejects(node.id) if self.rejects is not None else None
        rejection = w.rejection * refusal if refusal is not None else 0.0
        best: _Cand | None = None
        why: list[str] = []
        for svc in self.services:
            if km > svc.max_km:
                why.append(f"beyond {svc.max_km:.0f} km for {svc.id}")
                continue
            if cold and not svc.cold_chain:
                why.append(f"{svc.id} has no cold chain")
                continue
            eta = sig.backlog_hours + svc.transit_hours(km)
            risk = self.learned(node.id, svc.id, self.order.city) if self.learned is not None else None
            cost = w.cost * (node.unit_cost + svc.cost(km))
            terms = (
                cost,
                stretch,
                self.lateness_w * expected_hours_late(eta, self.order.window_end_h),
                load,
                price,
                w.co2 * svc.co2_kg_per_km * km,
                self.lateness_w * LEARNED_LATE_HOURS * risk if risk is not None else 0.0,
                rejection,
                self.budget * cost,
                self.soft(node, svc) if self.soft is not None else 0.0,
                0.0,
            )
            score = sum(terms)
            if best is None or score < best[0]:
                skus = tuple(lines[i].sku for i in sorted(idx))
                best = (score, Leg(node.id, svc.id, skus, km, eta), terms)
        return best, tuple(why)


def _plan(cands: tuple[_Cand, ...], split: float) -> Plan:
    summed = [sum(c[2][k] for c in cands) for k in range(len(TERMS))]
    summed[-1] = split
    return Plan(tuple(c[1] for c in cands), sum(summed), dict(zip(TERMS, summed, strict=True)))


def _splits(
    ctx: _Ctx, partial: list[tuple[Node, float, frozenset[int]]], all_lines: frozenset[int], keep: int
) -> list[Plan]:
    """Two-leg plans: node A ships what it can, node B ships the rest."""
    cache: dict[tuple[str, frozenset[int]], _Cand | None] = {}

    def leg(node: Node, km: float, idx: frozenset[int]) -> _Cand | None:
        key = (node.id, idx)
        if key not in cache:
            cache[key] = ctx.best_leg(node, ctx.signals.nodes.get(node.id, IDLE), km, idx)[0]
        return cache[key]

    found: list[tuple[_Cand, _Cand]] = []
    cold = frozenset(i for i in all_lines if ctx.order.lines[i].cold_chain)
    for a, km_a, has_a in partial:
        # A node with everything may still be unable to ship the cold lines, so also try it without them.
        for mine in {has_a, has_a - cold}:
            rest = all_lines - mine
            leg_a = leg(a, km_a, mine) if mine and rest else None
            if leg_a is None:
                continue
            for b, km_b, has_b in partial:
                if b.id == a.id or not rest <= has_b:
                    continue
                leg_b = leg(b, km_b, rest)
                if leg_b is not None:
                    found.append((leg_a, leg_b))
    found.sort(key=lambda p: p[0][0] + p[1][0])
    return [_plan(p, ctx.w.split_penalty) for p in found[:keep]]


def _legs_text(p: Plan) -> str:
    return " + ".join(f"{leg.node_id} via {leg.service_id}" for leg in p.legs)


def _terms_text(breakdown: Mapping[str, float]) -> str:
    return ", ".join(f"{t} {v:.1f}" for t, v in breakdown.items() if abs(v) >= 0.05)
