"""A routing profile (a published policy) as the router uses it: weights plus candidate filters.

The filters are hard constraints of the business ("never from stores", "not
from a node under audit", "only next-day and same-city"): they remove
candidates before scoring, so no weight can ever trade them away.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from orderloom.routing.budgets import Budget
from orderloom.routing.network import CarrierService, Network, Node
from orderloom.routing.scoring import Weights


@dataclass(frozen=True, slots=True)
class RoutingProfile:
    """Weights and candidate filters from a routing profile document."""

    weights: Weights = field(default_factory=Weights)
    exclude_nodes: frozenset[str] = frozenset()
    node_kinds: frozenset[str] | None = None  # None: every kind
    services: frozenset[str] | None = None  # None: every service
    explore: float = 0.0  # how far a Thompson draw may pull the learned risk away from its mean (0..1)
    # Soft constraints: (node ids, node kinds, services, ¥ penalty); an empty set matches anything.
    soft: tuple[tuple[frozenset[str], frozenset[str], frozenset[str], float], ...] = ()
    budgets: tuple[Budget, ...] = ()  # soft goals over many orders (average ¥ per order per period)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> RoutingProfile:
        """Read a linted routing profile document."""
        known = {f.name for f in dataclasses.fields(Weights)}
        weights = Weights(**{k: float(v) for k, v in (doc.get("weights") or {}).items() if k in known})
        kinds, services = doc.get("node_kinds"), doc.get("services")
        return cls(
            weights,
            frozenset(doc.get("exclude_nodes") or ()),
            frozenset(kinds) if kinds else None,
            frozenset(services) if services else None,
            float(doc.get("explore", 0.0)),
            tuple(
                (
                    frozenset(rule.get("node_ids") or ()),
                    frozenset(rule.get("node_kinds") or ()),
                    frozenset(rule.get("services") or ()),
                    float(rule["penalty"]),
                )
                for rule in doc.get("soft") or ()
            ),
            tuple(Budget.from_dict(b) for b in doc.get("budgets") or ()),
        )

    def penalty(self, node: Node, service: CarrierService) -> float:
        """The soft constraints' ¥ on one leg (negative = a bonus)."""
        total = 0.0
        for ids, kinds, services, penalty in self.soft:
            if (
                (not ids or node.id in ids)
                and (not kinds or node.kind in kinds)
                and (not services or service.id in services)
            ):
                total += penalty
        return total

    def candidates(self, network: Network) -> Network:
        """The network with only the nodes and services this profile allows."""
        nodes = tuple(
            n
            for n in network.nodes
            if n.id not in self.exclude_nodes and (self.node_kinds is None or n.kind in self.node_kinds)
        )
        services = tuple(s for s in network.services if self.services is None or s.id in self.services)
        return Network(nodes, services)
