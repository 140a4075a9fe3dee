"""Dynamic order routing: the network model, per-order scoring and batch re-routing."""

from orderloom.routing.budgets import budget_problems
from orderloom.routing.network import (
    CHINA_YAML,
    CarrierService,
    Network,
    Node,
    haversine_km,
    load_network,
    parse_network,
)
from orderloom.routing.reroute import Move, RerouteResult, reroute
from orderloom.routing.scoring import (
    Decision,
    Leg,
    NodeSignal,
    Order,
    OrderLine,
    Plan,
    Signals,
    Weights,
    nearest_node,
    plan,
)

__all__ = [
    "CHINA_YAML",
    "CarrierService",
    "Decision",
    "Leg",
    "Move",
    "Network",
    "Node",
    "NodeSignal",
    "Order",
    "OrderLine",
    "Plan",
    "RerouteResult",
    "Signals",
    "Weights",
    "budget_problems",
    "haversine_km",
    "load_network",
    "nearest_node",
    "parse_network",
    "plan",
    "reroute",
]
