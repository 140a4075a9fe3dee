"""HTTP routes of playbooks and tasks: the teams' task lists, task updates, runs and the trigger success rate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON
from orderloom.core.errors import Forbidden, NotFound
from orderloom.playbook import list_tasks, read_task, update_task
from orderloom.playbook.runs import health, recent_runs, runs_on_stream

READERS = frozenset({"cs", "ops", "admin"})
WRITERS = frozenset({"cs", "ops", "admin"})
FINANCE = "finance"  # finance reads the tasks given to the finance team, nothing else
_LIMIT = 64 * 1024
_TEAM = r"^[a-z][a-z0-9_]{1,31}$"


def _readable_team(who: Caller, team: str | None) -> str | None:
    if who.role in READERS:
        return team
    if who.role == FINANCE and team in (None, FINANCE):
        return FINANCE
    raise Forbidden(f"the {who.role} role may not read tasks" + (f" of team {team}" if team else ""))


def _readers(who: Caller) -> None:
    if who.role not in READERS:
        raise Forbidden(f"the {who.role} role may not read playbook runs; ask ops or an admin")


def router() -> APIRouter:
    """Routes under /v1/tasks and /v1/playbooks; reading needs cs, ops or admin (finance: its own team's tasks)."""
    r = APIRouter(prefix="/v1", tags=["playbooks"])

    @r.get("/tasks", summary="Tasks for teams, earliest due first (open ones before closed ones)")
    async def get_tasks(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        *,
        team: Annotated[str | None, Query(pattern=_TEAM, description="e.g. cs, ops, marketing")] = None,
        state: Annotated[Literal["open", "in_progress", "done", "cancelled"] | None, Query()] = None,
        overdue: Annotated[bool | None, Query(description="only tasks past (or not past) their due time")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> JSON:
        svc = services(request)
        chosen = _readable_team(who, team)
        tasks = await run_in_threadpool(
            lambda: list_tasks(svc.views, svc.clock.now(), team=chosen, state=state, overdue=overdue, limit=limit)
        )
        return JSON({"tasks": tasks, "count": len(tasks)})

    @r.get("/tasks/{task_id}", summary="One task with its comments, read from its own history")
    async def get_task(request: Request, task_id: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        svc = services(request)
        task = await run_in_threadpool(read_task, svc.intake, task_id)
        if who.role not in READERS and not (who.role == FINANCE and task["team"] == FINANCE):
            raise NotFound(f"there is no task {task_id}")  # others may not even learn that it exists
        return JSON(task)

    @r.post(
        "/tasks/{task_id}",
        summary="Move a task along (state), assign it (owner) or comment on it",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "state": {"type": "string", "enum": ["open", "in_progress", "done", "cancelled"]},
                                "owner": {"type": ["string", "null"], "maxLength": 128},
                                "comment": {"type": "string", "maxLength": 2000},
                            },
                        },
                        "example": {"state": "in_progress", "owner": "王芳", "comment": "正在联系客户"},
                    }
                },
            }
        },
    )
    async def post_task(request: Request, task_id: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        if who.role not in WRITERS:
            raise Forbidden(f"the {who.role} role may not change tasks; ask cs, ops or an admin")
        svc = services(request)
        body = await json_body(request, _LIMIT)
        task = await run_in_threadpool(lambda: update_task(svc.intake, task_id, body, actor=f"key:{who.key.key_id}"))
        return JSON(task)

    @r.get("/playbooks/runs", summary="Playbook runs with their steps: one order's (oid), or the latest")
    async def get_runs(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        oid: Annotated[str | None, Query(min_length=1, max_length=64, description="the order (or stream)")] = None,
        playbook: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,63}$")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> JSON:
        _readers(who)
        svc = services(request)
        if oid is not None:
            runs: list[dict[str, Any]] = await run_in_threadpool(runs_on_stream, svc.store, oid)
            runs = [x for x in runs if playbook is None or x["playbook"] == playbook][-limit:]
        else:
            runs = await run_in_threadpool(recent_runs, svc.views, limit, playbook)
        return JSON({"runs": runs, "count": len(runs)})

    @r.get("/playbooks/health", summary="Trigger success rate: runs finished without error / runs started")
    async def get_health(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        _readers(who)
        return JSON(await run_in_threadpool(health, services(request).views))

    return r
