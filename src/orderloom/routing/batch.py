"""Batch re-routing of open orders when the world changes: preview the plan and its diff, then apply it.

Open orders are those the `order_status` view shows routed but not yet in a
warehouse's hands. Each gets candidate nodes from the scorer under the signals
in force (a node that is down or cut off simply has no arc), and one exact
min-cost flow assigns them all under node capacities, with a penalty per moved
order so that nothing moves without a reason. Applying records one
`routing.rerouted` event per moved order, all with the same batch id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.ids import ulid
from orderloom.routing.decisions import order_for_routing
from orderloom.routing.network import Network
from orderloom.routing.reroute import reroute
from orderloom.routing.scoring import Plan, Signals, Weights, plan
from orderloom.status.intake import ItemResult

OPEN = frozenset({"placed", "paid", "routed"})
HORIZON_H = 24  # a node can take its slowest stage's hourly capacity times this many hours
CENTS = 100  # scores are ¥; the flow needs integers


@dataclass(slots=True)
class BatchPlan:
    """The proposed re-routing: who moves where, who cannot be placed, and the signals it is based on."""

    batch_id: str
    considered: int
    moves: list[dict[str, Any]] = field(default_factory=list)
    unplaced: dict[str, str] = field(default_factory=dict)
    total_cost: float = 0.0
    signals: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "considered": self.considered,
            "moved": len(self.moves),
            "moves": self.moves,
            "unplaced": self.unplaced,
            "total_cost": self.total_cost,
            "signals": self.signals,
        }


def open_orders(svc: Services) -> list[tuple[str, dict[str, Any], str | None]]:
    """(oid, order.placed data, current node) of every open order, from the status view and the log."""
    out: list[tuple[str, dict[str, Any], str | None]] = []
    after: str | None = None
    while page := svc.views.scan("order_status", 1000, after):
        after = page[-1][0]
        for oid, doc in page:
            if doc.get("status") not in OPEN:
                continue
            events = svc.store.read_stream(oid)
            placed = next((e.data for e in events if e.type == "order.placed"), None)
            routed = [e for e in events if e.type in ("routing.decided", "routing.rerouted")]
            if placed is not None and routed:
                out.append((oid, placed, str(routed[-1].data["node"])))
    return out


def plan_batch(
    svc: Services,
    network: Network,
    signals: tuple[Signals, list[dict[str, str]]],
    weights: Weights,
    move_penalty: float = 5.0,
) -> BatchPlan:
    """The optimal re-routing of every open order under the current signals (nothing is written)."""
    snapshot, used = signals
    orders = open_orders(svc)
    current: dict[str, str | None] = {}
    arcs: list[tuple[str, str, int]] = []
    options: dict[tuple[str, str], Plan] = {}
    now = svc.clock.now()
    for oid, placed, node in orders:
        decision = plan(order_for_routing(oid, placed, now, network), network, snapshot, weights, top=8)
        current[oid] = node
        for p in [decision.chosen, *decision.alternatives] if decision.chosen else []:
            if len(p.legs) == 1 and (oid, p.legs[0].node_id) not in options:
                options[(oid, p.legs[0].node_id)] = p
                arcs.append((oid, p.legs[0].node_id, round(p.score * CENTS)))
    capacity = {n.id: min(n.capacity_per_hour.values(), default=0) * HORIZON_H for n in network.nodes}
    result = reroute(current, arcs, capacity, move_penalty=round(move_penalty * CENTS))
    batch = BatchPlan(f"RB-{ulid()}", len(orders), unplaced=dict(result.unplaced), signals=used)
    batch.total_cost = result.total_cost / CENTS
    for m in result.moves:
        chosen = options[(m.oid, m.to_node)]
        leg = chosen.legs[0]
        batch.moves.append(
            {
                "oid": m.oid,
                "from_node": m.from_node,
                "node": m.to_node,
                "service": leg.service_id,
                "carrier": network.service(leg.service_id).name,
                "score": round(chosen.score, 2),
            }
        )
    return batch


def apply_batch(
    svc: Services, batch: BatchPlan, *, trigger: str, profile: str, profile_version: int, actor: str
) -> list[ItemResult]:
    """Record the batch's moves as `routing.rerouted` events (one batch id, all in one append)."""
    when = format_time(svc.clock.now())
    raws = [
        {
            "id": f"{batch.batch_id}-{i}",
            "type": "routing.rerouted",
            "source": "orderloom/routing",
            "oid": m["oid"],
            "time": when,
            "actor": actor,
            "data": {
                "from_node": m["from_node"] or m["node"],
                "node": m["node"],
                "service": m["service"],
                "carrier": m["carrier"][:64],
                "trigger": trigger,
                "batch_id": batch.batch_id,
                "policy_id": profile,
                "policy_version": max(profile_version, 1),
                "reasons": [f"batch re-route {batch.batch_id}: score {m['score']}"],
            },
        }
        for i, m in enumerate(batch.moves)
    ]
    return svc.intake.record(raws, atomic=True) if raws else []
