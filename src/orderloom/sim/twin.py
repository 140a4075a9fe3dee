"""The network digital twin: simulate days of orders, throughput, transit and disruptions under a routing policy.

Time moves in hourly ticks. Each hour, disruptions start or end, orders arrive
and are placed by the policy, and every node ships at most its slowest stage's
hourly capacity from a first-in-first-out queue (other channels' backlog
first). Transit time is the carrier service's model. Everything random comes
from the scenario's seed, so a scenario and a policy always give the same report.

Simplifications, on purpose: each order has one line (so no splits), stock is
replenished (never runs out), nodes work around the clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from orderloom.core.envelope import format_time
from orderloom.core.errors import ConfigError, Problem, ValidationFailed
from orderloom.core.yamlfile import read_yaml
from orderloom.routing.network import CHINA_YAML, Network, Node, haversine_km, load_network
from orderloom.routing.scoring import NodeSignal, Order, OrderLine, Signals, Weights, nearest_node, plan

PolicyName = Literal["nearest", "cheapest", "dynamic"]
POLICIES: tuple[PolicyName, ...] = ("nearest", "cheapest", "dynamic")
DisruptionKind = Literal["backlog", "sorting_idle", "node_down", "lanes_closed", "capacity_drop"]
DISRUPTION_KINDS: tuple[DisruptionKind, ...] = ("backlog", "sorting_idle", "node_down", "lanes_closed", "capacity_drop")
COLD_SKU = "YOG-500G"
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
# Orders still open this long after the last arrival hour are given up on (counted late).
DRAIN_HOURS = 24 * 14
Record = Callable[[list[dict[str, Any]]], None]
Progress = Callable[[int, int], None]
# Disruptions that can be announced as `signal.reported` events, and the signal type each becomes.
ANNOUNCED_SIGNAL = {"capacity_drop": "node.capacity_drop"}
PROMOTION_SIGNAL = "region.promotion"
SIGNAL = "signal.reported"


@dataclass(frozen=True, slots=True)
class Disruption:
    """Something that goes wrong from `at_hour` for `hours` hours."""

    kind: DisruptionKind
    at_hour: int
    hours: int
    nodes: tuple[str, ...] = ()
    city: str = ""
    orders: int = 0  # backlog: other channels' orders arriving over the duration
    idle_rate: float = 1.0  # sorting_idle: share of the sorting line standing idle
    factor: float = 1.0  # capacity_drop: share of capacity left
    # Announced as a signal this many hours before it starts (0: when it starts); None: never announced.
    announce_hours: int | None = None
    announced_hours: int = 0  # the duration the announcement expects (0: the true `hours`)
    reason: str = ""

    def active(self, hour: int) -> bool:
        """Whether the disruption is in force during this hour."""
        return self.at_hour <= hour < self.at_hour + self.hours


@dataclass(frozen=True, slots=True)
class Peak:
    """Arrivals multiplied by `factor` for `hours` hours from `from_hour`."""

    from_hour: int
    hours: int
    factor: float
    cities: tuple[str, ...] = ()  # only orders to these cities (empty: every city)
    # Announced as a `region.promotion` signal this many hours ahead; None: never announced.
    announce_hours: int | None = None
    announced_factor: float = 0.0  # the uplift the announcement expects (0: the true `factor`)

    def active(self, hour: int) -> bool:
        """Whether the peak is on during this hour."""
        return self.from_hour <= hour < self.from_hour + self.hours


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a simulation run needs, read from a scenario YAML file."""

    name: str
    network: Network
    days: int
    seed: int
    per_hour: float
    cities: Mapping[str, float]
    skus: Mapping[str, float]
    cold_chain_share: float
    window_hours: float
    peaks: tuple[Peak, ...] = ()
    disruptions: tuple[Disruption, ...] = ()
    late_fee_per_hour: float = Weights().lateness
    description: str = ""
    start: datetime = DEFAULT_START
    profile: tuple[float, ...] = ()  # 24 arrival multipliers by hour of the simulated day (empty: flat)
    weekdays: tuple[float, ...] = ()  # 7 arrival multipliers by simulated day, repeating weekly (empty: flat)


@dataclass(frozen=True, slots=True)
class NodeHour:
    """One node at the end of one simulated hour, as the twin's trace hook reports it."""

    queued: int  # orders of the run waiting at the node
    phantom: float  # other channels' orders waiting (the `backlog` disruption)
    capacity: float  # orders per hour the node could ship this hour
    shipped: int  # orders of the run that left this hour


Trace = Callable[[int, Mapping[str, NodeHour]], None]


@dataclass(frozen=True, slots=True)
class Report:
    """What a run produced, per order averages in ¥ and days."""

    scenario: str
    policy: PolicyName
    orders: int
    cost_per_order: float  # shipping plus late fees
    ship_cost_per_order: float  # node unit cost plus carrier price
    on_time_rate: float
    avg_delivery_days: float
    interrupted: int
    rerouted: int
    unplaced: int
    utilisation: Mapping[str, float]  # node id -> share of capacity used during the scenario's days
    ends_at: datetime  # the time of the last event, so a store's clock can be set after it
    co2_kg_per_order: float = 0.0  # transport emissions of the delivered orders (service kg/km x km)

    @property
    def max_utilisation(self) -> tuple[str, float]:
        """The busiest node and its share of capacity used."""
        return max(self.utilisation.items(), key=lambda kv: kv[1], default=("-", 0.0))

    def lines(self) -> list[str]:
        """The report in plain sentences for an operations person."""
        busy = sorted(self.utilisation.items(), key=lambda kv: -kv[1])[:5]
        return [
            f"scenario {self.scenario}, policy {self.policy}: {self.orders} orders",
            f"cost per order ¥{self.cost_per_order:.2f} (shipping ¥{self.ship_cost_per_order:.2f} + late fees)",
            f"on time {self.on_time_rate:.1%}, average delivery {self.avg_delivery_days:.2f} days",
            f"interrupted orders {self.interrupted}, re-routed {self.rerouted}, not placeable {self.unplaced}",
            f"CO2 {self.co2_kg_per_order:.2f} kg per delivered order",
            "busiest nodes: " + ", ".join(f"{n} {u:.0%}" for n, u in busy),
        ]


# ---------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario YAML file; errors name the file and the field."""
    p = Path(path)
    raw = read_yaml(p, "scenario file")
    return parse_scenario(raw, base=p.parent, source=p.name)


def parse_scenario(raw: Any, base: Path = Path("."), source: str = "scenario") -> Scenario:
    """Build a Scenario from parsed YAML, collecting every problem before failing."""
    r = _Reader(source)
    if not isinstance(raw, dict):
        r.fail("", "type", "must be a mapping with network, days, seed, arrivals and disruptions")
        raise ValidationFailed(r.problems)
    net_ref = raw.get("network", "china")
    if not isinstance(net_ref, str) or not net_ref:
        r.fail("network", "type", "must be `china` or the path of a network YAML file")
        net_ref = "china"
    network = load_network(CHINA_YAML if net_ref == "china" else base / net_ref)
    node_ids = {n.id for n in network.nodes}
    cities = {n.city for n in network.nodes}
    arr = raw.get("arrivals")
    if not isinstance(arr, dict):
        r.fail("arrivals", "required", "must be a mapping with per_hour, cities, skus and window_hours")
        arr = {}
    city_mix = r.weights(arr, "arrivals.cities", cities)
    sku_mix = r.weights(arr, "arrivals.skus", {s for n in network.nodes for s in n.stock})
    peaks = tuple(r.peak(f"arrivals.peaks[{i}]", p, cities) for i, p in enumerate(r.seq(arr, "arrivals.peaks")))
    dis = tuple(r.disruption(f"disruptions[{i}]", d, node_ids, cities) for i, d in enumerate(r.seq(raw, "disruptions")))
    start = raw.get("start", DEFAULT_START)
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            start = None
    if not isinstance(start, datetime) or start.tzinfo is None:
        r.fail("start", "format", "must be a date and time with a timezone, like 2026-01-05T00:00:00Z")
        start = DEFAULT_START
    sc = Scenario(
        name=str(raw.get("name") or source),
        network=network,
        days=int(r.number(raw, "days", (1, 60))),
        seed=int(r.number(raw, "seed", (0, 2**31))),
        per_hour=r.number(arr, "arrivals.per_hour", (0, 1_000_000)),
        cities=city_mix,
        skus=sku_mix,
        cold_chain_share=r.number(arr, "arrivals.cold_chain_share", (0, 1), 0.0),
        window_hours=r.number(arr, "arrivals.window_hours", (1, 24 * 30)),
        peaks=peaks,
        disruptions=dis,
        late_fee_per_hour=r.number(raw, "late_fee_per_hour", (0, 10_000), Weights().lateness),
        description=str(raw.get("description") or ""),
        start=start.astimezone(UTC),
        profile=r.multipliers(arr, "arrivals.profile", 24),
        weekdays=r.multipliers(arr, "arrivals.weekdays", 7),
    )
    if r.problems:
        raise ValidationFailed(r.problems)
    return sc


class _Reader:
    """Reads typed fields out of raw YAML, recording a Problem per bad field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, where: str, rule: str, message: str) -> None:
        self.problems.append(Problem(where, rule, f"in {self.source}, {where or 'the document'} {message}"))

    def number(
        self, raw: dict[str, Any], where: str, bounds: tuple[float, float], default: float | None = None
    ) -> float:
        value = raw.get(where.rsplit(".", 1)[-1], default)
        lo, hi = bounds
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.fail(where, "range", f"must be a number between {lo:g} and {hi:g}, got {value!r}")
            return lo
        return float(value)

    def seq(self, raw: dict[str, Any], where: str) -> list[Any]:
        value = raw.get(where.rsplit(".", 1)[-1], [])
        if not isinstance(value, list):
            self.fail(where, "type", "must be a list")
            return []
        return value

    def weights(self, raw: dict[str, Any], where: str, known: set[str]) -> dict[str, float]:
        value = raw.get(where.rsplit(".", 1)[-1])
        if not isinstance(value, dict) or not value:
            self.fail(where, "required", "must map each name to a weight (a number > 0)")
            return {}
        out: dict[str, float] = {}
        for name, w in value.items():
            if str(name) not in known:
                self.fail(f"{where}.{name}", "unknown", f"is not in the network; use one of {', '.join(sorted(known))}")
            elif isinstance(w, bool) or not isinstance(w, int | float) or w <= 0:
                self.fail(f"{where}.{name}", "range", f"must be a number > 0, got {w!r}")
            else:
                out[str(name)] = float(w)
        return out

    def optional(self, raw: dict[str, Any], where: str, bounds: tuple[float, float]) -> float | None:
        """A number that may be left out (None)."""
        return None if raw.get(where.rsplit(".", 1)[-1]) is None else self.number(raw, where, bounds)

    def multipliers(self, raw: dict[str, Any], where: str, count: int) -> tuple[float, ...]:
        value = raw.get(where.rsplit(".", 1)[-1])
        if value is None:
            return ()
        ok = isinstance(value, list) and len(value) == count
        if not ok or any(isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 100 for v in value):
            self.fail(where, "range", f"must list {count} multipliers between 0 and 100, got {value!r}")
            return ()
        return tuple(float(v) for v in value)

    def peak(self, where: str, raw: Any, cities: set[str]) -> Peak:
        if not isinstance(raw, dict):
            self.fail(where, "type", "must be a mapping with from_hour, hours and factor")
            return Peak(0, 0, 1.0)
        only = raw.get("cities", [])
        if not isinstance(only, list) or any(c not in cities for c in only):
            self.fail(f"{where}.cities", "unknown", f"must list destination cities of the network, got {only!r}")
            only = []
        announce = self.optional(raw, f"{where}.announce_hours", (0, 24 * 60))
        return Peak(
            int(self.number(raw, f"{where}.from_hour", (0, 24 * 60))),
            int(self.number(raw, f"{where}.hours", (1, 24 * 60))),
            self.number(raw, f"{where}.factor", (0, 1000)),
            cities=tuple(str(c) for c in only),
            announce_hours=None if announce is None else int(announce),
            announced_factor=self.optional(raw, f"{where}.announced_factor", (0, 1000)) or 0.0,
        )

    def disruption(self, where: str, raw: Any, node_ids: set[str], cities: set[str]) -> Disruption:
        if not isinstance(raw, dict):
            self.fail(where, "type", "must be a mapping with kind, at_hour and hours")
            return Disruption("backlog", 0, 0)
        kind = raw.get("kind")
        if kind not in DISRUPTION_KINDS:
            self.fail(f"{where}.kind", "enum", f"must be one of {', '.join(DISRUPTION_KINDS)}, got {kind!r}")
            kind = "backlog"
        nodes = raw.get("nodes", [raw["node"]] if "node" in raw else [])
        if not isinstance(nodes, list) or not nodes:
            self.fail(f"{where}.nodes", "required", "must list the node ids it affects")
            nodes = []
        for n in nodes:
            if n not in node_ids:
                self.fail(f"{where}.nodes", "unknown", f"names {n!r}, which is not a node of the network")
        city = raw.get("city", "")
        if kind == "lanes_closed" and city not in cities:
            self.fail(f"{where}.city", "unknown", f"must be a destination city of the network, got {city!r}")
        announce = self.optional(raw, f"{where}.announce_hours", (0, 24 * 60))
        if announce is not None and kind not in ANNOUNCED_SIGNAL:
            self.fail(f"{where}.announce_hours", "kind", f"only {' and '.join(ANNOUNCED_SIGNAL)} can be announced")
        return Disruption(
            kind=cast(DisruptionKind, kind),
            at_hour=int(self.number(raw, f"{where}.at_hour", (0, 24 * 60))),
            hours=int(self.number(raw, f"{where}.hours", (1, 24 * 60))),
            nodes=tuple(str(n) for n in nodes),
            city=str(city),
            orders=int(self.number(raw, f"{where}.orders", (0, 10_000_000), 0)),
            idle_rate=self.number(raw, f"{where}.idle_rate", (0, 1), 1.0),
            factor=self.number(raw, f"{where}.factor", (0, 1), 1.0),
            announce_hours=None if announce is None else int(announce),
            announced_hours=int(self.optional(raw, f"{where}.announced_hours", (1, 24 * 60)) or 0),
            reason=str(raw.get("reason", ""))[:200],
        )


# ---------------------------------------------------------------- simulation


def node_capacity(node: Node) -> float:
    """Orders per hour: the slowest stage that the node staffs (pickup points do not sort)."""
    staffed = [c for c in node.capacity_per_hour.values() if c > 0]
    return float(min(staffed, default=0))


@dataclass(slots=True)
class _Open:
    """One simulated order while it moves through the network."""

    i: int
    order: Order  # its window_end_h counts from when it was last placed, as the scorer expects
    arrive_h: float
    due_h: float
    node: str = ""
    service: str = ""
    km: float = 0.0
    interrupted: bool = False
    moves: int = 0
    events: int = 0


@dataclass(slots=True)
class _Tally:
    ship: float = 0.0
    co2: float = 0.0
    late_fees: float = 0.0
    on_time: int = 0
    days: float = 0.0
    delivered: int = 0
    interrupted: int = 0
    last_h: float = 0.0
    processed: dict[str, float] = field(default_factory=dict)


class _Twin:
    """The mutable state of one run."""

    def __init__(
        self, sc: Scenario, policy: PolicyName, record: Record | None, run_id: str, types: Collection[str] | None = None
    ) -> None:
        self.sc, self.policy, self.record, self.run_id = sc, policy, record, run_id
        self.types = None if types is None else frozenset(types)
        self.shipped_now: dict[str, int] = {}
        self.announcements = announcements(sc, run_id) if self.wants(SIGNAL) else {}
        self.net = sc.network
        self.nodes = {n.id: n for n in self.net.nodes}
        self.base_cap = {n.id: node_capacity(n) for n in self.net.nodes}
        self.cap = dict(self.base_cap)
        self.queues: dict[str, deque[_Open]] = {n: deque() for n in self.nodes}
        self.phantom = dict.fromkeys(self.nodes, 0.0)
        self.held: list[_Open] = []
        self.down: set[str] = set()
        self.closed: set[tuple[str, str]] = set()
        self.idle_override: dict[str, float] = {}
        self.last_util = dict.fromkeys(self.nodes, 0.0)
        self.sig: dict[str, NodeSignal] = {}
        self.signals = Signals(nodes=self.sig)
        self.tally = _Tally(processed=dict.fromkeys(self.nodes, 0.0))
        self.unplaced = 0
        self.rerouted = 0
        self.batch: list[dict[str, Any]] = []
        self.coords: dict[str, tuple[float, float]] = {}
        for n in self.net.nodes:
            self.coords.setdefault(n.city, (n.lat, n.lng))
        # Only nodes that stock a SKU (cold: and can keep it cold) are worth scoring.
        self.subnets: dict[tuple[str, bool], Network] = {}
        for sku in {*sc.skus, COLD_SKU}:
            for cold in (False, True):
                keep = tuple(n for n in self.net.nodes if n.has(sku, 1) and (n.cold_storage or not cold))
                self.subnets[(sku, cold)] = Network(keep, self.net.services)
        self.static_cache: dict[tuple[str, str, bool], tuple[str, str, float] | None] = {}

    # -- signals and disruptions

    def blocked(self, node: str, city: str) -> bool:
        return node in self.down or (node, city) in self.closed

    def refresh(self, node: str) -> None:
        cap = self.cap[node]
        waiting = len(self.queues[node]) + self.phantom[node]
        idle = self.idle_override.get(node, 1.0 - self.last_util[node])
        backlog = waiting / cap if cap > 0 else 0.0
        self.sig[node] = NodeSignal(backlog, idle, node in self.down or cap <= 0)

    def apply_disruptions(self, h: int) -> bool:
        """Set this hour's state from the disruptions; whether something became unavailable."""
        before_down, before_closed = set(self.down), set(self.closed)
        self.cap = dict(self.base_cap)
        self.down, self.closed, self.idle_override = set(), set(), {}
        for d in self.sc.disruptions:
            if not d.active(h):
                continue
            for n in d.nodes:
                if d.kind == "node_down":
                    self.down.add(n)
                elif d.kind == "lanes_closed":
                    self.closed.add((n, d.city))
                elif d.kind == "capacity_drop":
                    self.cap[n] *= d.factor
                elif d.kind == "sorting_idle":
                    self.idle_override[n] = d.idle_rate
                else:
                    self.phantom[n] += d.orders / d.hours
        for n in self.down:
            self.cap[n] = 0.0
        self.signals = Signals(nodes=self.sig, closed_lanes=frozenset(self.closed))
        return bool(self.down - before_down or self.closed - before_closed)

    # -- placing

    def place(self, o: _Open, h: float, *, again: bool = False) -> bool:
        """Give the order a node and service by the policy and queue it there; False if nothing can ship it."""
        ln = o.order.lines[0]
        if self.policy == "dynamic":
            o.order = replace(o.order, window_end_h=o.due_h - h)
            decision = plan(o.order, self.subnets[(ln.sku, ln.cold_chain)], self.signals)
            if decision.chosen is None:
                return False
            leg = decision.chosen.legs[0]
            node, service, km = leg.node_id, leg.service_id, leg.km
        else:
            key = (o.order.city, ln.sku, ln.cold_chain)
            if key not in self.static_cache:
                self.static_cache[key] = self._static_choice(o.order)
            pick = self.static_cache[key]
            if pick is None:
                return False
            node, service, km = pick
        if again and node != o.node:
            o.moves += 1
            self.rerouted += 1
        o.node, o.service, o.km = node, service, km
        self.queues[node].append(o)
        if self.policy == "dynamic":
            self.refresh(node)
        elif self.blocked(node, o.order.city):
            o.interrupted = True
        self._emit(o, h, "routing.decided")
        return True

    def _static_choice(self, order: Order) -> tuple[str, str, float] | None:
        ln = order.lines[0]
        net = self.subnets[(ln.sku, ln.cold_chain)]
        if self.policy == "nearest":
            node = nearest_node(order, net)
            if node is None:
                return None
            km = haversine_km(node.lat, node.lng, order.lat, order.lng)
            fits = [s for s in net.services if km <= s.max_km and (s.cold_chain or not ln.cold_chain)]
            if not fits:
                return None
            svc = min(fits, key=lambda s: s.transit_hours(km))
            return node.id, svc.id, km
        best: tuple[float, str, str, float] | None = None
        for n in net.nodes:
            km = haversine_km(n.lat, n.lng, order.lat, order.lng)
            if km > n.service_radius_km + n.radius_elasticity_km:
                continue
            for s in net.services:
                if km <= s.max_km and (s.cold_chain or not ln.cold_chain):
                    c = n.unit_cost + s.cost(km)
                    if best is None or c < best[0]:
                        best = (c, n.id, s.id, km)
        return None if best is None else best[1:]

    def replan_blocked(self, h: int) -> None:
        """A node went down or a lane closed: dynamic re-plans the orders it strands, static ones just wait."""
        for node in list(self.nodes):
            q = self.queues[node]
            if not q:
                continue
            stranded = [o for o in q if self.blocked(node, o.order.city)]
            if not stranded:
                continue
            if self.policy != "dynamic":
                for o in stranded:
                    o.interrupted = True
                continue
            gone = {id(o) for o in stranded}
            self.queues[node] = deque(o for o in q if id(o) not in gone)
            self.refresh(node)
            for o in stranded:
                if not self.place(o, h, again=True):
                    o.interrupted = True
                    self.queues[node].append(o)

    # -- shipping

    def ship(self, h: int, counting: bool) -> None:
        """Each node works through its queue for one hour; finished orders leave at the end of the hour."""
        for node, q in self.queues.items():
            cap = self.cap[node]
            self.shipped_now[node] = 0
            if cap <= 0:
                self.last_util[node] = 0.0
                continue
            budget = cap
            done_phantom = min(self.phantom[node], budget)
            self.phantom[node] -= done_phantom
            budget -= done_phantom
            done = 0
            while q and budget >= 1:
                o = q.popleft()
                budget -= 1
                done += 1
                self.dispatch(o, h + 1)
            used = done_phantom + done
            self.shipped_now[node] = done
            self.last_util[node] = used / cap
            if counting:
                self.tally.processed[node] += used
        held, self.held = self.held, []
        for o in held:
            self.dispatch(o, h + 1)

    def dispatch(self, o: _Open, t: float) -> None:
        if self.blocked(o.node, o.order.city):
            o.interrupted = True
            self.held.append(o)
            return
        node = self.nodes[o.node]
        svc = self.net.service(o.service)
        delivered = t + svc.transit_hours(o.km)
        late = max(0.0, delivered - o.due_h)
        tl = self.tally
        tl.ship += node.unit_cost + svc.cost(o.km)
        tl.co2 += svc.co2_kg_per_km * o.km
        tl.late_fees += self.sc.late_fee_per_hour * late
        tl.on_time += late <= 0.0
        tl.days += (delivered - o.arrive_h) / 24.0
        tl.delivered += 1
        tl.interrupted += o.interrupted
        tl.last_h = max(tl.last_h, delivered)
        if self.record is not None:
            self._emit(o, t, "outbound.scanned")
            self._emit(o, t, "linehaul.departed", eta_h=t + svc.transit_hours(o.km))
            self._emit(o, delivered, "delivery.delivered")

    # -- events

    def wants(self, etype: str) -> bool:
        """Whether the run records events of this type."""
        return self.record is not None and (self.types is None or etype in self.types)

    def _emit(self, o: _Open, h: float, etype: str, eta_h: float = 0.0) -> None:
        if self.record is None:
            return
        if self.types is not None and etype not in self.types:
            o.events += 1  # keep the ids of the recorded events the same with or without the filter
            return
        oid = f"{self.run_id}-{o.i:06d}"
        shipment = f"{oid}-S1"
        at = self.sc.start + timedelta(hours=h)
        data: dict[str, Any]
        extra: dict[str, Any] = {}
        if etype == "routing.decided":
            svc = self.net.service(o.service)
            data = {
                "shipment": shipment,
                "node": o.node,
                "carrier": "orderloom-sim",
                "service": o.service,
                "promised_by": format_time(self.sc.start + timedelta(hours=o.due_h)),
                "policy_id": f"sim-{self.policy}",
                "policy_version": 1,
                "cost": round(self.nodes[o.node].unit_cost + svc.cost(o.km), 2),
                "reasons": [f"{self.policy} policy" + (", re-routed: node down or lane closed" if o.moves else "")],
            }
            extra = {"actor": "system:router"}
        elif etype == "outbound.scanned":
            data = {"shipment": shipment, "node": o.node, "waybill": f"WB-{oid}", "packages": 1}
            extra = {
                "actor": f"emp:{o.node}:sim",
                "deviceid": "scanner:SIM-1",
                "proof": {"scanner_serial": "SIM-SCANNER-1", "gate": "D-01"},
            }
        elif etype == "linehaul.departed":
            data = {
                "shipment": shipment,
                "from_node": o.node,
                "to_node": f"DEST-{o.order.city}",
                "to_city": o.order.city,
                "trip": f"LH-{o.node}-{int(h)}",
                "cold_chain": o.order.lines[0].cold_chain,
                "eta": format_time(self.sc.start + timedelta(hours=eta_h)),
            }
            extra = {
                "actor": "driver:SIM",
                "deviceid": "gps:SIM-1",
                "proof": {"vehicle_id": "SIM", "gps_hash": "0" * 64, "seal_no": "SIM"},
            }
        else:
            data = {"shipment": shipment, "handover": "in_person", "packages": 1}
            extra = {"actor": "courier:SIM", "deviceid": "scanner:SIM-2", "proof": {"photo_sha256": "0" * 64}}
        o.events += 1
        self.batch.append(
            {"id": f"{oid}-{o.events:02d}", "type": etype, "source": "orderloom-sim", "oid": oid,
             "time": format_time(at), **extra, "data": data}
        )  # fmt: skip

    def placed_event(self, o: _Open) -> None:
        if not self.wants("order.placed"):
            return
        oid = f"{self.run_id}-{o.i:06d}"
        ln = o.order.lines[0]
        at = self.sc.start + timedelta(hours=o.arrive_h)
        customer = f"C-SIM-{o.i % 5000:05d}"
        line: dict[str, Any] = {"sku": ln.sku, "qty": ln.qty, "unit_price": 19.9}
        if ln.cold_chain:
            line["cold_chain"] = True
        self.batch.append(
            {
                "id": f"{oid}-00",
                "type": "order.placed",
                "source": "orderloom-sim",
                "oid": oid,
                "time": format_time(at),
                "actor": f"customer:{customer}",
                "data": {
                    "lines": [line],
                    "currency": "CNY",
                    "total": round(19.9 * ln.qty, 2),
                    "customer": {"id": customer, "tier": "gold"},
                    "channel": "douyin",
                    "destination": {"region": o.order.city, "city": o.order.city, "address": f"模拟路 {o.i} 号"},
                    "recipient": {"name": "模拟客户", "phone": "13800138000"},
                    "window": {
                        "start": format_time(at),
                        "end": format_time(self.sc.start + timedelta(hours=o.due_h)),
                    },
                },
            }
        )

    def trace_hour(self, trace: Trace, h: int) -> None:
        nodes = {
            n: NodeHour(len(q), self.phantom[n], self.cap[n], self.shipped_now.get(n, 0))
            for n, q in self.queues.items()
        }
        trace(h, nodes)

    def flush(self) -> None:
        if self.record is not None and self.batch:
            self.record(self.batch)
        self.batch = []


def hourly_rate(sc: Scenario, h: int) -> float:
    """Expected arrivals in hour `h`: daily profile, weekday and nationwide peaks included (city peaks not)."""
    rate = sc.per_hour
    for p in sc.peaks:
        if not p.cities and p.from_hour <= h < p.from_hour + p.hours:
            rate *= p.factor
    if sc.profile:
        rate *= sc.profile[h % 24]
    if sc.weekdays:
        rate *= sc.weekdays[(h // 24) % 7]
    return rate


def _arrivals(sc: Scenario, h: int, city_names: list[str], city_p: np.ndarray) -> tuple[float, np.ndarray]:
    """Expected arrivals in hour `h` and each city's share, city peaks included."""
    rate = hourly_rate(sc, h)
    local = [p for p in sc.peaks if p.cities and p.active(h)]
    if not local:
        return rate, city_p
    w = city_p.copy()
    for p in local:
        for i, c in enumerate(city_names):
            if c in p.cities:
                w[i] *= p.factor
    return rate * float(w.sum()), w / w.sum()


def announcements(sc: Scenario, run_id: str) -> dict[int, list[dict[str, Any]]]:
    """The `signal.reported` events of the announced disruptions and peaks, by the hour they are reported."""
    out: dict[int, list[dict[str, Any]]] = {}

    def say(h: int, stype: str, target: str, value: dict[str, Any], ttl_h: float) -> None:
        n = sum(len(v) for v in out.values())
        at = format_time(sc.start + timedelta(hours=h))
        out.setdefault(h, []).append(
            {"id": f"{run_id}-sig-{n:05d}", "type": SIGNAL, "source": "orderloom-sim", "oid": f"sig.{stype}",
             "time": at, "actor": "system:sim",
             "data": {"type": stype, "target": target, "value": value, "time": at, "ttl_s": max(1, int(ttl_h * 3600))}}
        )  # fmt: skip

    for i, d in enumerate(sc.disruptions):
        if d.announce_hours is None or d.kind not in ANNOUNCED_SIGNAL:
            continue
        said = max(0, d.at_hour - d.announce_hours)
        expected = d.announced_hours or d.hours
        starts = format_time(sc.start + timedelta(hours=d.at_hour))
        for n in d.nodes:
            incident = f"{d.kind}-{i}"
            value = {"incident": incident, "factor": d.factor, "starts_at": starts, "expected_hours": expected}
            if d.reason:
                value["reason"] = d.reason
            say(said, ANNOUNCED_SIGNAL[d.kind], n, value, d.at_hour - said + expected)
            ended = {"incident": incident, "factor": 1.0, "starts_at": starts, "expected_hours": 0, "cleared": True}
            say(d.at_hour + d.hours, ANNOUNCED_SIGNAL[d.kind], n, ended, 1)
    for i, p in enumerate(sc.peaks):
        if p.announce_hours is None:
            continue
        said = max(0, p.from_hour - p.announce_hours)
        starts = format_time(sc.start + timedelta(hours=p.from_hour))
        for c in p.cities or tuple(sc.cities):
            value = {"incident": f"promotion-{i}", "factor": p.announced_factor or p.factor, "starts_at": starts,
                     "hours": p.hours}  # fmt: skip
            say(said, PROMOTION_SIGNAL, c, value, p.from_hour - said + p.hours)
    return out


def simulate(
    scenario: Scenario,
    policy: PolicyName,
    *,
    record: Record | None = None,
    progress: Progress | None = None,
    run_id: str | None = None,
    trace: Trace | None = None,
    record_types: Collection[str] | None = None,
) -> Report:
    """Run the scenario under one policy; `record` gets each hour's raw CloudEvents, `progress` (hour, hours).

    `trace` gets each node's state at the end of every hour; `record_types` limits the recorded event types.
    """
    if policy not in POLICIES:
        raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    sc = scenario
    tw = _Twin(sc, policy, record, run_id or f"SIM-{policy}-{sc.seed}", record_types)
    rng = np.random.default_rng(sc.seed)
    city_names = list(sc.cities)
    city_p = np.array([sc.cities[c] for c in city_names]) / sum(sc.cities.values())
    sku_names = list(sc.skus)
    sku_p = np.array([sc.skus[s] for s in sku_names]) / sum(sc.skus.values())
    hours = sc.days * 24
    for n in tw.nodes:
        tw.refresh(n)
    count = 0
    h = 0
    while h < hours + DRAIN_HOURS:
        tw.batch.extend(tw.announcements.pop(h, ()))
        if tw.apply_disruptions(h):
            tw.replan_blocked(h)
        if policy == "dynamic":
            for n in tw.nodes:
                tw.refresh(n)
        if h < hours:
            # Draw every random number of the hour up front, so all policies see the same orders.
            rate, p_city = _arrivals(sc, h, city_names, city_p)
            k = int(rng.poisson(rate))
            cities = rng.choice(len(city_names), size=k, p=p_city)
            skus = rng.choice(len(sku_names), size=k, p=sku_p)
            colds = rng.random(k) < sc.cold_chain_share
            qtys = rng.integers(1, 4, size=k)
            offsets = np.sort(rng.random(k))
            for j in range(k):
                city = city_names[int(cities[j])]
                cold = bool(colds[j])
                sku = COLD_SKU if cold else sku_names[int(skus[j])]
                lat, lng = tw.coords[city]
                arrive = h + float(offsets[j])
                order = Order(
                    oid=str(count),
                    lat=lat,
                    lng=lng,
                    city=city,
                    lines=(OrderLine(sku, int(qtys[j]), cold),),
                    window_end_h=sc.window_hours,
                )
                o = _Open(count, order, arrive, arrive + sc.window_hours)
                count += 1
                tw.placed_event(o)
                if not tw.place(o, arrive):
                    tw.unplaced += 1
        tw.ship(h, counting=h < hours)
        if trace is not None:
            tw.trace_hour(trace, h)
        tw.flush()
        h += 1
        if progress is not None and h <= hours:
            progress(h, hours)
        if h >= hours and not tw.held and not any(tw.queues.values()):
            break
    stuck = tw.held + [o for q in tw.queues.values() for o in q]
    tl = tw.tally
    for o in stuck:
        tl.late_fees += sc.late_fee_per_hour * max(0.0, h - o.due_h)
    placed = count - tw.unplaced
    interrupted = sum(1 for o in stuck if o.interrupted) + tl.interrupted
    util = {
        n: tl.processed[n] / (tw.base_cap[n] * hours) for n in tw.nodes if tw.base_cap[n] > 0 and tl.processed[n] > 0
    }
    return Report(
        scenario=sc.name,
        policy=policy,
        orders=count,
        cost_per_order=(tl.ship + tl.late_fees) / placed if placed else 0.0,
        ship_cost_per_order=tl.ship / tl.delivered if tl.delivered else 0.0,
        co2_kg_per_order=tl.co2 / tl.delivered if tl.delivered else 0.0,
        on_time_rate=tl.on_time / count if count else 1.0,
        avg_delivery_days=tl.days / tl.delivered if tl.delivered else math.nan,
        interrupted=interrupted,
        rerouted=tw.rerouted,
        unplaced=tw.unplaced,
        utilisation=util,
        ends_at=sc.start + timedelta(hours=max(tl.last_h, float(h))),
    )


def city_rates(sc: Scenario, h: int) -> dict[str, float]:
    """Expected arrivals per destination city in hour `h`, every peak included: the truth a forecast is judged by."""
    names = list(sc.cities)
    share = np.array([sc.cities[c] for c in names]) / sum(sc.cities.values())
    rate, p = _arrivals(sc, h, names, share)
    return {c: rate * float(p[i]) for i, c in enumerate(names)}
