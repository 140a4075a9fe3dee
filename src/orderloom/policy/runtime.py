"""The policies a worker serves: published versions loaded into one evaluator, swapped without restart.

Each worker follows the policy streams in the log. A check for news costs one
indexed read and happens at most every REFRESH_S, so a publish made in any
process takes effect everywhere within a second; a decision picks its version
once and evaluates exactly that version, so it never mixes two.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, OrderloomError, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.policy.evaluator import Evaluator
from orderloom.policy.experiment import report
from orderloom.policy.health import health
from orderloom.policy.log import PolicyLog, PolicyState, fold, stream_of
from orderloom.store import iter_log

REFRESH_S = 0.25


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer for one unit, with the version and arm that produced it."""

    policy: str
    version: int
    arm: str  # "stable" or "candidate" during a gray release, else "stable"
    result: dict[str, Any]
    rules: tuple[str, ...] = ()  # matched table rules, when traced
    micros: float = 0.0  # evaluation time
    shadow: dict[str, Any] | None = None  # the shadow version's answer, when one is set and traced


class PolicyRuntime:
    """Serves published decision policies to this process."""

    def __init__(self, log: PolicyLog) -> None:
        self.log = log
        self.evaluator = Evaluator()
        self._states: dict[str, tuple[PolicyState, int, float]] = {}  # state, last seq, checked at
        self._lock = threading.Lock()

    def state(self, name: str) -> PolicyState:
        """The policy's state as of at most REFRESH_S ago."""
        with self._lock:
            cached = self._states.get(name)
            if cached is not None and time.monotonic() - cached[2] < REFRESH_S:
                return cached[0]
        events = self.log.intake.store.read_stream(stream_of(name))
        seq = events[-1].seq if events else 0
        if cached is not None and cached[1] == seq:
            state = cached[0]
        else:
            state = fold(name, events)
            for v in state.versions.values():
                if v.kind == "decision":
                    self.evaluator.add(v)
        with self._lock:
            self._states[name] = (state, seq, time.monotonic())
        return state

    def invalidate(self, name: str) -> None:
        """Forget the cached state, so a change made through this process is served at once."""
        with self._lock:
            self._states.pop(name, None)

    def decide(self, name: str, unit_id: str, data: dict[str, Any], *, trace: bool = False) -> Decision:
        """Evaluate the version this unit is served (sticky during a gray release)."""
        state = self.state(name)
        version = state.serving(unit_id, data)
        if version is None:
            raise NotFound(f"policy {name} has no published version")
        arm = "candidate" if state.rollout is not None and version == state.rollout.candidate else "stable"
        started = time.perf_counter()
        if trace:
            result, rules = self.evaluator.evaluate_traced(name, version, data)
        else:
            result, rules = self.evaluator.evaluate(name, version, data), []
        micros = (time.perf_counter() - started) * 1e6
        shadow = None
        if trace and state.shadow is not None and state.shadow != version:
            try:
                would = self.evaluator.evaluate(name, state.shadow, data)
                same = {k: v for k, v in would.items() if k not in ("policy", "version")}
                live = {k: v for k, v in result.items() if k not in ("policy", "version")}
                shadow = {"version": state.shadow, "result": same, "differs": same != live}
            except OrderloomError as exc:  # a shadow must never break the live decision
                shadow = {"version": state.shadow, "error": str(exc)[:300], "differs": True}
        return Decision(name, version, arm, result, tuple(rules), micros, shadow)


def record_decision(svc: Services, oid: str, unit: str, d: Decision, data: dict[str, Any]) -> dict[str, Any]:
    """Append the decision to the order's stream as `policy.decided`; the intake result."""
    raw = {
        "id": f"decided-{ulid()}",
        "type": "policy.decided",
        "source": "orderloom/policy",
        "oid": oid,
        "time": format_time(svc.clock.now()),
        "actor": f"policy:{d.policy}",
        "data": {
            "policy": d.policy,
            "version": d.version,
            "arm": d.arm,
            "unit": unit[:128],
            "input": data,
            "result": d.result,
            "rules": list(d.rules),
            "eval_us": round(d.micros, 1),
            **({"shadow": d.shadow} if d.shadow is not None else {}),
        },
    }
    result = svc.intake.record([raw])[0]
    if result.status == "rejected":
        raise ValidationFailed(result.problems)
    return result.as_dict()


def experiment_report(svc: Services, name: str) -> dict[str, Any]:
    """The A/B report of a policy over the whole log (a view can take this over when logs grow)."""
    state = PolicyLog(svc.intake).state(name)
    if not state.versions:
        raise NotFound(f"no policy named {name}")
    share = state.rollout.percent / 100 if state.rollout is not None else None
    return report(iter_log(svc.store), svc.store.read_stream, svc.dictionary, name, share)


def shadow_report(svc: Services, name: str, version: int, since: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Replay recorded decisions of `name` (after `since`) through `version` without acting; what would differ."""
    state = PolicyLog(svc.intake).state(name)
    if version not in state.versions:
        raise NotFound(f"policy {name} has no version {version}")
    evaluator = Evaluator()
    evaluator.add(state.versions[version])
    compared = differed = failed = 0
    examples: list[dict[str, Any]] = []
    for e in iter_log(svc.store):
        if e.type != "policy.decided" or e.data.get("policy") != name or "input" not in e.data:
            continue
        if since is not None and e.time < since:
            continue
        compared += 1
        try:
            would = evaluator.evaluate(name, version, e.data["input"])
        except OrderloomError:
            failed += 1
            continue
        actual = {k: v for k, v in e.data["result"].items() if k not in ("policy", "version")}
        would = {k: v for k, v in would.items() if k not in ("policy", "version")}
        if would != actual:
            differed += 1
            if len(examples) < limit:
                examples.append({"oid": e.oid, "served_version": e.data["version"], "actual": actual, "would": would})
    return {
        "policy": name,
        "version": version,
        "compared": compared,
        "differ": differed,
        "differ_rate": differed / compared if compared else None,
        "failed": failed,
        "examples": examples,
    }


MIN_CHECKED_FOR_ALERT = 20


def policy_health(svc: Services, name: str, threshold: float = 0.1) -> dict[str, Any]:
    """The health report; a version deviating above `threshold` gets one alert event per day."""
    log = PolicyLog(svc.intake)
    state = log.state(name)
    if not state.versions:
        raise NotFound(f"no policy named {name}")
    doc = health(iter_log(svc.store), svc.store.read_stream, state)
    doc["threshold"] = threshold
    day = format_time(svc.clock.now())[:10].replace("-", "")
    for v in doc["versions"]:
        rate = v["deviation_rate"]
        v["alert"] = rate is not None and rate > threshold and v["execution_checked"] >= MIN_CHECKED_FOR_ALERT
        if v["alert"] and svc.store.get(f"deviation-{name}-v{v['version']}-{day}") is None:
            log.alert(
                name,
                v["version"],
                checked=v["execution_checked"],
                deviated=v["execution_deviated"],
                threshold=threshold,
                day=day,
            )
    return doc


def live_shadow_report(svc: Services, name: str, limit: int = 50) -> dict[str, Any]:
    """How the shadow versions' answers compared with live decisions, from the recorded decisions."""
    by_version: dict[int, dict[str, Any]] = {}
    for e in iter_log(svc.store):
        shadow = e.data.get("shadow") if e.type == "policy.decided" and e.data.get("policy") == name else None
        if not shadow:
            continue
        row = by_version.setdefault(
            shadow["version"], {"version": shadow["version"], "compared": 0, "differ": 0, "examples": []}
        )
        row["compared"] += 1
        if shadow.get("differs"):
            row["differ"] += 1
            if len(row["examples"]) < limit:
                row["examples"].append({"oid": e.oid, "live": e.data["result"], "shadow": shadow.get("result")})
    for row in by_version.values():
        row["differ_rate"] = row["differ"] / row["compared"]
    return {"policy": name, "shadows": sorted(by_version.values(), key=lambda r: r["version"])}
