"""HTTP routes of the connectors: signed inbound webhooks, outbound webhook subscriptions, reconciliation."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.errors import BadRequest
from orderloom.api.responses import JSON
from orderloom.bootstrap import Services
from orderloom.connectors import reconcile as rec
from orderloom.connectors import webhook_log
from orderloom.connectors.inbound import as_dict, receive
from orderloom.connectors.registry import Connectors, NotConfigured
from orderloom.connectors.sinks import Sinks
from orderloom.connectors.subscriptions import Subscriptions
from orderloom.core.envelope import normalise_time
from orderloom.core.errors import ConfigError, Forbidden, Problem, ValidationFailed
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.signals import load_registry
from orderloom.valuestream.fact_sink import contract_fact_sink

INBOUND_LIMIT = 1024 * 1024
READERS = ("ops", "admin")


async def _raw_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the message is larger than {limit:,} bytes", 413, "too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the message is larger than {limit:,} bytes", 413, "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _reader(who: Caller) -> None:
    if who.role not in READERS:
        raise Forbidden(f"the {who.role} role may not read webhook subscriptions (ops and admin may)")


def router(svc: Services, connectors: Connectors | None = None) -> APIRouter:
    """Routes under /v1/inbound, /v1/webhooks and /v1/reconcile."""
    r = APIRouter(prefix="/v1")
    conns = connectors or Connectors.from_env()
    sinks = Sinks(
        svc.intake,
        registry=load_registry(),
        network=load_network(svc.settings.network_path or CHINA_YAML),
        extra={"fact": contract_fact_sink(svc.intake, svc.dictionary)},
    )
    subs = Subscriptions(svc.intake)

    @r.post(
        "/inbound/{connector}",
        tags=["connectors"],
        summary="Receive a signed webhook from a connected system (HMAC instead of an API key)",
        description="Headers: `X-Orderloom-Timestamp` (Unix seconds, within 5 minutes), `X-Orderloom-Nonce` "
        "(new for every message) and `X-Orderloom-Signature: sha256=<hex HMAC-SHA256 of timestamp + '.' + body>` "
        "with the connector's shared secret. The connector's mapping turns the payload into orders, events or "
        "signals. 401: bad signature, old timestamp or replayed nonce; 422: a mapped field is invalid.",
        responses={200: {"description": "stored"}, 207: {"description": "some items rejected"}},
    )
    async def inbound(request: Request, connector: str) -> JSON:
        body = await _raw_body(request, INBOUND_LIMIT)
        try:
            got = await run_in_threadpool(receive, conns, sinks, connector, request.headers, body)
        except NotConfigured as exc:
            # 401, not 5xx: without the shared secret no message to this connector can be authenticated.
            raise BadRequest(str(exc), 401, "connector_not_configured") from None
        except ValidationFailed:
            raise
        except ConfigError as exc:
            raise ValidationFailed(
                [Problem("(mapping)", "mapping", f"connector {connector} could not map this payload: {exc}")]
            ) from None
        answer = as_dict(got)
        status = 200 if answer["rejected"] == 0 else (207 if answer["accepted"] + answer["duplicate"] else 422)
        return JSON(answer, status_code=status)

    @r.get("/inbound", tags=["connectors"], summary="The configured connectors and what they produce")
    async def list_connectors(who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        return JSON(
            {
                "connectors": [
                    {
                        "connector": s.connector,
                        "kind": s.kind,
                        "description": s.description,
                        "secret_env": s.secret_env,
                        "ready": bool(s.secret_env and len(conns.env.get(s.secret_env, "")) >= 16),
                    }
                    for s in sorted(conns.specs.values(), key=lambda s: s.connector)
                ]
            }
        )

    @r.post(
        "/webhooks",
        tags=["webhooks"],
        summary="Subscribe a URL to events, delivered signed and as a role sees them (admin)",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "example": {
                            "url": "https://erp.example.com/hooks/orderloom",
                            "types": ["delivery.*", "order.cancelled"],
                            "role": "cs",
                            "note": "ERP status sync",
                        }
                    }
                },
            }
        },
    )
    async def create(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        body = await json_body(request, 64 * 1024)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", 'send {"url": ..., "types": [...], "role": "cs"}')])
        sub, secret = await run_in_threadpool(
            lambda: subs.create(
                body.get("url"),
                body.get("types"),
                body.get("role"),
                actor=f"key:{who.key.key_id}",
                secret=body.get("secret"),
                note=body.get("note", ""),
            )
        )
        return JSON({**sub.as_dict(), "secret": secret}, status_code=201)

    @r.get("/webhooks", tags=["webhooks"], summary="Webhook subscriptions with their delivery counts")
    async def list_subs(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        svc_ = services(request)

        def rows() -> list[dict[str, Any]]:
            out = []
            for s in subs.all():
                st = webhook_log.state(svc_.store, svc_.views, s.id)
                counts = {k: st[k] for k in ("delivered", "dead_lettered", "failed_attempts")}
                out.append({**s.as_dict(), **counts, "dead_letters": len(st["dead"])})
            return out

        return JSON({"subscriptions": await run_in_threadpool(rows)})

    @r.get("/webhooks/{sid}", tags=["webhooks"], summary="One webhook subscription")
    async def get_sub(sid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        return JSON((await run_in_threadpool(subs.get, sid)).as_dict())

    async def _reason(request: Request) -> str:
        if not int(request.headers.get("content-length") or 0):
            return ""
        body = await json_body(request, 16 * 1024)
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        if not isinstance(reason, str):
            raise ValidationFailed([Problem("reason", "type", "reason must be text")])
        return reason

    @r.post("/webhooks/{sid}/pause", tags=["webhooks"], summary="Pause deliveries (admin)")
    async def pause(request: Request, sid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        reason = await _reason(request)
        sub = await run_in_threadpool(lambda: subs.pause(sid, actor=f"key:{who.key.key_id}", reason=reason))
        return JSON(sub.as_dict())

    @r.post("/webhooks/{sid}/resume", tags=["webhooks"], summary="Resume deliveries where they stopped (admin)")
    async def resume(request: Request, sid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        reason = await _reason(request)
        sub = await run_in_threadpool(lambda: subs.resume(sid, actor=f"key:{who.key.key_id}", reason=reason))
        return JSON(sub.as_dict())

    @r.delete("/webhooks/{sid}", tags=["webhooks"], summary="Delete a subscription and destroy its secret (admin)")
    async def delete(sid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        sub = await run_in_threadpool(lambda: subs.delete(sid, actor=f"key:{who.key.key_id}"))
        return JSON(sub.as_dict())

    @r.get("/webhooks/{sid}/deliveries", tags=["webhooks"], summary="The subscription's delivery log, newest first")
    async def deliveries(
        request: Request,
        sid: str,
        who: Annotated[Caller, Depends(caller)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSON:
        _reader(who)
        svc_ = services(request)
        await run_in_threadpool(subs.get, sid)
        log = await run_in_threadpool(webhook_log.deliveries, svc_.store, svc_.views, sid, limit)
        return JSON({"subscription": sid, "deliveries": log})

    @r.get("/webhooks/{sid}/dead-letters", tags=["webhooks"], summary="Deliveries that were given up on")
    async def dead(request: Request, sid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _reader(who)
        svc_ = services(request)
        await run_in_threadpool(subs.get, sid)
        letters = await run_in_threadpool(webhook_log.dead_letters, svc_.store, svc_.views, sid)
        return JSON({"subscription": sid, "dead_letters": letters})

    @r.post(
        "/webhooks/{sid}/dead-letters/replay",
        tags=["webhooks"],
        summary="Send dead letters again: all, or the listed event ids (admin)",
        status_code=202,
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {"application/json": {"example": {"event_ids": ["evt-1"], "reason": "receiver fixed"}}},
            }
        },
    )
    async def replay(request: Request, sid: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        body: Any = {}
        if int(request.headers.get("content-length") or 0):
            body = await json_body(request, 1024 * 1024)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", 'send {"event_ids": [...]} or nothing for all')])
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise ValidationFailed([Problem("reason", "type", "reason must be text")])
        svc_ = services(request)
        chosen = await run_in_threadpool(
            lambda: webhook_log.request_replay(
                subs, svc_.views, sid, body.get("event_ids"), actor=f"key:{who.key.key_id}", reason=reason
            )
        )
        return JSON({"subscription": sid, "replaying": len(chosen), "event_ids": chosen}, status_code=202)

    @r.post(
        "/reconcile",
        tags=["connectors"],
        summary="Compare an external system's order states with the log and list the mismatches",
        description="JSON `{rows: [{id, state}], system?, states?: {EXTERNAL: [status, ...]}, missing_externally?, "
        "placed_from?, placed_to?}`, or a CSV body (Content-Type text/csv) with the same options as query "
        "parameters.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "example": {
                            "system": "erp",
                            "states": {"SHIPPED": ["shipped_out", "in_transit"], "DONE": "delivered"},
                            "rows": [{"id": "SO-77", "state": "SHIPPED"}],
                            "missing_externally": False,
                        }
                    }
                },
            }
        },
    )
    async def reconcile(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        system: Annotated[str | None, Query(max_length=64)] = None,
        missing_externally: bool = True,
    ) -> JSON:
        who.require("verify")
        svc_ = services(request)
        if request.headers.get("content-type", "").startswith("text/csv"):
            text = (await _raw_body(request, svc_.settings.max_body_bytes)).decode("utf-8-sig", errors="replace")
            options = rec.Options(system=system, missing_externally=missing_externally)
            rows = _csv_rows(text)
        else:
            body = await json_body(request, svc_.settings.max_body_bytes)
            options, rows = _json_request(body)
        report = await run_in_threadpool(rec.reconcile, svc_.store, svc_.dictionary, rows, options)
        return JSON(report)

    return r


def _csv_rows(text: str) -> list[tuple[int, str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    names = [n for n in (reader.fieldnames or []) if n]
    try:
        id_col, state_col = rec.pick_columns(names, None, None)
    except ConfigError as exc:
        raise ValidationFailed([Problem("(csv)", "columns", str(exc))]) from None
    return [(n, row.get(id_col) or "", row.get(state_col) or "") for n, row in enumerate(reader, start=2)]


def _json_request(body: Any) -> tuple[rec.Options, list[tuple[int, str, str]]]:
    if not isinstance(body, dict):
        raise ValidationFailed([Problem("(body)", "type", 'send {"rows": [{"id": ..., "state": ...}]}')])
    problems: list[Problem] = []
    raw_rows = body.get("rows")
    rows: list[tuple[int, str, str]] = []
    if not isinstance(raw_rows, list):
        problems.append(Problem("rows", "required", "rows must list the external orders as {id, state}"))
    else:
        for n, row in enumerate(raw_rows):
            if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("state"), str):
                problems.append(Problem(f"rows[{n}]", "type", "each row needs text id and state"))
            else:
                rows.append((n + 1, row["id"], row["state"]))
    states: dict[str, tuple[str, ...]] = {}
    if body.get("states") is not None:
        try:
            states = rec.parse_states(body["states"], "states")
        except ConfigError as exc:
            problems.append(Problem("states", "format", str(exc)))
    system = body.get("system")
    if system is not None and (not isinstance(system, str) or not system.strip()):
        problems.append(Problem("system", "type", "system must name the external system, e.g. erp"))
    flag = body.get("missing_externally", True)
    if not isinstance(flag, bool):
        problems.append(Problem("missing_externally", "type", "missing_externally must be true or false"))
    window = {k: body.get(k) for k in ("placed_from", "placed_to")}
    for k, v in window.items():
        if v is not None and not isinstance(v, str):
            problems.append(Problem(k, "type", f"{k} must be a time like 2026-05-01T00:00:00+08:00"))
    if problems:
        raise ValidationFailed(problems)
    for k, v in window.items():
        if v is None:
            continue
        try:
            normalise_time(v)
        except ValueError as exc:
            raise ValidationFailed([Problem(k, "format", f"{k}: {exc}")]) from None
    options = rec.Options(
        system=system,
        states=states,
        missing_externally=flag,
        placed_from=window["placed_from"],
        placed_to=window["placed_to"],
    )
    return options, rows
