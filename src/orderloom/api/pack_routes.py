"""HTTP routes of industry packs (list, show, install) and of the documents the cross-border pack decides."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.responses import JSON
from orderloom.core.envelope import format_time
from orderloom.core.errors import Forbidden, NotFound, Problem, ValidationFailed
from orderloom.core.ids import is_valid_oid, ulid
from orderloom.packs import get_pack, installed_packs, list_packs
from orderloom.packs.install import install_pack, pack_document
from orderloom.packs.trade import build_document, render_pdf
from orderloom.packs.trade.documents import POLICY
from orderloom.policy.log import PolicyLog
from orderloom.policy.runtime import PolicyRuntime
from orderloom.status.pauses import pause_stream

PACK_READERS = frozenset({"ops", "admin"})
DOCUMENT_READERS = frozenset({"cs", "finance", "ops", "admin"})
INTAKE_WRITERS = frozenset({"ops", "admin"})
PDF = "application/pdf"
_CHANNEL = re.compile(r"^[A-Za-z0-9._:\-]{1,56}$")


def _allow(who: Caller, roles: frozenset[str], what: str) -> None:
    if who.role not in roles:
        raise Forbidden(f"the {who.role} role may not {what}; ask {' or '.join(sorted(roles))}")


def router() -> APIRouter:
    """Routes under /v1/packs, /v1/orders/{oid}/documents and /v1/intake."""
    r = APIRouter(prefix="/v1", tags=["packs"])
    held: list[PolicyRuntime] = []

    def runtime(request: Request) -> PolicyRuntime:
        # One runtime per app, made on first use: it keeps the decision table between documents and follows publishes.
        if not held:
            held.append(PolicyRuntime(PolicyLog(services(request).intake)))
        return held[0]

    @r.get("/packs", summary="The industry packs shipped with Orderloom and whether each is installed")
    async def get_packs(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _allow(who, PACK_READERS, "list packs")
        done = await run_in_threadpool(installed_packs, services(request).store)
        return JSON(
            {
                "packs": [
                    {
                        "name": p.name,
                        "version": p.version,
                        "label": p.label,
                        "description": p.description,
                        "installed": done.get(p.name),
                    }
                    for p in list_packs()
                ]
            }
        )

    @r.get("/packs/{name}", summary="One pack: event types, monitors, signals, policies and playbooks it brings")
    async def get_one(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _allow(who, PACK_READERS, "read packs")
        pack = get_pack(name)
        done = await run_in_threadpool(installed_packs, services(request).store)
        return JSON(await run_in_threadpool(pack_document, pack, done.get(name)))

    @r.post(
        "/packs/{name}/install",
        summary="Install a pack (admin): publish its policies and playbooks; idempotent; audited in sys.packs",
    )
    async def install(request: Request, name: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        svc = services(request)
        report = await run_in_threadpool(lambda: install_pack(svc, name, actor=f"key:{who.key.key_id}"))
        runtime(request).invalidate(POLICY)
        return JSON(report)

    @r.get(
        "/orders/{oid}/documents/{kind}",
        summary="Order terms or invoice (kind: terms | invoice) with fields decided per destination by policy; "
        "JSON, or PDF with Accept: application/pdf",
        responses={200: {"content": {PDF: {}}}},
    )
    async def document(request: Request, oid: str, kind: str, who: Annotated[Caller, Depends(caller)]) -> Response:
        _allow(who, DOCUMENT_READERS, "read order documents")
        svc = services(request)
        served = runtime(request)

        def decide(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            try:
                d = served.decide(POLICY, oid, data)
            except NotFound:
                raise NotFound(
                    f"no published {POLICY} policy; install the crossborder pack (POST /v1/packs/crossborder/install)"
                ) from None
            return d.version, d.result

        doc = await run_in_threadpool(
            lambda: build_document(svc.store, decide, oid, kind, today=format_time(svc.clock.now())[:10])
        )
        if PDF in request.headers.get("accept", ""):
            pdf = await run_in_threadpool(render_pdf, doc)
            return Response(
                pdf, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{oid}-{kind}.pdf"'}
            )
        return JSON(doc)

    @r.post(
        "/intake/{channel}/resume",
        summary="Take orders through a paused sales channel again (ops, admin); recorded as a resume_intake command",
    )
    async def resume(request: Request, channel: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _allow(who, INTAKE_WRITERS, "resume intake")
        stream = pause_stream(channel)
        if not _CHANNEL.match(channel) or not is_valid_oid(stream):
            raise ValidationFailed([Problem("channel", "format", "a channel is 1-56 letters, digits or . _ : -")])
        svc = services(request)
        cid = f"resume-{ulid()}"
        raw = {
            "id": cid,
            "type": "command.issued",
            "source": "orderloom/api",
            "oid": stream,
            "time": format_time(svc.clock.now()),
            "actor": f"key:{who.key.key_id}",
            "data": {"command_id": cid, "command": "resume_intake", "target": stream, "args": {"channel": channel}},
        }
        result = (await run_in_threadpool(lambda: svc.intake.record([raw], allow_internal=True)))[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
        return JSON({"channel": channel, "resumed": True, "command_id": cid})

    return r
