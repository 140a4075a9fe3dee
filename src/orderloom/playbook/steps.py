"""What each step type does, as a function of the run's context and the facts it may read.

`perform` writes nothing: it returns the step's outcome and, for steps that
act on the world, the event that records the act. The runner writes both in
one transaction; a dry run (golden tests) only looks at them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderloom.core.envelope import format_time, parse_time
from orderloom.playbook.document import Step, duration
from orderloom.playbook.expressions import StepFailed, evaluate, render
from orderloom.playbook.ids import effect_id, task_id, task_stream

SIGNAL_EVENT = "signal.reported"

Query = Callable[[str, str, Callable[[dict[str, Any]], bool]], dict[str, Any] | None]
"""(stream, event type, accept) -> the latest accepted event of that type on that stream, as a dict, or None."""


@dataclass(frozen=True, slots=True)
class RunKey:
    """Which run a step belongs to."""

    run: str
    playbook: str
    version: int

    def source(self, step: str) -> dict[str, Any]:
        """Where an act came from, stored with it."""
        return {"playbook": self.playbook, "version": self.version, "run": self.run, "step": step}


@dataclass(frozen=True, slots=True)
class Effect:
    """An event a step appends to change the world: a task, a notification, a command."""

    id: str
    type: str
    stream: str
    data: dict[str, Any]
    time: str | None = None  # when it happened, if not when the step ran (an emitted event may say)


@dataclass(slots=True)
class Outcome:
    """The result of one step."""

    step: Step
    status: str  # done | skipped | failed
    inputs: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    branch: str | None = None
    reason: str = ""
    effect: Effect | None = None


def perform(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    """Carry out `step` in `context`; a StepFailed becomes a failed outcome naming the step."""
    try:
        return _PERFORM[step.type](step, context, query, key, now)
    except StepFailed as exc:
        return Outcome(step, "failed", reason=f"step {step.id}: {exc}"[:500])


def _query(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    signal = step.spec.get("signal")
    event_type = SIGNAL_EVENT if signal else step.spec["event"]
    stream = render(step.spec.get("stream"), context) if step.spec.get("stream") else None
    if not stream:
        stream = f"sig.{signal}" if signal else context["trigger"]["oid"]
    where = step.spec.get("where")

    def accept(event: dict[str, Any]) -> bool:
        if where is None:
            return True
        return evaluate(where, {**context, "event": event}) is True

    inputs = {"stream": stream, "event": event_type, **({"where": where} if where else {})}
    counted: dict[str, Any] = {}
    if step.spec.get("within"):
        inputs["within"] = step.spec["within"]
        found, count = _window(step, context, query, (str(stream), event_type, accept))
        counted["count"] = count
    else:
        found = query(str(stream), event_type, accept)
    if found is None:
        return Outcome(step, "done", inputs, {"found": False, **counted})
    output = {"found": True, **counted, **{k: found[k] for k in ("id", "type", "time", "data")}}
    if signal:
        # A signal counts only while its time-to-live lasts, as the router sees it.
        data = found["data"]
        expires = _plus(data.get("time", found["time"]), float(data.get("ttl_s", 0)))
        output["in_force"] = expires > format_time(now)
    return Outcome(step, "done", inputs, output)


def _window(
    step: Step,
    context: dict[str, Any],
    query: Query,
    what: tuple[str, str, Callable[[dict[str, Any]], bool]],
) -> tuple[dict[str, Any] | None, int]:
    """The latest matching event in the window before the trigger, and how many matched in it."""
    # The window ends at the trigger's own time, not the clock's: a run resumed later counts the same.
    until = parse_time(context["trigger"]["time"])
    since = until - duration(step.spec["within"])
    stream, event_type, accept = what
    matched: list[dict[str, Any]] = []

    def collect(event: dict[str, Any]) -> bool:
        try:
            when = parse_time(event["time"])
        except ValueError:
            return False
        if since < when <= until and accept(event):
            matched.append(event)
        return False  # keep reading: the query hands events newest first until one is taken

    query(stream, event_type, collect)
    return (matched[0] if matched else None), len(matched)


def _branch(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    value = evaluate(step.spec["if"], context)
    if not isinstance(value, bool):
        raise StepFailed(f"the condition gave {value!r}, not true or false; check the field names it reads")
    taken = "then" if value else "else"
    return Outcome(step, "done", {"if": step.spec["if"]}, {"value": value, "taken": taken}, branch=taken)


def _task(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    tid = task_id(key.run, key.version, step.id)
    oid = render(step.spec.get("oid"), context) if step.spec.get("oid") else context["trigger"]["oid"]
    data = {
        "task_id": tid,
        "team": step.spec["team"],
        "title": _text(render(step.spec["title"], context)),
        "priority": step.spec.get("priority", "normal"),
        "due": format_time(now + duration(step.spec["due_in"])),
        "state": "open",
        "oid": str(oid),
        "evidence": render(step.spec.get("evidence", {}), context),
        "source": key.source(step.id),
    }
    if step.spec.get("owner"):
        data["owner"] = _owner(render(step.spec["owner"], context))
    effect = Effect(effect_id(key.run, key.version, step.id, "task"), "task.created", task_stream(tid), data)
    inputs = {k: data[k] for k in ("team", "title", "priority", "due", "oid", "evidence")}
    output = {"task_id": tid, "team": data["team"], "due": data["due"], "priority": data["priority"]}
    return Outcome(step, "done", inputs, output, effect=effect)


def _notify(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    nid = effect_id(key.run, key.version, step.id, "note")
    data = {
        "notification_id": nid,
        "channel": step.spec["channel"],
        "audience": step.spec["audience"],
        "message": _text(render(step.spec["message"], context)),
        "oid": context["trigger"]["oid"],
        "source": key.source(step.id),
    }
    effect = Effect(nid, "notification.sent", context["trigger"]["oid"], data)
    inputs = {k: data[k] for k in ("channel", "audience", "message")}
    return Outcome(step, "done", inputs, {"notification_id": nid, "channel": data["channel"]}, effect=effect)


def _command(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    cid = effect_id(key.run, key.version, step.id, "cmd")
    target = render(step.spec.get("target"), context) if step.spec.get("target") else context["trigger"]["oid"]
    args = render(step.spec.get("args", {}), context)
    data = {"command_id": cid, "command": step.spec["command"], "target": str(target), "args": args}
    data["source"] = key.source(step.id)
    # The command goes on the stream of what it is about, so that order's chain shows it.
    effect = Effect(cid, "command.issued", str(target), data)
    inputs = {"command": data["command"], "target": data["target"], "args": args}
    return Outcome(step, "done", inputs, {"command_id": cid, "command": data["command"]}, effect=effect)


def _event(step: Step, context: dict[str, Any], query: Query, key: RunKey, now: datetime) -> Outcome:
    eid = effect_id(key.run, key.version, step.id, "evt")
    stream = render(step.spec.get("stream"), context) if step.spec.get("stream") else context["trigger"]["oid"]
    data = render(step.spec["data"], context)
    if not isinstance(data, dict):
        raise StepFailed("data did not give an object of fields")
    when = render(step.spec["time"], context) if step.spec.get("time") else None
    # The dictionary checks the event when the runner records it; a refused one fails the step with the reason.
    effect = Effect(eid, step.spec["event"], str(stream), data, str(when) if when else None)
    inputs = {"event": step.spec["event"], "stream": str(stream), **({"time": str(when)} if when else {})}
    return Outcome(step, "done", inputs, {"event_id": eid, "event": step.spec["event"], "data": data}, effect=effect)


def _owner(value: Any) -> str | None:
    # An owner template that finds nobody (a missing field) leaves the task to be picked up by the team.
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:128] or None


def _text(value: Any) -> dict[str, str]:
    # Titles and messages are shown to people; keep them short and always text.
    return {lang: str(value.get(lang, ""))[:500] for lang in ("zh", "en")}


def _plus(time_text: str, seconds: float) -> str:
    try:
        return format_time(parse_time(time_text) + timedelta(seconds=seconds))
    except ValueError:
        return ""


_PERFORM: dict[str, Callable[[Step, dict[str, Any], Query, RunKey, datetime], Outcome]] = {
    "query": _query,
    "branch": _branch,
    "create_task": _task,
    "notify": _notify,
    "emit_command": _command,
    "emit_event": _event,
}
