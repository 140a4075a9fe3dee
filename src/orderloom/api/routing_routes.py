"""HTTP routes of the routing capability: dry-run decisions, routing an order, explaining a decision."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON
from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.policy.log import PolicyLog
from orderloom.routing.decisions import decide, decision_data, order_for_routing
from orderloom.routing.network import Network
from orderloom.routing.scoring import Signals, Weights

PROFILE = "routing_default"  # the routing profile policy whose published version sets the weights


def weights_of(svc: Services) -> tuple[Weights, int]:
    """The weights of the published routing profile (version 0: built-in defaults)."""
    state = PolicyLog(svc.intake).state(PROFILE)
    if state.stable is None:
        return Weights(), 0
    doc = state.versions[state.stable].document.get("weights", {})
    known = {f.name for f in dataclasses.fields(Weights)}
    return Weights(**{k: float(v) for k, v in doc.items() if k in known}), state.stable


def router(network: Network, signals: Any) -> APIRouter:
    """Routes under /v1/routing; `signals(svc)` gives the current snapshot and what it was built from."""
    r = APIRouter(prefix="/v1/routing", tags=["routing"])

    def plan_for(svc: Services, oid: str, placed: dict[str, Any]) -> dict[str, Any]:
        snapshot, used = signals(svc)
        weights, version = weights_of(svc)
        order = order_for_routing(oid, placed, svc.clock.now(), network)
        return decision_data(
            decide(order, network, snapshot or Signals(), weights),
            network,
            profile=PROFILE,
            profile_version=max(version, 1),
            signals=used,
        ) | {"weights_version": version}

    @r.post(
        "/decide",
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
            doc = await run_in_threadpool(plan_for, services(request), "DRY-RUN", body)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed([Problem("lines", "format", f"an order line is malformed: {exc}")]) from None
        return JSON(doc)

    @r.post(
        "/orders/{oid}/route",
        summary="Route an order in the log and record the decision as routing.decided",
    )
    async def route(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        svc = services(request)
        events = await run_in_threadpool(svc.reader.events, oid)
        placed = next((e for e in events if e.type == "order.placed"), None)
        if placed is None:
            raise NotFound(f"order {oid} has no order.placed event to route from")
        doc = await run_in_threadpool(plan_for, svc, oid, placed.data)
        data = {k: v for k, v in doc.items() if k != "weights_version"}
        raw = {
            "id": f"routed-{ulid()}",
            "type": "routing.decided",
            "source": "orderloom/routing",
            "oid": oid,
            "time": format_time(svc.clock.now()),
            "actor": f"key:{who.key.key_id}",
            "data": data,
        }
        result = (await run_in_threadpool(svc.intake.record, [raw]))[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
        return JSON({"oid": oid, "position": result.position, **doc}, status_code=201)

    @r.get("/decisions/{oid}", summary="The order's latest routing decision and why")
    async def explain(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        events = await run_in_threadpool(services(request).reader.events, oid)
        decided = [e for e in events if e.type == "routing.decided"]
        if not decided:
            raise NotFound(f"order {oid} has not been routed yet")
        last = decided[-1]
        return JSON({"oid": oid, "time": last.time, "actor": last.actor, **last.data})

    return r
