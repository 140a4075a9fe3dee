"""HTTP routes of dwell analytics: percentiles by node x stage as a heatmap, exports, and the status lens."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse

from orderloom.api.auth import Caller, caller, services
from orderloom.api.responses import JSON
from orderloom.bootstrap import Services
from orderloom.core.errors import Forbidden, NotFound, Problem, ValidationFailed
from orderloom.status.analytics.duck import DuckDBDwellAnalytics
from orderloom.status.analytics.heatmap import heatmap
from orderloom.status.analytics.lens import order_lens
from orderloom.status.analytics.port import EXPORT_ROWS, FORMATS, DwellAnalytics
from orderloom.status.analytics.query import DwellQuery, parse_dwell_query
from orderloom.status.analytics.visibility import role_mask
from orderloom.status.intake import ref_key

# Aggregates name no customer and no personal field, so customer service may read them; raw exports are staff-only.
READERS = ("cs", "ops", "admin")
EXPORTERS = ("ops", "admin")
MEDIA = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}

By = Annotated[str | None, Query(description="hour (of day, 0-23) or day")]
Metric = Annotated[str | None, Query(description="the percentile in the heatmap cells: p50, p90 (default) or p99")]
Stage = Annotated[str | None, Query(description="only steps in this dictionary stage, e.g. warehouse")]
Node = Annotated[str | None, Query(description="only steps at this node, e.g. SH-CW-01")]
From = Annotated[str | None, Query(alias="from", description="steps that started at or after: date or RFC 3339")]
To = Annotated[str | None, Query(alias="to", description="steps that started before (a date counts whole)")]
Tz = Annotated[str | None, Query(description="time zone of hours and days (default Asia/Shanghai)")]


def _allow(who: Caller, roles: tuple[str, ...]) -> None:
    if who.role not in roles:
        raise Forbidden(f"the {who.role} role may not read dwell analytics (roles allowed: {', '.join(roles)})")


def router() -> APIRouter:
    """Routes under /v1/analytics and the lens under /v1/orders; the DuckDB model is built on first use."""
    r = APIRouter(prefix="/v1", tags=["analytics"])
    lock = threading.Lock()

    def analytics(request: Request) -> DwellAnalytics:
        with lock:
            model: DwellAnalytics | None = getattr(request.app.state, "analytics", None)
            if model is None:
                svc = services(request)
                model = DuckDBDwellAnalytics(svc.store, svc.dictionary)
                request.app.state.analytics = model
            return model

    def query(
        svc: Services,
        *,
        by: str | None,
        metric: str | None,
        stage: str | None,
        node: str | None,
        start: str | None,
        end: str | None,
        tz: str | None,
    ) -> DwellQuery:
        return parse_dwell_query(
            svc.dictionary, by=by, metric=metric, stage=stage, node=node, start=start, end=end, tz=tz
        )

    @r.get(
        "/analytics/dwell",
        summary="Dwell percentiles per node x stage by hour of day or by day, shaped for a heatmap",
        description="Each step is the time an order spent after one event until its next. Rows are node x stage "
        "(with count, p50, p90, p99 over the whole range), columns hours 0-23 or days; `values` holds the chosen "
        "percentile in seconds, `counts` the steps per cell, `data` [column, row, value, count] for ECharts.",
    )
    async def dwell(
        request: Request,
        *,
        who: Annotated[Caller, Depends(caller)],
        by: By = None,
        metric: Metric = None,
        stage: Stage = None,
        node: Node = None,
        start: From = None,
        end: To = None,
        tz: Tz = None,
    ) -> JSON:
        _allow(who, READERS)
        svc = services(request)
        q = query(svc, by=by, metric=metric, stage=stage, node=node, start=start, end=end, tz=tz)
        model = analytics(request)
        loaded = await run_in_threadpool(model.refresh)
        cells = await run_in_threadpool(model.dwell, q, role_mask(svc.dictionary, who.role).types)
        return JSON({**heatmap(cells, q, svc.dictionary), "position": loaded.position})

    @r.get(
        "/analytics/dwell/export",
        summary="Download the dwell aggregates (or the steps themselves) as Parquet or CSV for BI tools",
    )
    async def export(
        request: Request,
        *,
        who: Annotated[Caller, Depends(caller)],
        format: Annotated[str, Query(description="parquet or csv")] = "parquet",
        rows: Annotated[str, Query(description="dwell (aggregates per bucket) or steps (one row per step)")] = "dwell",
        by: By = None,
        metric: Metric = None,
        stage: Stage = None,
        node: Node = None,
        start: From = None,
        end: To = None,
        tz: Tz = None,
    ) -> FileResponse:
        _allow(who, EXPORTERS)
        svc = services(request)
        problems = []
        if format not in FORMATS:
            problems.append(Problem("format", "enum", f"format must be parquet or csv, not {format!r}"))
        if rows not in EXPORT_ROWS:
            problems.append(Problem("rows", "enum", f"rows must be dwell or steps, not {rows!r}"))
        if problems:
            raise ValidationFailed(problems)
        q = query(svc, by=by, metric=metric, stage=stage, node=node, start=start, end=end, tz=tz)
        model = analytics(request)
        await run_in_threadpool(model.refresh)
        fd, name = tempfile.mkstemp(prefix="orderloom-dwell-", suffix=f".{format}")
        os.close(fd)
        path = Path(name)
        try:
            await run_in_threadpool(
                lambda: model.export(q, path, fmt=format, rows=rows, types=role_mask(svc.dictionary, who.role).types)
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        filename = f"dwell-{rows}-{q.by if rows == 'dwell' else 'all'}.{format}"
        return FileResponse(
            path, media_type=MEDIA[format], filename=filename, background=BackgroundTask(path.unlink, missing_ok=True)
        )

    @r.get(
        "/orders/{oid}/lens",
        summary="The status lens: each step against its typical duration, and where the order is waiting",
        description="Steps carry their duration and the typical p50/p90 of the same step over all orders (at the "
        "same node when there are enough of them there), flagged `slow` above p90. `waiting` shows each open "
        "shipment's last event, the time since it, the expected next events (usual next steps and the dictionary's "
        "timers) and whether it is over the typical p90: `stuck`. With `system`, `oid` is that system's order number.",
    )
    async def lens(
        request: Request,
        oid: str,
        who: Annotated[Caller, Depends(caller)],
        role: Annotated[str | None, Query(description="look through another role's eyes (cs, ops, admin)")] = None,
        system: Annotated[
            str | None, Query(max_length=64, description="treat the id as this system's order number, e.g. erp")
        ] = None,
    ) -> JSON:
        view_role = who.view_role(role)
        svc = services(request)
        if system is not None:
            found = await run_in_threadpool(svc.store.resolve, ref_key(system, oid))
            if found is None:
                raise NotFound(f"no order is linked to {system} order number {oid}")
            oid = found
        doc = await run_in_threadpool(
            lambda: order_lens(
                svc.reader,
                analytics(request),
                oid,
                view_role,
                now=svc.clock.now(),
                customer_scope=who.customer_scope,
            )
        )
        return JSON(doc)

    return r
