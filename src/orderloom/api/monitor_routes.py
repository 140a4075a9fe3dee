"""HTTP routes of the order monitors: their definitions, their findings and the root causes behind a monitor."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.responses import JSON
from orderloom.bootstrap import Services
from orderloom.core.errors import Forbidden, NotFound
from orderloom.packs import pack_monitor_files
from orderloom.status.monitors import MonitorSet, list_findings, load_monitors, paths_from_env
from orderloom.status.monitors.rootcause import Settings, profiles_from_store, root_causes

READERS = ("cs", "ops", "admin")
_MONITOR = r"^[a-z][a-z0-9_]{1,39}$"
_CACHED = 16


def _readers(who: Caller) -> None:
    if who.role not in READERS:
        raise Forbidden(f"the {who.role} role may not read monitors (roles allowed: {', '.join(READERS)})")


def router(svc: Services, monitors: MonitorSet | None = None) -> APIRouter:
    """Routes under /v1/monitors; cs, ops and admin may read them. The monitors are loaded (and checked) now."""
    # Installed packs' monitors first, then the user's files, so the user's settings win.
    extra: list[str | Path] = [*pack_monitor_files(svc.store), *paths_from_env()]
    chosen = monitors if monitors is not None else load_monitors(svc.dictionary, extra)
    r = APIRouter(prefix="/v1/monitors", tags=["monitors"])
    lock = threading.Lock()
    # Root causes read the whole log: keep the last answers per (monitor, settings, log position).
    cache: dict[tuple[Any, ...], dict[str, Any]] = {}

    @r.get("", summary="Every monitor in force: the dictionary's timers, the shipped monitors and the user's files")
    async def get_monitors(who: Annotated[Caller, Depends(caller)]) -> JSON:
        _readers(who)
        docs = [m.document() for m in chosen]
        return JSON({"monitors": docs, "count": len(docs), "sources": [*chosen.sources]})

    @r.get("/findings", summary="Findings, newest first: open or resolved, of one monitor or one order")
    async def get_findings(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        *,
        state: Annotated[Literal["open", "resolved"] | None, Query(description="open or resolved")] = None,
        monitor: Annotated[str | None, Query(pattern=_MONITOR, description="a monitor id, e.g. linehaul_stall")] = None,
        oid: Annotated[str | None, Query(min_length=1, max_length=64, description="one order's findings")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSON:
        _readers(who)
        if monitor is not None and chosen.get(monitor) is None:
            raise NotFound(f"there is no monitor {monitor}; GET /v1/monitors lists them")
        views = services(request).views
        found = await run_in_threadpool(
            lambda: list_findings(views, state=state, monitor=monitor, oid=oid, limit=limit)
        )
        return JSON({"findings": found, "count": len(found)})

    @r.get(
        "/{monitor}/root-causes",
        summary="What the orders with this monitor's findings have in common (device, firmware, site, carrier...)",
        description="Per order the monitor applies to: did it get a finding? Groups of orders sharing an attribute "
        "(or a pair seen on the same leg, e.g. firmware x model) are tested against all others (one-sided Fisher "
        "exact test, corrected for the number of groups: Holm or Benjamini-Hochberg). Groups explained by a cause "
        "are listed separately. Reads the whole log, so answers are cached until the log moves.",
    )
    async def get_root_causes(
        request: Request,
        monitor: str,
        who: Annotated[Caller, Depends(caller)],
        *,
        min_support: Annotated[int, Query(ge=2, le=1_000_000, description="orders a group needs")] = 30,
        min_hits: Annotated[int, Query(ge=1, le=1_000_000, description="orders with the finding a group needs")] = 3,
        alpha: Annotated[float, Query(gt=0, lt=1, description="significance after correction")] = 0.01,
        correction: Annotated[Literal["holm", "bh"], Query(description="holm or bh")] = "holm",
        min_lift: Annotated[float, Query(ge=1, le=1000, description="rate inside / rate elsewhere")] = 2.0,
    ) -> JSON:
        _readers(who)
        m = chosen.get(monitor)
        if m is None:
            raise NotFound(f"there is no monitor {monitor}; GET /v1/monitors lists them")
        svc = services(request)
        settings = Settings(
            min_support=min_support, min_hits=min_hits, alpha=alpha, correction=correction, min_lift=min_lift
        )
        key = (monitor, settings, svc.store.last_position())
        with lock:
            hit = cache.get(key)
        if hit is None:

            def compute() -> dict[str, Any]:
                found = profiles_from_store(svc.store, svc.dictionary, m)
                return root_causes(found, m, svc.dictionary, settings).document()

            hit = await run_in_threadpool(compute)
            with lock:
                if len(cache) >= _CACHED:
                    cache.pop(next(iter(cache)))
                cache[key] = hit
        return JSON(hit)

    return r
