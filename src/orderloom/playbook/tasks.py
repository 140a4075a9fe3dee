"""Tasks for teams: created by playbooks, moved along by people, each change an event.

A task's history is its own stream (`sys.task.<id>`); the `pb_tasks` view
holds the current state of every task, keyed `team/task_id` so one team's
tasks are one key range.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.playbook.ids import task_stream
from orderloom.status.intake import Intake
from orderloom.views.port import Doc, ViewStore

VIEW = "pb_tasks"
STATES = ("open", "in_progress", "done", "cancelled")
OPEN_STATES = ("open", "in_progress")
# Where a task may go next; done and cancelled are final (a comment can still be added).
MOVES: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "done", "cancelled"),
    "in_progress": ("open", "done", "cancelled"),
    "done": (),
    "cancelled": (),
}
MAX_COMMENTS = 50
_TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,50}$")


def view_key(team: str, task: str) -> str:
    """The task's key in the view."""
    return f"{team}/{task}"


def apply_task(doc: Doc | None, e: StoredEvent) -> Doc:
    """A task after one of its events: a pure fold."""
    d = e.data
    if e.type == "task.created":
        return {
            "task_id": d["task_id"],
            "team": d["team"],
            "title": d["title"],
            "priority": d.get("priority", "normal"),
            "due": d["due"],
            "state": d.get("state", "open"),
            "owner": d.get("owner"),
            "oid": d.get("oid"),
            "evidence": d.get("evidence", {}),
            "source": d.get("source"),
            "created_at": e.time,
            "updated_at": e.time,
            "comments": [],
        }
    task = dict(doc or {"task_id": d["task_id"], "team": d["team"], "comments": []})
    task["state"] = d.get("state", task.get("state", "open"))
    if "owner" in d:
        task["owner"] = d["owner"]
    if d.get("comment"):
        comment = {"time": e.time, "actor": e.actor, "text": d["comment"], "state": task["state"]}
        task["comments"] = [*task.get("comments", []), comment][-MAX_COMMENTS:]
    task["updated_at"] = e.time
    return task


def with_overdue(task: Doc, now: datetime) -> Doc:
    """The task with `overdue`: still open and past its due time."""
    return {**task, "overdue": task.get("state") in OPEN_STATES and task.get("due", "9") < format_time(now)}


def read_task(intake: Intake, task: str) -> Doc:
    """The task's current state, folded from its own stream; NotFound when there is no such task."""
    events = intake.store.read_stream(task_stream(task)) if _TASK_ID.match(task) else []
    doc: Doc | None = None
    for e in events:
        if e.type in ("task.created", "task.updated"):
            doc = apply_task(doc, e)
    if doc is None:
        raise NotFound(f"there is no task {task}")
    return with_overdue(doc, intake.clock.now())


def list_tasks(
    views: ViewStore,
    now: datetime,
    *,
    team: str | None = None,
    state: str | None = None,
    overdue: bool | None = None,
    limit: int = 200,
) -> list[Doc]:
    """Tasks from the view, filtered, earliest due first."""
    out = []
    after = f"{team}/" if team else None
    while True:
        page = views.scan(VIEW, 500, after)
        for key, doc in page:
            if team and not key.startswith(f"{team}/"):
                page = []
                break
            task = with_overdue(doc, now)
            if (state is None or task["state"] == state) and (overdue is None or task["overdue"] == overdue):
                out.append(task)
        if len(page) < 500:
            break
        after = page[-1][0]
    out.sort(key=lambda t: (t["state"] not in OPEN_STATES, t.get("due", ""), t["task_id"]))
    return out[:limit]


def update_task(intake: Intake, task: str, body: Any, *, actor: str) -> Doc:
    """Move a task to another state, (un)assign it or comment on it; ValidationFailed names the field."""
    current = read_task(intake, task)
    change = _change(current, body)
    raw = {
        "id": f"tu-{ulid()}",
        "type": "task.updated",
        "source": "orderloom/tasks",
        "oid": task_stream(task),
        "time": format_time(intake.clock.now()),
        "actor": actor,
        "data": {"task_id": task, "team": current["team"], "from_state": current["state"], **change},
    }
    result = intake.record([raw], allow_internal=True)[0]
    if result.status == "rejected":
        raise ValidationFailed(result.problems)
    return read_task(intake, task)


def _change(current: Doc, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed([Problem("(body)", "type", 'send a JSON object such as {"state": "in_progress"}')])
    problems = [
        Problem(k, "unknown_field", f"{k!r} cannot be changed on a task; send state, owner or comment")
        for k in sorted(set(body) - {"state", "owner", "comment"})
    ]
    if not {"state", "owner", "comment"} & set(body):
        problems.append(Problem("state", "required", "send at least one of state, owner or comment"))
    state = body.get("state", current["state"])
    closed = current["state"] not in OPEN_STATES
    if "state" in body:
        if state not in STATES:
            problems.append(Problem("state", "enum", f"state must be one of {', '.join(STATES)}"))
        elif state != current["state"] and state not in MOVES[current["state"]]:
            problems.append(
                Problem(
                    "state",
                    "transition",
                    f"the task is {current['state']}; it cannot become {state}"
                    + (" (a closed task takes only comments)" if closed else ""),
                )
            )
    owner = body.get("owner")
    if "owner" in body:
        if owner is not None and (not isinstance(owner, str) or not owner.strip() or len(owner) > 128):
            problems.append(Problem("owner", "format", "owner is the person's name or id (at most 128), or null"))
        elif closed and owner != current.get("owner"):
            problems.append(Problem("owner", "transition", f"the task is {current['state']}; it cannot be reassigned"))
    comment = body.get("comment")
    if "comment" in body and (not isinstance(comment, str) or not comment.strip() or len(comment) > 2000):
        problems.append(Problem("comment", "format", "comment must be a text of 1 to 2000 characters"))
    if problems:
        raise ValidationFailed(problems)
    change: dict[str, Any] = {"state": state}
    if "owner" in body:
        change["owner"] = owner.strip() if isinstance(owner, str) else None
    if "comment" in body:
        change["comment"] = str(comment).strip()
    return change
