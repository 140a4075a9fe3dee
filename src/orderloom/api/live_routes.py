"""Server-Sent Events: new atomic events as they are recorded, filtered by the caller's role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from orderloom.api.auth import Caller, caller, services
from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.status.live import LogTail
from orderloom.status.views import event_for_role

HEARTBEAT_S = 15.0
BATCH = 200  # events rendered per worker-thread call


def router(tail: LogTail) -> APIRouter:
    """SSE routes sharing one log tail per process."""
    r = APIRouter(prefix="/v1", tags=["live"])

    async def stream(request: Request, who: Caller, wanted: set[str] | None, oid: str | None) -> AsyncIterator[bytes]:
        svc = services(request)
        scope = who.customer_scope

        def match(e: StoredEvent) -> bool:
            if oid is not None and e.oid != oid:
                return False
            return wanted is None or e.type in wanted

        def render(batch: list[StoredEvent]) -> list[bytes]:
            # Unsealing reads the customer's key from the store: a database query per
            # event, so it runs in a worker thread, never on the event loop that serves
            # every other request of this process.
            out = []
            for e in batch:
                if scope is not None:
                    head = svc.directory.find(e.oid)
                    if head is None or head.customer != scope:
                        continue
                shown = event_for_role(svc.reader.readable([e])[0], who.role, svc.dictionary)
                if shown is not None:
                    out.append(b"id: %d\nevent: %s\ndata: %s\n\n" % (e.position, e.type.encode(), orjson.dumps(shown)))
            return out

        yield b": connected\n\n"
        async with tail.subscribe(match) as queue:
            while not await request.is_disconnected():
                try:
                    e = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                # Whatever else is already queued goes out with it, in one thread hop.
                batch = [e] if e is not None else []
                overflow = e is None
                while not overflow and len(batch) < BATCH and not queue.empty():
                    nxt = queue.get_nowait()
                    overflow = nxt is None
                    if nxt is not None:
                        batch.append(nxt)
                for chunk in await run_in_threadpool(render, batch) if batch else []:
                    yield chunk
                if overflow:
                    yield b'event: overflow\ndata: {"message": "you fell behind; reload the chain"}\n\n'
                    return

    @r.get("/orders/{oid}/live", summary="New events of one order as Server-Sent Events")
    async def order_live(request: Request, oid: str, who: Annotated[Caller, Depends(caller)]) -> StreamingResponse:
        await run_in_threadpool(services(request).reader.events, oid, customer_scope=who.customer_scope)
        return StreamingResponse(stream(request, who, None, oid), media_type="text/event-stream")

    @r.get("/stream", summary="New events of all orders (optionally some types) as Server-Sent Events")
    async def all_live(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        types: Annotated[str | None, Query(description="comma-separated event types, e.g. leader.signed")] = None,
    ) -> StreamingResponse:
        wanted = {t.strip() for t in types.split(",") if t.strip()} if types else None
        if wanted:
            unknown = sorted(t for t in wanted if t not in services(request).dictionary.types)
            if unknown:
                raise ValidationFailed([Problem("types", "known_type", f"unknown event types: {', '.join(unknown)}")])
        return StreamingResponse(stream(request, who, wanted, None), media_type="text/event-stream")

    return r
