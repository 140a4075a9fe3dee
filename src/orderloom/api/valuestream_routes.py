"""HTTP routes of value-stream weaving: domain facts, data contracts and their health, department views, the map."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON, batch_answer
from orderloom.core.errors import Forbidden, Problem, ValidationFailed
from orderloom.valuestream.catalog import contract_document
from orderloom.valuestream.config import ValueStreamConfig
from orderloom.valuestream.departments import VIEWS
from orderloom.valuestream.fulfilment import DEFAULT_TZ, MAX_DAYS
from orderloom.valuestream.runtime import ValueStream

# Contracts, health and views are about departments' data; a consumer has no business with them.
READERS = ("cs", "finance", "ops", "admin")
_build_lock = threading.Lock()

FACTS_EXAMPLE = {
    "records": [
        {"oid": "OL-DEMO-0001", "channel_id": "douyin_live", "campaign": "cny2026_yogurt", "interest_tags": ["dairy"]}
    ],
    "all_or_nothing": False,
}
Days = Annotated[int | None, Query(ge=1, le=MAX_DAYS, description="look back this many days")]


def valuestream(request: Request) -> ValueStream:
    """The capability, built on first use (the query routes share it)."""
    with _build_lock:
        vs: ValueStream | None = getattr(request.app.state, "valuestream", None)
        if vs is None:
            config = getattr(request.app.state, "valuestream_config", None) or ValueStreamConfig.from_env()
            vs = ValueStream.of(services(request), config)
            request.app.state.valuestream = vs
        return vs


def _reader(who: Caller) -> None:
    if who.role not in READERS:
        raise Forbidden(f"the {who.role} role may not read value-stream data (roles allowed: {', '.join(READERS)})")


def _records(body: Any, max_batch: int) -> tuple[list[Any], bool, str | None]:
    """(records, all_or_nothing, schema object) from a body that is one record, a list, or {"records": [...]}."""
    atomic, object_name = False, None
    if isinstance(body, dict) and "records" in body:
        atomic = body.get("all_or_nothing", False)
        if not isinstance(atomic, bool):
            raise ValidationFailed([Problem("all_or_nothing", "type", "all_or_nothing must be true or false")])
        object_name = body.get("object")
        if object_name is not None and not isinstance(object_name, str):
            raise ValidationFailed([Problem("object", "type", "object must be the name of a schema object")])
        body = body["records"]
    elif isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise ValidationFailed([Problem("records", "type", 'send one record, a list, or {"records": [...]}')])
    if not body:
        raise ValidationFailed([Problem("records", "min_items", "there are no records to record")])
    if len(body) > max_batch:
        raise ValidationFailed(
            [Problem("records", "max_items", f"send at most {max_batch:,} records at once; this has {len(body):,}")]
        )
    return body, atomic, object_name


def router() -> APIRouter:
    """The routes; the capability is built on first use, never at import."""
    r = APIRouter(prefix="/v1", tags=["value stream"])

    @r.post(
        "/facts/{domain}",
        summary="Deliver domain facts under the domain's data contract",
        description='One record, a list, or `{"records": [...], "all_or_nothing": false, "object": ...}`. '
        "Each record is checked against the contract (required fields, types, enums, ranges, quality rules) and "
        "stored as a `fact.recorded` event on the order's stream (key `oid`) or the customer's (`customer_id`). "
        "Per record: accepted / duplicate / rejected with the field and the rule. Refused records are counted in "
        "the contract's health. With `all_or_nothing` one refused record stores none.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}, "example": FACTS_EXAMPLE}},
            }
        },
        responses={
            200: {"description": "all stored"},
            207: {"description": "some refused"},
            422: {"description": "none"},
        },
    )
    async def post_facts(request: Request, domain: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        svc = services(request)
        vs = await run_in_threadpool(valuestream, request)
        contract = vs.desk.contract(domain)
        if not contract.may_write(who.role):
            raise Forbidden(f"the {who.role} role may not deliver {contract.domain} facts ({contract.id})")
        body = await json_body(request, svc.settings.max_body_bytes)
        records, atomic, object_name = _records(body, svc.settings.max_batch)
        results = await run_in_threadpool(
            lambda: vs.desk.record(
                domain,
                records,
                actor=f"key:{who.key.key_id}",
                source=f"api/{who.key.key_id}",
                atomic=atomic,
                object_name=object_name,
            )
        )
        return batch_answer(results)

    @r.get("/valuestream/contracts", summary="The data contracts: who owes which fields, and by when")
    async def list_contracts(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        vs = await run_in_threadpool(valuestream, request)
        return JSON({"contracts": [c.summary() for c in vs.catalog.list()]})

    @r.get("/valuestream/contracts/{contract_id}", summary="One data contract as its ODCS v3 document")
    async def get_contract(request: Request, contract_id: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        vs = await run_in_threadpool(valuestream, request)
        contract = vs.catalog.get(contract_id)
        return JSON({**contract.summary(), "document": contract_document(contract)})

    @r.get(
        "/valuestream/contracts/{contract_id}/health",
        summary="Contract health: owed orders on time, late, missing; refused deliveries; the daily trend",
    )
    async def get_health(
        request: Request,
        contract_id: str,
        who: Annotated[Caller, Depends(caller)],
        days: Days = None,
        tz: Annotated[str, Query(max_length=64, description="time zone of the trend's days")] = DEFAULT_TZ,
    ) -> JSON:
        _reader(who)
        vs = await run_in_threadpool(valuestream, request)
        return JSON(await run_in_threadpool(lambda: vs.health(contract_id, who.role, days=days or 30, tz=tz)))

    @r.get("/valuestream/views", summary="The department views and who may read them")
    async def list_views(who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        return JSON(
            {
                "views": [
                    {"name": v.name, "department": v.department, "title": v.title, "roles": list(v.roles)}
                    for v in VIEWS.values()
                ]
            }
        )

    @r.get("/valuestream/views/{name}", summary="A department view (repurchase, rush orders, days to cash, health)")
    async def get_view(
        request: Request,
        name: str,
        who: Annotated[Caller, Depends(caller)],
        *,
        days: Days = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="at most this many rows per list")] = 100,
        channel: Annotated[
            str, Query(max_length=16, description="repurchase: order (order.placed channel) or attribution")
        ] = "order",
    ) -> JSON:
        _reader(who)
        vs = await run_in_threadpool(valuestream, request)
        answer = await run_in_threadpool(
            lambda: vs.department_view(name, who.role, days=days, limit=limit, channel=channel)
        )
        return JSON(answer)

    @r.get("/valuestream/map", summary="The value-stream map: which department touches the order where, with what")
    async def get_map(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        lang: Annotated[str, Query(pattern="^(zh|en)$")] = "en",
    ) -> JSON:
        _reader(who)
        vs = await run_in_threadpool(valuestream, request)
        return JSON(vs.map(lang))

    return r
