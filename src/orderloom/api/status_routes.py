"""HTTP routes of the atomic-order-status capability: orders, events, chains, verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON, batch_answer
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary
from orderloom.status.intake import ref_key
from orderloom.status.orders import place_order

OID = Annotated[str, "order id"]


def _example_events(dictionary: Dictionary) -> list[dict[str, Any]]:
    seed = ["order.placed", "outbound.scanned", "linehaul.in_transit", "forward_wh.check_passed", "leader.signed"]
    out = []
    for n, tid in enumerate(t for t in seed if t in dictionary.types):
        ex = dictionary.types[tid].example
        out.append(
            {
                "id": f"evt-demo-{n + 1}",
                "type": tid,
                "source": "wms/shanghai-central",
                "oid": "OL-DEMO-0001",
                "time": f"2026-05-01T{8 + n:02d}:00:00+08:00",
                **ex,
            }
        )
    return out


def _order_schema(dictionary: Dictionary) -> dict[str, Any]:
    placed = dictionary.types.get("order.placed")
    base: dict[str, Any] = dict(placed.data_schema) if placed else {"type": "object"}
    props = dict(base.get("properties", {}))
    props.update(
        oid={"type": "string", "description": "your own order id; omit to let Orderloom assign one"},
        time={"type": "string", "format": "date-time", "description": "when the order was placed (default: now)"},
        source={"type": "string", "description": "the system placing the order"},
    )
    return {**base, "properties": props}


def router(dictionary: Dictionary) -> APIRouter:
    """The routes, with request examples taken from the dictionary."""
    r = APIRouter(prefix="/v1", tags=["orders"])
    placed_example = (
        dict(dictionary.types["order.placed"].example["data"]) if "order.placed" in dictionary.types else {}
    )
    events_example = {"events": _example_events(dictionary), "all_or_nothing": False}

    @r.post(
        "/orders",
        summary="Place an order",
        description="Records `order.placed`. Idempotent: the same `oid` or an already linked source order number "
        "returns the existing order with `created: false`.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _order_schema(dictionary), "example": placed_example}},
            }
        },
        responses={
            201: {"description": "created"},
            200: {"description": "already existed"},
            422: {"description": "invalid"},
        },
    )
    async def create_order(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        svc = services(request)
        body = await json_body(request, svc.settings.max_body_bytes)
        placed = await run_in_threadpool(
            place_order, svc.intake, body, source=f"api/{who.key.key_id}", actor=f"key:{who.key.key_id}"
        )
        return JSON(
            {"oid": placed.oid, "created": placed.created, "position": placed.position},
            status_code=201 if placed.created else 200,
        )

    @r.post(
        "/events",
        summary="Record a batch of atomic events",
        description="Up to the batch limit (1,000 by default) CloudEvents. Each gets accepted / duplicate / rejected "
        "with the field and rule; valid events are stored even if others are rejected, unless `all_or_nothing`.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}, "example": events_example}},
            }
        },
        responses={
            200: {"description": "all stored"},
            207: {"description": "some rejected"},
            422: {"description": "none stored"},
        },
    )
    async def record_events(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("write")
        svc = services(request)
        body = await json_body(request, svc.settings.max_body_bytes)
        atomic = False
        if isinstance(body, dict):
            atomic = body.get("all_or_nothing", False)
            if not isinstance(atomic, bool):
                raise ValidationFailed([Problem("all_or_nothing", "type", "all_or_nothing must be true or false")])
            body = body.get("events")
        if not isinstance(body, list):
            raise ValidationFailed([Problem("events", "type", 'send {"events": [...]} or a JSON list of events')])
        if not body:
            raise ValidationFailed([Problem("events", "min_items", "the batch is empty")])
        if len(body) > svc.settings.max_batch:
            raise ValidationFailed(
                [
                    Problem(
                        "events",
                        "max_items",
                        f"a batch holds at most {svc.settings.max_batch:,} events; "
                        f"this one has {len(body):,}: split it",
                    )
                ]
            )
        results = await run_in_threadpool(svc.intake.record, body, atomic=atomic)
        return batch_answer(results)

    @r.get("/orders/lookup", summary="Find an order by a source system's order number")
    async def lookup(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        system: Annotated[str, Query(min_length=1, max_length=64, description="e.g. erp, tmall, wms")],
        number: Annotated[str, Query(min_length=1, max_length=128)],
    ) -> JSON:
        svc = services(request)
        oid = await run_in_threadpool(svc.store.resolve, ref_key(system, number))
        if oid is None:
            raise NotFound(f"no order is linked to {system} order number {number}")
        await run_in_threadpool(svc.reader.events, oid, customer_scope=who.customer_scope)
        return JSON({"oid": oid, "system": system, "number": number})

    @r.get("/orders/{oid}", summary="An order's status, shipments and legs")
    async def get_order(request: Request, oid: OID, who: Annotated[Caller, Depends(caller)]) -> JSON:
        view = await run_in_threadpool(
            services(request).reader.summary, oid, who.role, customer_scope=who.customer_scope
        )
        return JSON(view)

    @r.get("/orders/{oid}/chain", summary="The order's atomic chain, as your role may see it")
    async def get_chain(
        request: Request,
        oid: OID,
        who: Annotated[Caller, Depends(caller)],
        role: Annotated[str | None, Query(description="look through another role's eyes (cs, ops, admin)")] = None,
    ) -> JSON:
        view_role = who.view_role(role)
        chain = await run_in_threadpool(
            services(request).reader.chain, oid, view_role, customer_scope=who.customer_scope
        )
        return JSON(chain)

    @r.get("/orders/{oid}/verify", summary="Recompute the order's hash chain")
    async def verify(request: Request, oid: OID, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("verify")
        verdict = await run_in_threadpool(services(request).reader.verify, oid)
        return JSON(verdict.as_dict())

    @r.get("/dictionary", summary="The event dictionary: types, schemas, visibility, examples", tags=["dictionary"])
    async def get_dictionary(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        del who  # any authenticated caller
        return JSON(services(request).dictionary.document())

    return r
