"""The playbook document: a trigger and ordered steps, checked so nothing fails silently at run time.

```
{"label": {"zh": ..., "en": ...},
 "trigger": {"event": "monitor.finding_opened", "when": ["trigger.data.monitor == 'linehaul_stall'"]},
 "params": {"limit_c": 8},
 "steps": [{"id": "reading", "type": "query", "event": "coldchain.temperature_recorded"},
           {"id": "too_warm", "type": "branch", "if": "...", "then": ["compensate"], "else": ["call_driver"]},
           ...]}
```

Steps run in document order. A step named in a branch's `then` or `else`
runs only when that branch ran and took that side; every other step always
runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.playbook.expressions import expression_problem, step_references, template_problem

STEP_TYPES = ("query", "branch", "create_task", "notify", "emit_command", "emit_event")
COMMANDS = ("reroute", "start_compensation", "pause_intake", "resume_intake", "hold_order", "expedite")
CHANNELS = ("console", "email", "sms", "wecom", "dingtalk", "webhook")
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_STEPS = 50
# An emit_event step records facts a playbook derives (a kitting rate, a new promise), never the
# system's own bookkeeping: runs, tasks, commands, policies and orders have their own writers.
_RESERVED_EVENTS = ("playbook.", "task.", "policy.", "apikey.", "pack.", "command.", "notification.")
_RESERVED_TYPES = ("order.placed",)

_STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TEAM = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_TYPE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|h|d)$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
_FIELDS: dict[str, set[str]] = {
    "query": {"event", "signal", "stream", "where", "within"},
    "branch": {"if", "then", "else"},
    "create_task": {"team", "title", "due_in", "priority", "evidence", "oid", "owner"},
    "notify": {"channel", "audience", "message"},
    "emit_command": {"command", "args", "target"},
    "emit_event": {"event", "stream", "data", "time"},
}
_COMMON = {"id", "type", "label"}


@dataclass(frozen=True, slots=True)
class Step:
    """One step: its id, type, the rest of its spec, and the branch side it depends on (if any)."""

    id: str
    type: str
    spec: dict[str, Any]
    guard: tuple[str, str] | None = None  # (branch step id, "then" | "else")


@dataclass(frozen=True, slots=True)
class Playbook:
    """A parsed, linted playbook document."""

    event: str
    when: tuple[str, ...]
    steps: tuple[Step, ...]
    params: dict[str, Any] = field(default_factory=dict)
    label: dict[str, str] = field(default_factory=dict)


def duration(text: str) -> timedelta:
    """A duration such as `30m`, `4h` or `2d`; ValueError when it is not one."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 4h or 2d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse(document: Any) -> Playbook:
    """The playbook in `document`; ValidationFailed listing every problem when it is not valid."""
    if problems := document_problems(document):
        raise ValidationFailed(problems)
    guards = _guards(document["steps"])
    trigger = document["trigger"]
    return Playbook(
        event=trigger["event"],
        when=tuple(trigger.get("when") or ()),
        steps=tuple(
            Step(s["id"], s["type"], {k: v for k, v in s.items() if k not in ("id", "type")}, guards.get(s["id"]))
            for s in document["steps"]
        ),
        params=dict(document.get("params") or {}),
        label=dict(document.get("label") or {}),
    )


def document_problems(document: Any) -> list[Problem]:
    """Every problem that should stop this playbook document from being saved."""
    if not isinstance(document, dict):
        return [Problem("document", "structure", "a playbook must be a JSON object with a trigger and steps")]
    problems = _trigger(document.get("trigger"))
    params = document.get("params", {})
    if not isinstance(params, dict):
        problems.append(Problem("params", "type", 'params must be an object of constants, e.g. {"limit_c": 8}'))
    if "label" in document:
        problems += _label(document["label"], "label")
    unknown = sorted(set(document) - {"trigger", "steps", "params", "label", "description"})
    problems += [Problem(k, "unknown_field", f"{k!r} is not part of a playbook") for k in unknown]
    steps = document.get("steps")
    if not isinstance(steps, list) or not steps:
        return [*problems, Problem("steps", "structure", "a playbook needs at least one step")]
    if len(steps) > MAX_STEPS:
        problems.append(Problem("steps", "size", f"a playbook has at most {MAX_STEPS} steps; split it"))
    order: dict[str, int] = {}
    for i, step in enumerate(steps):
        sid = step.get("id") if isinstance(step, dict) else None
        if isinstance(sid, str) and _STEP_ID.match(sid):
            if sid in order:
                problems.append(Problem(f"step {sid} / id", "unique", f"two steps are called {sid!r}; rename one"))
            order.setdefault(sid, i)
    for i, step in enumerate(steps):
        problems += _step(i, step, order)
    problems += _branches(steps, order)
    return problems


def _trigger(trigger: Any) -> list[Problem]:
    if not isinstance(trigger, dict):
        return [Problem("trigger", "structure", 'a playbook needs a trigger like {"event": "monitor.finding_opened"}')]
    problems = []
    event = trigger.get("event")
    if not isinstance(event, str) or not _TYPE_ID.match(event):
        problems.append(
            Problem("trigger / event", "format", "event must be an event type such as monitor.finding_opened")
        )
    elif event.startswith("playbook."):
        problems.append(
            Problem("trigger / event", "loop", "a playbook cannot start on playbook events; that would run in circles")
        )
    when = trigger.get("when", [])
    if not isinstance(when, list) or not all(isinstance(w, str) and w.strip() for w in when):
        problems.append(Problem("trigger / when", "type", "when must be a list of conditions (expressions)"))
        when = []
    for i, cond in enumerate(when):
        if reason := expression_problem(cond):
            problems.append(
                Problem(f"trigger / when[{i}]", "expression", f"{cond!r} is not a valid condition: {reason}")
            )
        elif step_references(cond):
            problems.append(
                Problem(f"trigger / when[{i}]", "reference", "a trigger condition cannot read step results")
            )
    unknown = sorted(set(trigger) - {"event", "when"})
    problems += [Problem(f"trigger / {k}", "unknown_field", f"{k!r} is not part of a trigger") for k in unknown]
    return problems


def _step(i: int, step: Any, order: dict[str, int]) -> list[Problem]:
    if not isinstance(step, dict):
        return [Problem(f"step {i + 1}", "structure", "each step must be an object with an id and a type")]
    sid = step.get("id")
    if not isinstance(sid, str) or not _STEP_ID.match(sid):
        return [
            Problem(
                f"step {i + 1} / id",
                "format",
                "a step id is 1-40 lower-case letters, digits or _, starting with a letter",
            )
        ]
    where = f"step {sid}"
    kind = step.get("type")
    if kind not in STEP_TYPES:
        return [Problem(f"{where} / type", "enum", f"type must be one of {', '.join(STEP_TYPES)}, not {kind!r}")]
    problems = [
        Problem(
            f"{where} / {k}",
            "unknown_field",
            f"{k!r} is not a field of a {kind} step ({', '.join(sorted(_FIELDS[kind]))})",
        )
        for k in sorted(set(step) - _FIELDS[kind] - _COMMON)
    ]
    if "label" in step:
        problems += _label(step["label"], f"{where} / label")
    problems += {
        "query": _query,
        "branch": _branch,
        "create_task": _task,
        "notify": _notify,
        "emit_command": _command,
        "emit_event": _event,
    }[kind](where, step)
    problems += _references(where, step, i, order)
    return problems


def _query(where: str, step: dict[str, Any]) -> list[Problem]:
    problems = []
    event, signal = step.get("event"), step.get("signal")
    if (event is None) == (signal is None):
        problems.append(
            Problem(f"{where} / event", "required", "a query reads either an event type (event) or a signal (signal)")
        )
    if event is not None and (not isinstance(event, str) or not _TYPE_ID.match(event)):
        problems.append(
            Problem(f"{where} / event", "format", "event must be an event type such as coldchain.temperature_recorded")
        )
    if signal is not None and (not isinstance(signal, str) or not _TYPE_ID.match(signal)):
        problems.append(Problem(f"{where} / signal", "format", "signal must be a signal type such as node.backlog"))
    problems += _text(where, step, "stream", template=True, required=False)
    problems += _text(where, step, "where", template=False, required=False)
    if "within" in step:
        try:
            duration(step["within"])
        except ValueError:
            problems.append(Problem(f"{where} / within", "format", "within must be a duration like 30m, 4h or 2d"))
    return problems


def _branch(where: str, step: dict[str, Any]) -> list[Problem]:
    problems = _text(where, step, "if", template=False, required=True)
    for side in ("then", "else"):
        ids = step.get(side, [])
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            problems.append(Problem(f"{where} / {side}", "type", f"{side} must be a list of step ids"))
    if not step.get("then") and not step.get("else"):
        problems.append(Problem(f"{where} / then", "required", "a branch needs steps in then or else"))
    return problems


def _task(where: str, step: dict[str, Any]) -> list[Problem]:
    problems = []
    team = step.get("team")
    if not isinstance(team, str) or not _TEAM.match(team):
        problems.append(Problem(f"{where} / team", "format", "team must be a team name such as ops, cs or marketing"))
    problems += _label(step.get("title"), f"{where} / title", template=True)
    try:
        duration(step.get("due_in", ""))
    except ValueError:
        problems.append(Problem(f"{where} / due_in", "format", "due_in must be a duration like 30m, 4h or 2d"))
    if step.get("priority", "normal") not in PRIORITIES:
        problems.append(Problem(f"{where} / priority", "enum", f"priority must be one of {', '.join(PRIORITIES)}"))
    problems += _object(where, step, "evidence")
    problems += _text(where, step, "oid", template=True, required=False)
    problems += _text(where, step, "owner", template=True, required=False)
    return problems


def _notify(where: str, step: dict[str, Any]) -> list[Problem]:
    problems = []
    if step.get("channel") not in CHANNELS:
        problems.append(Problem(f"{where} / channel", "enum", f"channel must be one of {', '.join(CHANNELS)}"))
    audience = step.get("audience")
    if not isinstance(audience, str) or not audience.strip() or len(audience) > 64:
        problems.append(Problem(f"{where} / audience", "required", "audience names who is told, e.g. cs or customer"))
    problems += _label(step.get("message"), f"{where} / message", template=True)
    return problems


def _command(where: str, step: dict[str, Any]) -> list[Problem]:
    problems = []
    if step.get("command") not in COMMANDS:
        problems.append(Problem(f"{where} / command", "enum", f"command must be one of {', '.join(COMMANDS)}"))
    problems += _object(where, step, "args")
    problems += _text(where, step, "target", template=True, required=False)
    return problems


def _event(where: str, step: dict[str, Any]) -> list[Problem]:
    problems = []
    event = step.get("event")
    if not isinstance(event, str) or not _TYPE_ID.match(event):
        problems.append(
            Problem(f"{where} / event", "format", "event must be an event type such as mfg.kitting_computed")
        )
    elif event.startswith(_RESERVED_EVENTS) or event in _RESERVED_TYPES:
        problems.append(
            Problem(
                f"{where} / event",
                "reserved",
                f"{event} is written by Orderloom itself; use create_task, notify or emit_command for those acts",
            )
        )
    problems += _text(where, step, "stream", template=True, required=False)
    problems += _text(where, step, "time", template=True, required=False)
    if not isinstance(step.get("data"), dict):
        problems.append(Problem(f"{where} / data", "required", "data must be an object of the event's fields"))
    else:
        problems += _object(where, step, "data")
    return problems


def _label(value: Any, where: str, *, template: bool = False) -> list[Problem]:
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value[k].strip() for k in ("zh", "en")):
        return [Problem(where, "required", 'give the text in both languages: {"zh": "…", "en": "…"}')]
    problems = [
        Problem(f"{where}.{k}", "unknown_field", "only zh and en are used") for k in sorted(set(value) - {"zh", "en"})
    ]
    if template:
        for lang in ("zh", "en"):
            if reason := template_problem(value[lang]):
                problems.append(Problem(f"{where}.{lang}", "template", f"the text cannot be filled in: {reason}"))
    return problems


def _text(where: str, step: dict[str, Any], key: str, *, template: bool, required: bool) -> list[Problem]:
    value = step.get(key)
    if value is None:
        return [Problem(f"{where} / {key}", "required", f"{key} is required")] if required else []
    if not isinstance(value, str) or not value.strip():
        return [Problem(f"{where} / {key}", "type", f"{key} must be a non-empty text")]
    reason = template_problem(value) if template else expression_problem(value)
    if reason:
        what = "the text cannot be filled in" if template else f"{value!r} is not a valid expression"
        return [Problem(f"{where} / {key}", "template" if template else "expression", f"{what}: {reason}")]
    return []


def _object(where: str, step: dict[str, Any], key: str) -> list[Problem]:
    value = step.get(key, {})
    if not isinstance(value, dict):
        return [Problem(f"{where} / {key}", "type", f"{key} must be an object of names and values")]
    problems = []
    for name, text in _strings(value, f"{where} / {key}"):
        if reason := template_problem(text):
            problems.append(Problem(name, "template", f"the value cannot be filled in: {reason}"))
    return problems


def _strings(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _strings(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _strings(v, f"{where}[{i}]")]
    return []


def _references(where: str, step: dict[str, Any], index: int, order: dict[str, int]) -> list[Problem]:
    """A step may read only the results of steps that run before it."""
    problems = []
    for _, text in _strings({k: v for k, v in step.items() if k not in ("id", "type", "then", "else")}, where):
        for ref in sorted(step_references(text)):
            if order.get(ref, index) >= index:
                problems.append(
                    Problem(
                        where,
                        "reference",
                        f"reads steps.{ref}, but no step {ref!r} runs before this one; "
                        "a step can only use the results of earlier steps",
                    )
                )
    return problems


def _branches(steps: list[Any], order: dict[str, int]) -> list[Problem]:
    problems = []
    owner: dict[str, str] = {}
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("type") != "branch" or step.get("id") not in order:
            continue
        where = f"step {step['id']}"
        for side in ("then", "else"):
            ids = step.get(side, [])
            for target in ids if isinstance(ids, list) else []:
                if not isinstance(target, str):
                    continue
                if target not in order:
                    problems.append(Problem(f"{where} / {side}", "reference", f"there is no step {target!r}"))
                elif order[target] <= i:
                    problems.append(
                        Problem(
                            f"{where} / {side}", "order", f"step {target!r} must come after the branch that chooses it"
                        )
                    )
                elif target in owner:
                    problems.append(
                        Problem(
                            f"{where} / {side}",
                            "unique",
                            f"step {target!r} is already chosen by {owner[target]}; a step belongs to one branch side",
                        )
                    )
                else:
                    owner[target] = f"{step['id']} / {side}"
    return problems


def _guards(steps: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    guards: dict[str, tuple[str, str]] = {}
    for step in steps:
        if step["type"] == "branch":
            for side in ("then", "else"):
                for target in step.get(side, []):
                    guards[target] = (step["id"], side)
    return guards
