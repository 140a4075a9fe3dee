"""HTTP routes of the federated query: read-only SQL over the log's tables, the facts and the role's sources."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON
from orderloom.api.valuestream_routes import valuestream
from orderloom.core.errors import Problem, ValidationFailed

QUERY_EXAMPLE = {
    "sql": "SELECT channel, count(*) AS orders FROM orders GROUP BY channel ORDER BY orders DESC",
    "limit": 100,
}


def router() -> APIRouter:
    """POST /v1/query and GET /v1/query/sources."""
    r = APIRouter(prefix="/v1", tags=["query"])

    @r.post(
        "/query",
        summary="Run one read-only SQL query (DuckDB) over the log's tables, facts and your allowed sources",
        description="Only a single SELECT (or WITH ... SELECT) is accepted; anything that writes, attaches, loads or "
        "reads files outside your sources is refused with 422 and the rule. `limit` (rows) and `timeout_s` may "
        "lower the server's limits, never raise them; `truncated` says whether rows were cut off.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}, "example": QUERY_EXAMPLE}},
            }
        },
        responses={200: {"description": "the rows"}, 403: {"description": "role"}, 422: {"description": "refused"}},
    )
    async def run_query(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        body = await json_body(request, services(request).settings.max_body_bytes)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", 'send {"sql": "SELECT ..."}')])
        unknown = sorted(set(body) - {"sql", "limit", "timeout_s"})
        if unknown:
            raise ValidationFailed(
                [Problem(k, "unknown_field", f"{k} is not a query option (use sql, limit, timeout_s)") for k in unknown]
            )
        vs = await run_in_threadpool(valuestream, request)
        answer = await run_in_threadpool(
            lambda: vs.engine.run(body.get("sql"), who.role, limit=body.get("limit"), seconds=body.get("timeout_s"))
        )
        return JSON(answer.as_dict())

    @r.get("/query/sources", summary="The tables, contract views and external sources your role may query")
    async def list_sources(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        vs = await run_in_threadpool(valuestream, request)
        return JSON(await run_in_threadpool(vs.engine.sources_for, who.role))

    return r
