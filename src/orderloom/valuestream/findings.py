"""One value-stream finding with what it set in motion: the playbook runs it started and their tasks, as now.

A finding is a detector firing or an at-risk customer. Its runs are read from
the finding's own stream (a run's events go on its trigger's stream), its tasks
from their own streams, so the answer is exact the moment the events are
stored, without waiting for any view.
"""

from __future__ import annotations

from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.errors import NotFound
from orderloom.playbook.tasks import read_task
from orderloom.valuestream.tables import FINDINGS, RUN_FINISHED, RUN_STARTED, STEP_DONE


def _shown(svc: Services, role: str, etype: str, data: dict[str, Any]) -> dict[str, Any]:
    """The finding's data with only the fields the dictionary grants the role."""
    view = svc.dictionary.types[etype].view(role)
    return {k: v for k, v in data.items() if view.grants(k)}


def finding(svc: Services, finding_id: str, role: str) -> dict[str, Any]:
    """The finding, its runs (playbook, outcome, the tasks owed and created) and its tasks with their state."""
    event = svc.store.get(finding_id)
    if event is None or event.type not in FINDINGS:
        raise NotFound(f"there is no detector firing or at-risk customer {finding_id}")
    runs: dict[str, dict[str, Any]] = {}
    for e in svc.store.read_stream(event.oid):
        d = e.data
        if e.type == RUN_STARTED and (d.get("trigger") or {}).get("id") == finding_id:
            runs[d["run"]] = {
                "run": d["run"],
                "playbook": d["playbook"],
                "version": d["version"],
                "started_at": e.time,
                "outcome": "running",
                "tasks": [],
                "failed_steps": [],
            }
        elif e.type == STEP_DONE and d.get("run") in runs and d.get("type") == "create_task":
            run = runs[d["run"]]
            if d.get("status") == "done":
                run["tasks"].append((d.get("output") or {}).get("task_id"))
            elif d.get("status") == "failed":
                run["failed_steps"].append({"step": d.get("step"), "reason": d.get("reason")})
        elif e.type == RUN_FINISHED and d.get("run") in runs:
            runs[d["run"]].update(outcome=d.get("outcome"), finished_at=e.time)
    tasks = []
    for run in runs.values():
        for task_id in run["tasks"]:
            try:
                tasks.append(read_task(svc.intake, str(task_id)))
            except NotFound:
                continue  # the step says done but its task is not there: it counts as missing below
        run["tasks_owed"] = len(run["tasks"]) + len(run["failed_steps"])
    created = len(tasks)
    owed = sum(r["tasks_owed"] for r in runs.values())
    return {
        "id": event.id,
        "type": event.type,
        "stream": event.oid,
        "time": event.time,
        "data": _shown(svc, role, event.type, event.data),
        "runs": list(runs.values()),
        "tasks": tasks,
        "tasks_owed": owed,
        "tasks_created": created,
        "outcome": _outcome(list(runs.values()), owed, created),
    }


def _outcome(runs: list[dict[str, Any]], owed: int, created: int) -> str:
    """As the trigger success rate counts it (without the grace period: `none_yet` while nothing ran)."""
    if not runs:
        return "none_yet"
    if any(r["outcome"] == "running" for r in runs):
        return "pending"
    return "succeeded" if all(r["outcome"] == "done" for r in runs) and created >= owed else "failed"
