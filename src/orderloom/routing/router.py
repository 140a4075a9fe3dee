"""The router as a service: plans an order with everything it has learned and records the decision.

One instance per process holds what is folded from the log between decisions
(lateness and refusal posteriors, budget spend) and the capacity prices of the
last exact solve. The HTTP routes, the playbook command for pre-emptive
re-routing and the CLI all go through it, so a decision is made the same way
whoever asks.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.errors import DuplicateConflict, NotFound, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.policy.log import PolicyLog
from orderloom.routing.budgets import BudgetBook
from orderloom.routing.counterfactual import why_not
from orderloom.routing.decisions import decide, decision_data, order_for_routing
from orderloom.routing.learner import LatenessLearner
from orderloom.routing.network import Network
from orderloom.routing.pricing import CapacityPricer
from orderloom.routing.profile import RoutingProfile
from orderloom.routing.scoring import Order, single_node_scores
from orderloom.routing.signal_book import SignalBook

PROFILE = "routing_default"  # the routing profile policy whose published version sets the weights
DRY_RUN = "DRY-RUN"
PRICE_PERIOD_S = 60.0
ROUTED = ("routing.decided", "routing.rerouted")


def profile_of(svc: Services) -> tuple[RoutingProfile, int]:
    """The published routing profile (version 0: built-in weights, no filters)."""
    state = PolicyLog(svc.intake).state(PROFILE)
    if state.stable is None:
        return RoutingProfile(), 0
    return RoutingProfile.from_document(state.versions[state.stable].document), state.stable


def demand_key(order: Order) -> str:
    """Orders alike enough for capacity pricing: same destination city and products."""
    return order.city + "|" + ",".join(sorted(f"{ln.sku}{'*' if ln.cold_chain else ''}" for ln in order.lines))


class Router:
    """Plans and records routing decisions on one network with the signals in `book`."""

    def __init__(self, network: Network, book: SignalBook) -> None:
        self.network = network
        self.book = book
        self.learner = LatenessLearner()  # outcomes learned from the log, topped up before each decision
        self.budgets = BudgetBook()  # the published profile's budget goals, their spend folded from the log
        # Capacity prices from an exact solve of the last hour's demand, refreshed every minute.
        self.pricer = CapacityPricer(
            period=PRICE_PERIOD_S, window=3600.0, capacity={n.id: n.orders_per_hour() for n in network.nodes}
        )
        # The learner's Thompson draws share one random generator, and the books fold in place.
        self._lock = threading.Lock()

    def plan(
        self, svc: Services, oid: str, placed: dict[str, Any], refused: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The decision document for an order (`routing.decided` data plus `weights_version`); records nothing."""
        snapshot, used = self.book.current()
        profile, version = profile_of(svc)
        now = svc.clock.now()
        order = order_for_routing(oid, placed, now, self.network)
        candidates = profile.candidates(self.network)
        if refused:
            candidates = Network(tuple(n for n in candidates.nodes if n.id not in refused), candidates.services)
        with self._lock:
            self.learner.follow(svc.store.read_all)
            self.learner.explore = profile.explore
            self.budgets.configure(profile.budgets)
            self.budgets.follow(svc.store.read_all)
            over, context = self.budgets.multiplier(placed, now)
            at = now.timestamp()
            if oid != DRY_RUN:  # a dry run is not demand
                scores = functools.partial(single_node_scores, order, self.network, snapshot)
                self.pricer.observe(at, demand_key(order), scores)
            scoring: dict[str, Any] = {
                "learned": self.learner.risk,
                "soft": profile.penalty if profile.soft else None,
                "capacity_price": self.pricer.prices(at),
                "rejects": self.learner.reject_risk,
                "budget": over,
            }
            decision = decide(order, candidates, snapshot, profile.weights, **scoring)
            counterfactuals = why_not(order, candidates, snapshot, profile.weights, decision, **scoring)
            solved = self.pricer.last
        if solved is not None and solved.binding:
            stamp = datetime.fromtimestamp(solved.at, UTC).strftime("%H:%M:%S")
            context += [f"capacity price (solve {stamp} UTC): {line}" for line in solved.explain(3)]
        return decision_data(
            decision,
            self.network,
            profile=PROFILE,
            profile_version=max(version, 1),
            signals=used,
            counterfactuals=counterfactuals,
            context=context,
        ) | {"weights_version": version}

    def route(
        self,
        svc: Services,
        oid: str,
        actor: str,
        *,
        exclude: frozenset[str] = frozenset(),
        trigger: str | None = None,
    ) -> dict[str, Any]:
        """Route (or re-route) an order in the log and record the decision; `trigger` says why a re-route happens."""
        events = svc.reader.events(oid)
        placed = next((e for e in events if e.type == "order.placed"), None)
        if placed is None:
            raise NotFound(f"order {oid} has no order.placed event to route from")
        # Nodes that already turned this order down are not asked again.
        refused = exclude | {str(e.data["node"]) for e in events if e.type == "node.rejected"}
        doc = self.plan(svc, oid, placed.data, refused)
        previous = [e for e in events if e.type in ROUTED]
        return self.record(
            svc,
            oid,
            doc,
            previous=previous[-1] if previous else None,
            actor=actor,
            trigger=trigger or ("stock_out" if refused else "manual"),
        )

    def record(
        self,
        svc: Services,
        oid: str,
        doc: dict[str, Any],
        *,
        previous: StoredEvent | None,
        actor: str,
        trigger: str,
        event_id: str | None = None,
        time: str | None = None,
    ) -> dict[str, Any]:
        """Record a planned decision: `routing.decided`, or `routing.rerouted` from `previous`'s node."""
        data = {k: v for k, v in doc.items() if k != "weights_version"}
        if previous is not None:
            data = {
                "from_node": str(previous.data["node"]),
                "node": data["node"],
                "service": data["service"],
                "carrier": data["carrier"][:64],
                "trigger": trigger,
                "policy_id": data["policy_id"],
                "policy_version": data["policy_version"],
                "reasons": [line[:200] for line in data["reasons"][:20]],
            }
        raw = {
            "id": event_id or f"routed-{ulid()}",
            "type": "routing.rerouted" if previous is not None else "routing.decided",
            "source": "orderloom/routing",
            "oid": oid,
            "time": time or format_time(svc.clock.now()),
            "actor": actor,
            "data": data,
        }
        result = svc.intake.record([raw])[0]
        reused = any(p.field == "id" and p.rule == "unique" for p in result.problems)
        if result.status == "duplicate" or reused:
            raise DuplicateConflict(str(raw["id"]))
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
        return {"oid": oid, "position": result.position, "type": raw["type"], **doc}
