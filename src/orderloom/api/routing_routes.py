"""HTTP routes of the routing capability: dry-run decisions, routing an order, explaining a decision."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON, batch_answer
from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.routing.batch import apply_batch, plan_batch
from orderloom.routing.network import Network
from orderloom.routing.reservations import ReservationLedger
from orderloom.routing.router import DRY_RUN, PROFILE, Router, profile_of
from orderloom.routing.signal_book import SignalBook, parse_when, record_signals
from orderloom.store import iter_log

TRIGGERS = (
    "road_closure",
    "weather",
    "node_overload",
    "equipment_down",
    "stock_out",
    "carrier_capacity",
    "manual",
)


def reserved_now(svc: Services) -> dict[str, dict[str, int]]:
    """Fold the whole log into the reservation ledger (a view can take this over when logs grow)."""
    ledger = ReservationLedger()
    for e in iter_log(svc.store):
        ledger.apply(e)
    return ledger.reserved()


def router(network: Network, book: SignalBook) -> APIRouter:
    """Routes under /v1/routing and /v1/signals; decisions use the signals in force in `book`."""
    r = APIRouter(prefix="/v1", tags=["routing"])
    engine = Router(network, book)

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
            doc = await run_in_threadpool(engine.plan, services(request), DRY_RUN, body)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed([Problem("lines", "format", f"an order line is malformed: {exc}")]) from None
        return JSON(doc)

    @r.post("/routing/orders/{oid}/route", summary="Route an order in the log and record the decision")
    async def route(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        doc = await run_in_threadpool(engine.route, services(request), oid, f"key:{who.key.key_id}")
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
        doc = await run_in_threadpool(engine.route, svc, oid, f"key:{who.key.key_id}")
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

    @r.get("/routing/network", summary="The fulfilment network: nodes with location, capacity and stock; services")
    async def network_doc(who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        nodes = [
            {
                "id": n.id,
                "name": n.name,
                "kind": n.kind,
                "city": n.city,
                "lat": n.lat,
                "lng": n.lng,
                "orders_per_hour": n.orders_per_hour(),
                "capacity_per_hour": dict(n.capacity_per_hour),
                "unit_cost": n.unit_cost,
                "stock": dict(n.stock),
                "cold_storage": n.cold_storage,
                "service_radius_km": n.service_radius_km,
            }
            for n in network.nodes
        ]
        services_ = [{"id": s.id, "name": s.name, "kind": s.kind, "max_km": s.max_km} for s in network.services]
        prices = engine.pricer.last.prices if engine.pricer.last is not None else {}
        return JSON({"nodes": nodes, "services": services_, "capacity_prices": prices})

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
                                "value": {"closed": True, "reason": "沪宁高速封闭"},
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
