"""The fulfilment network: nodes that ship orders and the carrier services that carry them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.yamlfile import read_yaml

NodeKind = Literal["central_wh", "forward_wh", "store", "pickup_point"]
ServiceKind = Literal["same_city", "next_day", "standard", "freight"]
NODE_KINDS: tuple[NodeKind, ...] = ("central_wh", "forward_wh", "store", "pickup_point")
SERVICE_KINDS: tuple[ServiceKind, ...] = ("same_city", "next_day", "standard", "freight")
STAGES: tuple[str, ...] = ("pick", "pack", "sort")
EARTH_RADIUS_KM = 6371.0088
# The bundled example network (a path only: nothing is read at import).
CHINA_YAML = Path(__file__).parent / "data" / "china.yaml"
_HOURS = re.compile(r"^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@dataclass(frozen=True, slots=True)
class Node:
    """A place that can fulfil orders: warehouse, store or pickup point."""

    id: str
    name: str
    kind: NodeKind
    city: str
    lat: float
    lng: float
    capacity_per_hour: Mapping[str, int]
    unit_cost: float
    stock: Mapping[str, int] = field(default_factory=dict)
    cold_storage: bool = False
    service_radius_km: float = 5000.0
    radius_elasticity_km: float = 0.0
    hours: str = "00:00-24:00"

    def orders_per_hour(self) -> float:
        """What the node can turn out in an hour: its slowest staffed stage (pickup points do not sort)."""
        staffed = [c for c in self.capacity_per_hour.values() if c > 0]
        return float(min(staffed, default=0))

    def has(self, sku: str, qty: int) -> bool:
        """Whether the node holds at least `qty` of `sku`."""
        return self.stock.get(sku, 0) >= qty


@dataclass(frozen=True, slots=True)
class CarrierService:
    """A way to carry an order: price and transit time grow linearly with distance."""

    id: str
    name: str
    kind: ServiceKind
    base: float
    per_km: float
    base_hours: float
    hours_per_100km: float
    max_km: float
    cold_chain: bool = False
    co2_kg_per_km: float = 0.0

    def cost(self, km: float) -> float:
        """Price in ¥ to carry one order `km` kilometres."""
        return self.base + self.per_km * km

    def transit_hours(self, km: float) -> float:
        """Expected hours from hand-over to delivery over `km` kilometres."""
        return self.base_hours + self.hours_per_100km * km / 100.0


@dataclass(frozen=True, slots=True)
class Network:
    """All nodes and carrier services, looked up by id."""

    nodes: tuple[Node, ...]
    services: tuple[CarrierService, ...]

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError if unknown)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def service(self, service_id: str) -> CarrierService:
        """The carrier service with this id (KeyError if unknown)."""
        for s in self.services:
            if s.id == service_id:
                return s
        raise KeyError(service_id)


def load_network(path: str | Path) -> Network:
    """Read and validate a network file (YAML, or a nodes.csv with services.csv beside it); errors name the field."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        from orderloom.routing.network_csv import load_network_csv  # the CSV form builds on this module

        return load_network_csv(p)
    raw = read_yaml(p, "network file")
    return parse_network(raw, source=p.name)


def parse_network(raw: Any, source: str = "network") -> Network:
    """Build a Network from parsed YAML, collecting every problem before failing."""
    v = _Validator(source)
    if not isinstance(raw, dict):
        v.fail("", "type", "must be a mapping with `nodes` and `services`")
        raise ValidationFailed(v.problems)
    nodes = [v.node(f"nodes[{i}]", r) for i, r in enumerate(v.seq(raw, "nodes"))]
    services = [v.service(f"services[{i}]", r) for i, r in enumerate(v.seq(raw, "services"))]
    v.unique("nodes", [n.id for n in nodes if n])
    v.unique("services", [s.id for s in services if s])
    if v.problems:
        raise ValidationFailed(v.problems)
    return Network(tuple(n for n in nodes if n), tuple(s for s in services if s))


class _Validator:
    """Reads typed fields out of raw YAML, recording a Problem per bad field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, where: str, rule: str, message: str) -> None:
        self.problems.append(Problem(where, rule, f"in {self.source}, {where or 'the document'} {message}"))

    def seq(self, raw: dict[str, Any], key: str) -> list[Any]:
        value = raw.get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, "required", "must be a non-empty list")
            return []
        return value

    def text(self, raw: dict[str, Any], where: str, key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where}.{key}", "required", "must be a non-empty text")
            return ""
        return value

    def number(
        self, raw: dict[str, Any], where: str, key: str, bounds: tuple[float, float], default: float | None = None
    ) -> float:
        lo, hi = bounds
        value = raw.get(key, default)
        # bool is an int in Python, but `true` is never a meaningful distance or price.
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.fail(f"{where}.{key}", "range", f"must be a number between {lo:g} and {hi:g}, got {value!r}")
            return 0.0
        return float(value)

    def flag(self, raw: dict[str, Any], where: str, key: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"{where}.{key}", "type", f"must be true or false, got {value!r}")
            return False
        return value

    def choice(self, raw: dict[str, Any], where: str, key: str, allowed: tuple[str, ...]) -> str:
        value = raw.get(key)
        if value not in allowed:
            self.fail(f"{where}.{key}", "enum", f"must be one of {', '.join(allowed)}, got {value!r}")
            return allowed[0]
        return cast(str, value)

    def counts(self, raw: dict[str, Any], where: str, key: str, required: tuple[str, ...] = ()) -> dict[str, int]:
        value = raw.get(key, {} if not required else None)
        if not isinstance(value, dict):
            self.fail(f"{where}.{key}", "type", "must be a mapping of name to whole number")
            return {}
        out: dict[str, int] = {}
        for name in required:
            if name not in value:
                self.fail(f"{where}.{key}.{name}", "required", "is missing")
        for name, qty in value.items():
            if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
                self.fail(f"{where}.{key}.{name}", "range", f"must be a whole number ≥ 0, got {qty!r}")
                continue
            out[str(name)] = qty
        return out

    def unique(self, where: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                self.fail(where, "unique", f"has the id {i!r} more than once")
            seen.add(i)

    def node(self, where: str, raw: Any) -> Node | None:
        if not isinstance(raw, dict):
            self.fail(where, "type", "must be a mapping")
            return None
        before = len(self.problems)
        hours = raw.get("hours", "00:00-24:00")
        if not isinstance(hours, str) or not _HOURS.match(hours):
            self.fail(f"{where}.hours", "format", f"must look like 08:00-22:00, got {hours!r}")
        node = Node(
            id=self.text(raw, where, "id"),
            name=self.text(raw, where, "name"),
            kind=cast(NodeKind, self.choice(raw, where, "kind", NODE_KINDS)),
            city=self.text(raw, where, "city"),
            lat=self.number(raw, where, "lat", (-90, 90)),
            lng=self.number(raw, where, "lng", (-180, 180)),
            capacity_per_hour=self.counts(raw, where, "capacity_per_hour", STAGES),
            unit_cost=self.number(raw, where, "unit_cost", (0, 10_000)),
            stock=self.counts(raw, where, "stock"),
            cold_storage=self.flag(raw, where, "cold_storage"),
            service_radius_km=self.number(raw, where, "service_radius_km", (0, 20_000), 5000.0),
            radius_elasticity_km=self.number(raw, where, "radius_elasticity_km", (0, 20_000), 0.0),
            hours=str(hours),
        )
        return node if len(self.problems) == before else None

    def service(self, where: str, raw: Any) -> CarrierService | None:
        if not isinstance(raw, dict):
            self.fail(where, "type", "must be a mapping")
            return None
        before = len(self.problems)
        svc = CarrierService(
            id=self.text(raw, where, "id"),
            name=self.text(raw, where, "name"),
            kind=cast(ServiceKind, self.choice(raw, where, "kind", SERVICE_KINDS)),
            base=self.number(raw, where, "base", (0, 100_000)),
            per_km=self.number(raw, where, "per_km", (0, 1_000)),
            base_hours=self.number(raw, where, "base_hours", (0, 1_000)),
            hours_per_100km=self.number(raw, where, "hours_per_100km", (0, 1_000)),
            max_km=self.number(raw, where, "max_km", (0, 20_000)),
            cold_chain=self.flag(raw, where, "cold_chain"),
            co2_kg_per_km=self.number(raw, where, "co2_kg_per_km", (0, 100), 0.0),
        )
        return svc if len(self.problems) == before else None
