"""Golden tests for playbooks: a trigger and the facts its queries would find, and what the run must do.

A case is `{"name", "input": {"trigger": {"data": {...}}, "facts": {"<query step>": {"data": {...}}}},
"expect": {...}}`. `expect` may name any of: `starts` (whether the trigger
matches), `outcome` (done | failed), `path` (the steps that ran), `branches`
({branch id: then | else}), `commands`, `tasks` (teams) and `notify`
(audiences). A dry run writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orderloom.core.errors import Problem
from orderloom.playbook.document import Step, parse
from orderloom.playbook.plan import dry_run, matches
from orderloom.playbook.steps import Query, RunKey
from orderloom.policy.golden import GoldenResult
from orderloom.policy.model import GoldenCase, PolicyVersion
from orderloom.policy.schema import input_problems, schema_problems, validator_for

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # a fixed "now", so due times in a dry run never depend on the day
_EXPECTABLE = ("starts", "outcome", "path", "branches", "commands", "tasks", "notify", "events")


def run_playbook_golden(version: PolicyVersion) -> list[GoldenResult]:
    """Dry-run every golden test of a playbook version."""
    if not version.tests:
        return []
    if bad := schema_problems(version.input_schema):
        return [GoldenResult(c.name, False, tuple(bad)) for c in version.tests]
    playbook = parse(version.document)
    validator = validator_for(version.input_schema)
    results = []
    for case in version.tests:
        trigger = _trigger(case, playbook.event)
        refused = [
            Problem(
                f"test {case.name!r} / trigger.data" + ("" if p.field == "input" else f".{p.field}"), p.rule, p.message
            )
            for p in input_problems(validator, trigger["data"])
        ]
        unknown = sorted(set(case.expect) - set(_EXPECTABLE))
        refused += [
            Problem(f"test {case.name!r} / expect.{k}", "unknown_field", f"{k!r} cannot be expected; use {_EXPECTABLE}")
            for k in unknown
        ]
        if refused:
            results.append(GoldenResult(case.name, False, tuple(refused)))
            continue
        got = _observe(playbook, trigger, case, version)
        problems = [
            Problem(
                f"test {case.name!r} / {k}", "expect", f"expected {k} = {case.expect[k]!r}, but the run gave {got[k]!r}"
            )
            for k in _EXPECTABLE
            if k in case.expect and case.expect[k] != got[k]
        ]
        results.append(GoldenResult(case.name, not problems, tuple(problems), got))
    return results


def _trigger(case: GoldenCase, event: str) -> dict[str, Any]:
    raw = case.input.get("trigger") or {}
    return {
        "id": str(raw.get("id", f"golden-{case.name}"))[:100],
        "type": str(raw.get("type", event)),
        "oid": str(raw.get("oid", "OL-GOLDEN-1")),
        "time": str(raw.get("time", "2026-01-01T00:00:00.000000Z")),
        "actor": raw.get("actor"),
        "data": raw.get("data") if isinstance(raw.get("data"), dict) else {},
    }


def _observe(playbook: Any, trigger: dict[str, Any], case: GoldenCase, version: PolicyVersion) -> dict[str, Any]:
    facts = case.input.get("facts") or {}
    if not matches(playbook, trigger, NOW):
        return {
            "starts": False,
            "outcome": None,
            "path": [],
            "branches": {},
            "commands": [],
            "tasks": [],
            "notify": [],
            "events": [],
        }

    def query_for(step: Step) -> Query:
        def query(stream: str, event_type: str, accept: Any) -> dict[str, Any] | None:
            fact = facts.get(step.id) if isinstance(facts, dict) else None
            if not isinstance(fact, dict):
                return None
            # A fact is one event, or `events`: several, newest first (for queries that count a window).
            listed = fact.get("events")
            many: list[Any] = listed if isinstance(listed, list) else [fact]
            for n, item in enumerate(x for x in many if isinstance(x, dict)):
                found: dict[str, Any] = {
                    "id": f"golden-{step.id}-{n}",
                    "type": event_type,
                    "oid": stream,
                    "time": str(item.get("time", trigger["time"])),
                    "data": item.get("data") if isinstance(item.get("data"), dict) else {},
                }
                if accept(found):
                    return found
            return None

        return query

    outcomes, outcome = dry_run(playbook, trigger, query_for, RunKey("Rgolden", version.name, version.version), NOW)
    done = [o for o in outcomes if o.status == "done"]
    return {
        "starts": True,
        "outcome": outcome,
        "path": [o.step.id for o in done],
        "branches": {o.step.id: o.branch for o in done if o.branch},
        "commands": [o.effect.data["command"] for o in done if o.effect and o.effect.type == "command.issued"],
        "tasks": [o.effect.data["team"] for o in done if o.effect and o.effect.type == "task.created"],
        "notify": [o.effect.data["audience"] for o in done if o.effect and o.effect.type == "notification.sent"],
        "events": [o.effect.type for o in done if o.effect and o.step.type == "emit_event"],
    }
