"""HTTP route of the sorting-centre backlog forecast: per centre, the forecast 6 h ahead, alerts and a chart series."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.responses import JSON
from orderloom.core.errors import Forbidden
from orderloom.routing.network import Network
from orderloom.status.forecast.board import Source, board
from orderloom.status.forecast.model import BacklogModel, load

READERS = ("ops", "admin")
MODEL_ENV = "ORDERLOOM_FORECAST_MODEL"
_NODE = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
_CACHED = 16
EXAMPLE: dict[str, Any] = {
    "at": "2026-02-15T16:00:00.000000Z",
    "horizon_hours": 6,
    "threshold_hours": 4.0,
    "model_version": "fluid+hgb-6h-v2:1a2b3c4d5e6f",
    "position": 123456,
    "source": "log",
    "nodes": [
        {
            "node": "SH-SC",
            "name": "上海分拨中心",
            "capacity_per_hour": 150.0,
            "threshold_orders": 600,
            "backlog_orders": 212,
            "backlog_hours": 1.413,
            "predicted": {
                "target_time": "2026-02-15T22:00:00.000000Z",
                "backlog_hours": 4.62,
                "backlog_orders": 693,
                "over": True,
                "drivers": [{"feature": "projected_4w_backlog_h", "value": 4.9, "effect_hours": 2.1}],
            },
            "open_alert": {
                "id": "fa:SH-SC:20260215T1500Z",
                "time": "2026-02-15T15:00:00.000000Z",
                "alert_id": "SH-SC:2026-02-15T15:00:00.000000Z",
                "node": "SH-SC",
                "target_time": "2026-02-15T21:00:00.000000Z",
                "predicted_backlog_hours": 4.31,
            },
            "series": [
                {
                    "time": "2026-02-15T16:00:00.000000Z",
                    "arrivals": 171,
                    "shipped": 150,
                    "backlog_orders": 212,
                    "backlog_hours": 1.413,
                    "forecast_hours": 1.2,
                }
            ],
            "ahead": [{"time": "2026-02-15T17:00:00.000000Z", "forecast_hours": 1.9}],
        }
    ],
}


def _readers(who: Caller) -> None:
    if who.role not in READERS:
        raise Forbidden(f"the {who.role} role may not read the backlog forecast (roles allowed: {', '.join(READERS)})")


def router(network: Network, model_path: str | None = None) -> APIRouter:
    """Route /v1/forecast over the app's log and network; the model file (default: $ORDERLOOM_FORECAST_MODEL) is
    read on first use. An app may set `app.state.forecast_source` to a board Source instead (the demo does)."""
    path = model_path if model_path is not None else os.environ.get(MODEL_ENV, "")
    r = APIRouter(prefix="/v1/forecast", tags=["forecast"])
    lock = threading.Lock()
    models: dict[str, BacklogModel | None] = {}
    # The board folds the whole log: keep the last answers per (source, log position, query).
    cache: dict[tuple[Any, ...], dict[str, Any]] = {}

    def model() -> BacklogModel | None:
        with lock:
            if path not in models:
                models[path] = load(Path(path)) if path else None
            return models[path]

    @r.get(
        "",
        summary="Each sorting centre's backlog forecast 6 h ahead, its threshold, open alert and hourly series",
        description="Folds the log up to its last whole hour. Per centre: backlog now, the forecast for "
        "`horizon_hours` ahead (with the features that drove it when it is over the threshold), the open "
        "`forecast.backlog_alert`, "
        "`series` (the last `hours` hours: arrivals, shipped, backlog, and what the model said about each hour "
        "`horizon_hours` before) and `ahead` (the forecasts for the next hours). `model_version` is null when no "
        "model is loaded (set ORDERLOOM_FORECAST_MODEL to a file from `orderloom forecast train --out`).",
        responses={
            200: {"description": "the forecast board", "content": {"application/json": {"example": EXAMPLE}}},
            403: {"description": "role not allowed (ops and admin only)"},
            404: {"description": "no such sorting centre in the log"},
            422: {"description": "a query parameter out of range"},
        },
    )
    async def get_forecast(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        *,
        hours: Annotated[int, Query(ge=1, le=336, description="hours of history in each series")] = 48,
        node: Annotated[str | None, Query(pattern=_NODE, description="only this sorting centre, e.g. SH-SC")] = None,
    ) -> JSON:
        _readers(who)
        svc = services(request)
        chosen = getattr(request.app.state, "forecast_source", None)
        if not isinstance(chosen, Source):
            chosen = Source(network, await run_in_threadpool(model), label="log")
        store = chosen.store if chosen.store is not None else svc.store
        version = chosen.model.version if chosen.model is not None else None
        key = (id(store), chosen.label, version, store.last_position(), hours, node)
        with lock:
            hit = cache.get(key)
        if hit is None:
            now = None if chosen.store is not None else svc.clock.now()

            def compute() -> dict[str, Any]:
                doc = board(store, chosen.network, chosen.model, hours=hours, node=node, now=now)
                return {**doc, "position": store.last_position(), "source": chosen.label}

            hit = await run_in_threadpool(compute)
            with lock:
                if len(cache) >= _CACHED:
                    cache.pop(next(iter(cache)))
                cache[key] = hit
        return JSON(hit)

    return r
