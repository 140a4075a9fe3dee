"""Routing an order that is in the log: read its placement, plan it, record the decision as an event.

The recorded `routing.decided` carries everything needed to explain or replay
it: the chosen legs, the score breakdown, the runners-up with theirs, why
every other node was out, the signals seen and the weights' policy version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orderloom.core.envelope import parse_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.routing.network import Network
from orderloom.routing.scoring import (
    Decision,
    LateRisk,
    Order,
    OrderLine,
    Plan,
    RejectRisk,
    Signals,
    SoftPenalty,
    Weights,
    plan,
)

TIERS = {"vip": "vip", "platinum": "vip", "gold": "vip", "silver": "standard", "standard": "standard"}


def network_city(city: str, network: Network) -> str:
    """The network's spelling of a city: shops write 南京市, the network (and signals) say 南京."""
    known = {n.city for n in network.nodes}
    if city not in known and city.endswith("市") and city[:-1] in known:
        return city[:-1]
    return city


def order_for_routing(oid: str, placed: dict[str, Any], now: datetime, network: Network) -> Order:
    """The scorer's view of an `order.placed` payload; ValidationFailed names what routing lacks."""
    dest = placed.get("destination") or {}
    city = network_city(str(dest.get("city") or ""), network)
    lat, lng = dest.get("lat"), dest.get("lng")
    if lat is None or lng is None:
        # Without a geocode, the city's own nodes locate it well enough to route.
        local = [n for n in network.nodes if n.city == city]
        if not local:
            raise ValidationFailed(
                [
                    Problem(
                        "destination.lat",
                        "required",
                        f"routing needs destination.lat/lng (or a city with a node, not {city!r})",
                    )
                ]
            )
        lat, lng = local[0].lat, local[0].lng
    window = placed.get("window") or {}
    try:
        end = parse_time(window["end"]) if window.get("end") else None
    except ValueError:
        end = None
    window_end_h = (end - now).total_seconds() / 3600 if end is not None else 48.0
    lines = tuple(
        OrderLine(str(line["sku"]), int(line.get("qty", 1)), bool(line.get("cold_chain", False)))
        for line in placed.get("lines") or []
    )
    if not lines:
        raise ValidationFailed([Problem("lines", "min_items", "an order needs at least one line to be routed")])
    tier = TIERS.get(str((placed.get("customer") or {}).get("tier", "standard")), "economy")
    return Order(oid, float(lat), float(lng), city, lines, window_end_h, tier)  # type: ignore[arg-type]


def _plan_doc(p: Plan, network: Network) -> dict[str, Any]:
    return {
        "legs": [
            {
                "node": leg.node_id,
                "service": leg.service_id,
                "carrier": network.service(leg.service_id).name,
                "skus": list(leg.skus),
                "km": round(leg.km, 1),
                "eta_hours": round(leg.eta_hours, 2),
            }
            for leg in p.legs
        ],
        "score": round(p.score, 3),
        "breakdown": {k: round(v, 3) for k, v in p.breakdown.items()},
    }


def decision_data(
    d: Decision,
    network: Network,
    *,
    profile: str,
    profile_version: int,
    signals: list[dict[str, Any]],
    counterfactuals: list[str] | None = None,
    context: list[str] | None = None,
) -> dict[str, Any]:
    """The `routing.decided` payload of a decision (raises ValidationFailed when nothing can ship it).

    `context` (budgets, capacity prices) follows the first reason, so the list's cut at 40 lines never drops it.
    """
    if d.chosen is None:
        raise ValidationFailed([Problem("(order)", "unroutable", line) for line in d.explain()])
    chosen = _plan_doc(d.chosen, network)
    said = d.explain()
    first = chosen["legs"][0]
    return {
        "node": first["node"],
        "service": first["service"],
        "carrier": first["carrier"],
        "policy_id": profile,
        "policy_version": profile_version,
        "score": chosen["score"],
        "cost": round(d.chosen.breakdown.get("cost", 0.0), 2),
        "legs": chosen["legs"],
        "breakdown": chosen["breakdown"],
        "alternatives": [_plan_doc(a, network) for a in d.alternatives[:5]],
        "excluded": {node: list(reasons) for node, reasons in d.excluded.items()},
        "signals": signals[:200],
        "reasons": [line[:300] for line in [*said[:1], *(context or []), *said[1:], *(counterfactuals or [])][:40]],
    }


def decide(
    order: Order,
    network: Network,
    signals: Signals,
    weights: Weights,
    *,
    learned: LateRisk | None = None,
    soft: SoftPenalty | None = None,
    capacity_price: Mapping[str, float] | None = None,
    rejects: RejectRisk | None = None,
    budget: float = 0.0,
) -> Decision:
    """Plan one order (a thin seam so callers do not reach into scoring)."""
    return plan(
        order, network, signals, weights, capacity_price, learned=learned, soft=soft, rejects=rejects, budget=budget
    )
