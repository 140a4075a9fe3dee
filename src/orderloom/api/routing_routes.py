"""HTTP routes of the routing capability: dry-run decisions, routing an order, explaining a decision."""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON, batch_answer
from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.policy.log import PolicyLog
from orderloom.routing.batch import apply_batch, plan_batch
from orderloom.routing.budgets import BudgetBook
from orderloom.routing.counterfactual import why_not
from orderloom.routing.decisions import decide, decision_data, order_for_routing
from orderloom.routing.learner import LatenessLearner
from orderloom.routing.network import Network
from orderloom.routing.pricing import CapacityPricer
from orderloom.routing.profile import RoutingProfile
from orderloom.routing.reservations import ReservationLedger
from orderloom.routing.scoring import Order, single_node_scores
from orderloom.routing.signal_book import SignalBook, parse_when, record_signals
from orderloom.store import iter_log

PROFILE = "routing_default"
DRY_RUN = "DRY-RUN"
PRICE_PERIOD_S = 60.0
TRIGGERS = (
    "road_closure",
    "weather",
    "node_overload",
    "equipment_down",
    "stock_out",
    "carrier_capacity",
    "manual",
)  # the routing profile policy whose published version sets the weights


def profile_of(svc: Services) -> tuple[RoutingProfile, int]:
    """The published routing profile (version 0: built-in weights, no filters)."""
    state = PolicyLog(svc.intake).state(PROFILE)
    if state.stable is None:
        return RoutingProfile(), 0
    return RoutingProfile.from_document(state.versions[state.stable].document), state.stable


def reserved_now(svc: Services) -> dict[str, dict[str, int]]:
    """Fold the whole log into the reservation ledger (a view can take this over when logs grow)."""
    ledger = ReservationLedger()
    for e in iter_log(svc.store):
        ledger.apply(e)
    return ledger.reserved()


def demand_key(order: Order) -> str:
    """Orders alike enough for capacity pricing: same destination city and products."""
    return order.city + "|" + ",".join(sorted(f"{ln.sku}{'*' if ln.cold_chain else ''}" for ln in order.lines))


def router(network: Network, book: SignalBook) -> APIRouter:
    """Routes under /v1/routing and /v1/signals; decisions use the signals in force in `book`."""
    r = APIRouter(prefix="/v1", tags=["routing"])
    learner = LatenessLearner()  # outcomes learned from the log, topped up before each decision
    learner_lock = threading.Lock()
    budgets = BudgetBook()  # the published profile's budget goals, their spend folded from the log
    # Capacity prices from an exact solve of the last hour's demand, refreshed every minute.
    pricer = CapacityPricer(
        period=PRICE_PERIOD_S, window=3600.0, capacity={n.id: n.orders_per_hour() for n in network.nodes}
    )

    def plan_for(
        svc: Services, oid: str, placed: dict[str, Any], refused: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        snapshot, used = book.current()
        profile, version = profile_of(svc)
        order = order_for_routing(oid, placed, svc.clock.now(), network)
        candidates = profile.candidates(network)
        if refused:
            candidates = Network(tuple(n for n in candidates.nodes if n.id not in refused), candidates.services)
        with learner_lock:
            learner.follow(svc.store.read_all)
            learner.explore = profile.explore
            soft = profile.penalty if profile.soft else None
            budgets.configure(profile.budgets)
            budgets.follow(svc.store.read_all)
            over, budget_lines = budgets.multiplier(placed, svc.clock.now())
            at = svc.clock.now().timestamp()
            if oid != DRY_RUN:  # a dry run is not demand
                pricer.observe(at, demand_key(order), functools.partial(single_node_scores, order, network, snapshot))
            prices = pricer.prices(at)
            scoring: dict[str, Any] = {
                "learned": learner.risk,
                "soft": soft,
                "capacity_price": prices,
                "rejects": learner.reject_risk,
                "budget": over,
            }
            decision = decide(order, candidates, snapshot, profile.weights, **scoring)
            # Inside the lock too: the learner's Thompson draws share one random generator.
            counterfactuals = why_not(order, candidates, snapshot, profile.weights, decision, **scoring)
            solved = pricer.last
        context = list(budget_lines)
        if solved is not None and solved.binding:
            stamp = datetime.fromtimestamp(solved.at, UTC).strftime("%H:%M:%S")
            context += [f"capacity price (solve {stamp} UTC): {line}" for line in solved.explain(3)]
        return decision_data(
            decision,
            network,
            profile=PROFILE,
            profile_version=max(version, 1),
            signals=used,
            counterfactuals=counterfactuals,
            context=context,
        ) | {"weights_version": version}

    @r.post(
        "/routing/decide",
        summary="Dry run: how an order would be routed now, with alternatives and reasons (nothing recorded)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "example": {
                            "lines": [{"sku": "YOG-500G", "qty": 2, "cold_chain": True}],
                            "destination": {"city": "南京市", "lat": 32.06, "lng": 118.8},
                            "window": {"end": "2026-12-01T20:00:00+08:00"},
                            "customer": {"tier": "gold"},
                        }
                    }
                },
            }
        },
    )
    async def dry_run(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        body = await json_body(request, 256 * 1024)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", "send the order as a JSON object")])
        try:
            doc = await run_in_threadpool(plan_for, services(request), DRY_RUN, body)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed([Problem("lines", "format", f"an order line is malformed: {exc}")]) from None
        return JSON(doc)

    def route_and_record(svc: Services, oid: str, actor: str, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        events = svc.reader.events(oid)
        placed = next((e for e in events if e.type == "order.placed"), None)
        if placed is None:
            raise NotFound(f"order {oid} has no order.placed event to route from")
        # Nodes that already turned this order down are not asked again.
        refused = exclude | {str(e.data["node"]) for e in events if e.type == "node.rejected"}
        doc = plan_for(svc, oid, placed.data, refused)
        data = {k: v for k, v in doc.items() if k != "weights_version"}
        rerouted = any(e.type in ("routing.decided", "routing.rerouted") for e in events)
        if rerouted:
            previous = [e for e in events if e.type in ("routing.decided", "routing.rerouted")][-1]
            data = {
                "from_node": str(previous.data["node"]),
                "node": data["node"],
                "service": data["service"],
                "carrier": data["carrier"][:64],
                "trigger": "stock_out" if refused else "manual",
                "policy_id": data["policy_id"],
                "policy_version": data["policy_version"],
                "reasons": [line[:200] for line in data["reasons"][:20]],
            }
        raw = {
            "id": f"routed-{ulid()}",
            "type": "routing.rerouted" if rerouted else "routing.decided",
            "source": "orderloom/routing",
            "oid": oid,
            "time": format_time(svc.clock.now()),
            "actor": actor,
            "data": data,
        }
        result = svc.intake.record([raw])[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
        return {"oid": oid, "position": result.position, "type": raw["type"], **doc}

    @r.post("/routing/orders/{oid}/route", summary="Route an order in the log and record the decision")
    async def route(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        doc = await run_in_threadpool(route_and_record, services(request), oid, f"key:{who.key.key_id}")
        return JSON(doc, status_code=201)

    @r.post(
        "/routing/orders/{oid}/reject",
        summary="A node refuses the order or picks it short: record it and re-source the order at once",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"example": {"node": "NJ-FWH", "reason": "short_pick", "skus": ["YOG-500G"]}}
                },
            }
        },
    )
    async def reject(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        svc = services(request)
        body = await json_body(request, 64 * 1024)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", 'send {"node": "NJ-FWH", "reason": "short_pick"}')])
        raw = {
            "id": f"rejected-{ulid()}",
            "type": "node.rejected",
            "source": "orderloom/routing",
            "oid": oid,
            "time": format_time(svc.clock.now()),
            "actor": f"key:{who.key.key_id}",
            "data": body,
        }
        result = (await run_in_threadpool(svc.intake.record, [raw]))[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
        doc = await run_in_threadpool(route_and_record, svc, oid, f"key:{who.key.key_id}")
        return JSON(doc, status_code=201)

    @r.get("/routing/decisions/{oid}", summary="The order's latest routing decision and why")
    async def explain(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        events = await run_in_threadpool(services(request).reader.events, oid)
        decided = [e for e in events if e.type == "routing.decided"]
        if not decided:
            raise NotFound(f"order {oid} has not been routed yet")
        last = decided[-1]
        return JSON({"oid": oid, "time": last.time, "actor": last.actor, **last.data})

    @r.post(
        "/routing/reroute",
        summary="Re-route every open order under the signals in force: preview (default) or apply",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"example": {"apply": False, "trigger": "road_closure", "move_penalty": 5.0}}
                },
            }
        },
    )
    async def batch_reroute(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        body = await json_body(request, 64 * 1024)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", 'send {"apply": false, "trigger": "road_closure"}')])
        apply, trigger, penalty = body.get("apply", False), body.get("trigger", "manual"), body.get("move_penalty", 5.0)
        if not isinstance(apply, bool):
            raise ValidationFailed([Problem("apply", "type", "apply must be true or false")])
        if trigger not in TRIGGERS:
            raise ValidationFailed([Problem("trigger", "enum", f"trigger must be one of: {', '.join(TRIGGERS)}")])
        if not isinstance(penalty, (int, float)) or isinstance(penalty, bool) or penalty < 0:
            raise ValidationFailed([Problem("move_penalty", "minimum", "move_penalty must be a number of 0 or more")])
        svc = services(request)
        profile, version = await run_in_threadpool(profile_of, svc)
        batch = await run_in_threadpool(
            plan_batch, svc, profile.candidates(network), book.current(), profile.weights, float(penalty)
        )
        doc = batch.as_dict() | {"applied": False}
        if apply:
            results = await run_in_threadpool(
                functools.partial(
                    apply_batch,
                    trigger=trigger,
                    profile=PROFILE,
                    profile_version=version,
                    actor=f"key:{who.key.key_id}",
                ),
                svc,
                batch,
            )
            rejected = [x.as_dict() for x in results if x.status == "rejected"]
            if rejected:
                raise ValidationFailed([Problem("(batch)", "rejected", f"nothing applied: {rejected[0]}")])
            doc["applied"] = True
        return JSON(doc)

    @r.get("/routing/reservations", summary="What each node has reserved for open orders, per SKU")
    async def reservations(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        return JSON({"reserved": await run_in_threadpool(reserved_now, services(request))})

    @r.post(
        "/signals",
        summary="Report live signals (backlog, AGV online rate, weather alert, road closure...); each is an event",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "example": [
                            {
                                "type": "node.backlog",
                                "target": "SH-CWH",
                                "value": {"hours": 20},
                                "time": "2026-05-01T08:00:00+08:00",
                            },
                            {
                                "type": "lane.road_closed",
                                "target": "SH-CWH->南京",
                                "value": {"closed": True, "road": "沪宁高速"},
                                "time": "2026-05-01T08:00:00+08:00",
                            },
                        ]
                    }
                },
            }
        },
    )
    async def report(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        body = await json_body(request, 1024 * 1024)
        raws = body if isinstance(body, list) else [body]
        if not raws or len(raws) > 1000:
            raise ValidationFailed([Problem("(body)", "max_items", "send 1 to 1,000 signals at a time")])
        svc = services(request)
        results = await run_in_threadpool(
            functools.partial(record_signals, actor=f"key:{who.key.key_id}"), svc.intake, raws, book.registry, network
        )
        return batch_answer(results)

    @r.get("/signals/current", summary="The signals in force now (or at `at`) and their effect on the network")
    async def current(
        who: Annotated[Caller, Depends(caller)],
        at: Annotated[str | None, Query(description="replay: the snapshot as it was at this time")] = None,
    ) -> JSON:
        who.require("verify")
        snap, used = await run_in_threadpool(book.current, parse_when(at))
        return JSON(
            {
                "nodes": {
                    n: {"backlog_hours": s.backlog_hours, "sorting_idle_rate": s.sorting_idle_rate, "down": s.down}
                    for n, s in snap.nodes.items()
                },
                "closed_cities": sorted(snap.closed_cities),
                "closed_lanes": sorted(f"{a}->{b}" for a, b in snap.closed_lanes),
                "signals_used": used,
            }
        )

    return r
