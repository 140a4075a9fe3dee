"""Carrying out one run against the log: every step is an event, written once, resumable after a crash.

A run is one playbook for one trigger event. Its `playbook.run_started`
event claims the run and fixes its version, so a run that resumes after a
crash (or after a new version was published) finishes with the version it
began with. Each step's `playbook.step_done` event is written in the same
transaction as what the step did (a task, a notification, a command), and
every id is derived from the trigger, the playbook version and the step, so
a step written before a crash is found again and never done twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderloom.core.clock import Clock
from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.playbook.document import Playbook, Step, parse
from orderloom.playbook.ids import finished_id, run_id, started_id, step_event_id
from orderloom.playbook.plan import context_for, remember, skip_reason, trigger_of
from orderloom.playbook.steps import Outcome, RunKey, perform
from orderloom.policy.log import PolicyState
from orderloom.policy.model import PolicyVersion
from orderloom.status.intake import Intake, ItemResult

SOURCE = "orderloom/playbook"


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one call to `execute` did."""

    run: str
    playbook: str
    version: int
    outcome: str  # done | failed | already_finished
    steps: tuple[tuple[str, str], ...] = ()  # (step id, status) in order


class RunExecutor:
    """Executes runs of published playbooks, idempotently, through intake."""

    def __init__(self, intake: Intake, clock: Clock, states: Callable[[str], PolicyState]) -> None:
        self.intake = intake
        self.store = intake.store
        self.clock = clock
        self.states = states
        self._parsed: dict[str, Playbook] = {}

    def playbook(self, version: PolicyVersion) -> Playbook:
        """The parsed document of a saved version (parsed once per process)."""
        parsed = self._parsed.get(version.key)
        if parsed is None:
            parsed = self._parsed[version.key] = parse(version.document)
        return parsed

    def choose(self, name: str, trigger: StoredEvent) -> tuple[PolicyVersion, str] | None:
        """The version (and arm) this trigger's run uses: the one it started with, else the one serving now."""
        state = self.states(name)
        started = self.store.get(started_id(run_id(trigger.id, name)))
        if started is not None:
            version, arm = int(started.data["version"]), str(started.data.get("arm", "stable"))
        else:
            serving = state.serving(trigger.oid, trigger.data)
            if serving is None:
                return None
            version = serving
            arm = "candidate" if state.rollout is not None and version == state.rollout.candidate else "stable"
        chosen = state.versions.get(version)
        return None if chosen is None else (chosen, arm)

    def execute(self, chosen: PolicyVersion, arm: str, trigger: StoredEvent) -> RunReport:
        """Run (or finish) `chosen` for `trigger`; steps already in the log are reused, not repeated."""
        playbook = self.playbook(chosen)
        key = RunKey(run_id(trigger.id, chosen.name), chosen.name, chosen.version)
        if self.store.get(finished_id(key.run, key.version)) is not None:
            return RunReport(key.run, key.playbook, key.version, "already_finished")
        now = self.clock.now()
        trig = trigger_of(trigger)
        resume = self.store.get(started_id(key.run)) is not None
        if not resume:
            started = {
                "run": key.run,
                "playbook": key.playbook,
                "version": key.version,
                "arm": arm,
                "trigger": {"id": trigger.id, "type": trigger.type, "oid": trigger.oid, "time": trigger.time},
                **({"label": playbook.label} if playbook.label else {}),
            }
            self._append([self._raw(started_id(key.run), "playbook.run_started", trigger.oid, started, key, now=now)])
        context = context_for(playbook, trig, now)
        branches: dict[str, str] = {}
        done: list[tuple[str, str]] = []
        for step in playbook.steps:
            stored = self.store.get(step_event_id(key.run, key.version, step.id)) if resume else None
            if stored is not None:
                outcome = _outcome_from(step, stored)
            else:
                reason = skip_reason(step, branches)
                outcome = (
                    Outcome(step, "skipped", reason=reason) if reason else perform(step, context, self._query, key, now)
                )
                outcome = self._record(key, outcome, trigger.oid, now)
            done.append((step.id, outcome.status))
            if outcome.status == "failed":
                self._finish(key, trigger.oid, now, "failed", done, error=outcome.reason, failed_step=step.id)
                return RunReport(key.run, key.playbook, key.version, "failed", tuple(done))
            remember(context, branches, outcome)
        self._finish(key, trigger.oid, now, "done", done)
        return RunReport(key.run, key.playbook, key.version, "done", tuple(done))

    def _query(self, stream: str, event_type: str, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The latest event of a type on a stream (by when it happened) that `accept` takes."""
        events = [e for e in self.store.read_stream(stream) if e.type == event_type]
        for e in sorted(events, key=lambda e: (e.time, e.seq), reverse=True):
            found = {"id": e.id, "type": e.type, "oid": e.oid, "time": e.time, "data": e.data}
            if accept(found):
                return found
        return None

    def _record(self, key: RunKey, outcome: Outcome, stream: str, now: datetime) -> Outcome:
        """Write the step (and its act) in one transaction; a step someone already wrote is taken as done."""
        step_id = step_event_id(key.run, key.version, outcome.step.id)
        raws = []
        if outcome.effect is not None:
            fx = outcome.effect
            raw = self._raw(fx.id, fx.type, fx.stream, fx.data, key, now=now)
            if fx.time:
                raw["time"] = fx.time
            raws.append(raw)
        raws.append(self._raw(step_id, "playbook.step_done", stream, _step_data(key, outcome), key, now=now))
        results = self.intake.record(raws, atomic=True, allow_internal=True)
        if all(r.status != "rejected" for r in results):
            return outcome
        if _already_stored(results):
            # Another runner (or this one before a crash, at another time) wrote this step first: its result stands.
            stored = self.store.get(step_id)
            if stored is not None:
                return _outcome_from(outcome.step, stored)
        refused = "; ".join(
            f"{p.field}: {p.message}" for r in results for p in r.problems if p.rule != "all_or_nothing"
        )
        failed = Outcome(
            outcome.step, "failed", outcome.inputs, reason=f"step {outcome.step.id}: refused: {refused}"[:500]
        )
        self._append([self._raw(step_id, "playbook.step_done", stream, _step_data(key, failed), key, now=now)])
        return failed

    def _finish(
        self,
        key: RunKey,
        stream: str,
        now: datetime,
        outcome: str,
        steps: list[tuple[str, str]],
        *,
        error: str = "",
        failed_step: str | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "run": key.run,
            "playbook": key.playbook,
            "version": key.version,
            "outcome": outcome,
            "steps_done": sum(1 for _, s in steps if s == "done"),
            "steps_skipped": sum(1 for _, s in steps if s == "skipped"),
        }
        if error:
            data["error"] = error[:500]
        if failed_step:
            data["failed_step"] = failed_step
        self._append(
            [self._raw(finished_id(key.run, key.version), "playbook.run_finished", stream, data, key, now=now)]
        )

    def _append(self, raws: list[dict[str, Any]]) -> None:
        results = self.intake.record(raws, atomic=True, allow_internal=True)
        if any(r.status == "rejected" for r in results) and not _already_stored(results):
            raise ValidationFailed([p for r in results for p in r.problems])

    def _raw(
        self, eid: str, etype: str, stream: str, data: dict[str, Any], key: RunKey, *, now: datetime
    ) -> dict[str, Any]:
        return {
            "id": eid,
            "type": etype,
            "source": SOURCE,
            "oid": stream,
            "time": format_time(now),
            "actor": f"playbook:{key.playbook}",
            "data": data,
        }


def _already_stored(results: list[ItemResult]) -> bool:
    """Whether the batch was refused only because its ids are already in the log (with other content)."""
    problems: list[Problem] = [p for r in results for p in r.problems]
    return any(p.rule == "unique" and p.field == "id" for p in problems) and all(
        (p.rule == "unique" and p.field == "id") or p.rule == "all_or_nothing" for p in problems
    )


def _step_data(key: RunKey, outcome: Outcome) -> dict[str, Any]:
    data: dict[str, Any] = {
        "run": key.run,
        "playbook": key.playbook,
        "version": key.version,
        "step": outcome.step.id,
        "type": outcome.step.type,
        "status": outcome.status,
        "inputs": outcome.inputs,
        "output": outcome.output,
    }
    if outcome.branch is not None:
        data["branch"] = outcome.branch
    if outcome.reason:
        data["reason"] = outcome.reason[:500]
    return data


def _outcome_from(step: Step, stored: StoredEvent) -> Outcome:
    d = stored.data
    return Outcome(
        step,
        str(d.get("status", "done")),
        dict(d.get("inputs") or {}),
        dict(d.get("output") or {}),
        d.get("branch"),
        str(d.get("reason", "")),
    )
