"""The pure part of a run: does a trigger match, which steps run, what a dry run would do."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from orderloom.core.envelope import StoredEvent, format_time
from orderloom.playbook.document import Playbook, Step
from orderloom.playbook.expressions import StepFailed, evaluate
from orderloom.playbook.steps import Outcome, Query, RunKey, perform

log = logging.getLogger("orderloom.playbook")


def trigger_of(e: StoredEvent) -> dict[str, Any]:
    """The trigger as expressions see it."""
    return {"id": e.id, "type": e.type, "oid": e.oid, "time": e.time, "actor": e.actor, "data": e.data}


def context_for(playbook: Playbook, trigger: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A fresh run context: the trigger, the playbook's params, no step results yet."""
    return {"trigger": trigger, "params": playbook.params, "steps": {}, "now": format_time(now)}


def matches(playbook: Playbook, trigger: dict[str, Any], now: datetime) -> bool:
    """Whether the event starts this playbook: its type, then every `when` condition is true."""
    if trigger["type"] != playbook.event:
        return False
    context = context_for(playbook, trigger, now)
    for condition in playbook.when:
        try:
            if evaluate(condition, context) is not True:
                return False
        except StepFailed as exc:
            # A condition that cannot be computed for this event does not hold; say so, it may be a typo.
            log.warning("trigger condition of a playbook could not be evaluated for %s: %s", trigger["id"], exc)
            return False
    return True


def skip_reason(step: Step, branches: dict[str, str]) -> str | None:
    """Why `step` does not run, given the sides the branches so far took; None when it runs."""
    if step.guard is None:
        return None
    branch, side = step.guard
    taken = branches.get(branch)
    if taken == side:
        return None
    if taken is None:
        return f"branch {branch} did not run"
    return f"branch {branch} took {taken}"


def dry_run(
    playbook: Playbook, trigger: dict[str, Any], query_for: Callable[[Step], Query], key: RunKey, now: datetime
) -> tuple[list[Outcome], str]:
    """Every step's outcome and the run's outcome (done | failed), writing nothing; `query_for` supplies facts."""
    context = context_for(playbook, trigger, now)
    branches: dict[str, str] = {}
    outcomes: list[Outcome] = []
    for step in playbook.steps:
        reason = skip_reason(step, branches)
        outcome = (
            Outcome(step, "skipped", reason=reason) if reason else perform(step, context, query_for(step), key, now)
        )
        outcomes.append(outcome)
        if outcome.status == "failed":
            return outcomes, "failed"
        remember(context, branches, outcome)
    return outcomes, "done"


def remember(context: dict[str, Any], branches: dict[str, str], outcome: Outcome) -> None:
    """Make a step's result visible to the steps after it."""
    context["steps"][outcome.step.id] = outcome.output if outcome.status == "done" else {"skipped": True}
    if outcome.branch is not None:
        branches[outcome.step.id] = outcome.branch
