"""Policies live in the log: saving a version, publishing and rolling back are events.

Each policy has its own stream `sys.policy.<name>`. Its state (versions, what
serves traffic, any gray release) is a fold over that stream, so every worker
in every process reaches the same answer by reading it, and the audit trail
(who changed, published or rolled back what, when) is the stream itself.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.policy.diff import diff
from orderloom.policy.golden import run_golden
from orderloom.policy.lint import lint
from orderloom.policy.model import GoldenCase, PolicyVersion
from orderloom.policy.rollout import Rollout
from orderloom.status.intake import Intake

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


def stream_of(name: str) -> str:
    """The log stream holding a policy's history."""
    return f"sys.policy.{name}"


@dataclass(slots=True)
class PolicyState:
    """A policy as its stream tells it."""

    name: str
    versions: dict[int, PolicyVersion] = field(default_factory=dict)
    stable: int | None = None
    rollout: Rollout | None = None
    shadow: int | None = None  # a version evaluated beside live decisions, acting on nothing
    entries: list[dict[str, Any]] = field(default_factory=list)  # one per event, in order

    @property
    def history(self) -> list[dict[str, Any]]:
        """The audit trail, each saved version with what it changed.

        Diffs are computed here, when someone reads the trail, not in `fold`:
        every routing decision folds the profile's stream and never needs them.
        """
        out = []
        previous: PolicyVersion | None = None
        for entry in self.entries:
            if entry["type"] != "policy.version_saved":
                out.append(entry)
                continue
            current = self.versions[entry["version"]]
            out.append({**entry, "changes": diff(previous, current) if previous else ["first version"]})
            previous = current
        return out

    def serving(self, unit_id: str, attributes: Mapping[str, Any] | None = None) -> int | None:
        """The version a unit (an order or a customer) with this decision input gets now."""
        return self.rollout.choose(unit_id, attributes) if self.rollout is not None else self.stable


def fold(name: str, events: list[StoredEvent]) -> PolicyState:
    """The state of a policy after its events, in order: a pure function."""
    state = PolicyState(name)
    for e in events:
        d = e.data
        entry = {"type": e.type, "time": e.time, "actor": e.actor, "version": d.get("version")}
        if e.type == "policy.version_saved":
            state.versions[d["version"]] = PolicyVersion(
                name=d["name"],
                version=d["version"],
                kind=d["kind"],
                document=d["document"],
                input_schema=d["input_schema"],
                tests=tuple(GoldenCase.from_dict(t) for t in d["tests"]),
                note=d.get("note", ""),
                author=e.actor or "",
                digest=d["digest"],
            )
        elif e.type == "policy.published":
            if d["percent"] >= 100:
                state.stable, state.rollout = d["version"], None
            else:
                stable = d.get("stable") or state.stable or d["version"]
                segment = tuple((k, tuple(v)) for k, v in sorted((d.get("segment") or {}).items()))
                state.rollout = Rollout(name, stable, d["version"], d["percent"], d.get("seed") or "seed", segment)
            entry["percent"] = d["percent"]
        elif e.type == "policy.rolled_back":
            state.stable, state.rollout = d["version"], None
        elif e.type == "policy.shadowed":
            state.shadow = d["version"]
        elif e.type == "policy.deviation_alert":
            entry["rate"] = d["rate"]
        state.entries.append(entry)
    return state


class PolicyLog:
    """Saves, publishes and rolls back policies through the log; refuses what would fail silently."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def state(self, name: str) -> PolicyState:
        """The policy's current state, read from its stream."""
        return fold(name, self.intake.store.read_stream(stream_of(name)))

    def save(self, draft: PolicyVersion, *, actor: str) -> PolicyVersion:
        """Store `draft` as the next version; ValidationFailed lists every lint problem."""
        if not _NAME.match(draft.name):
            raise ValidationFailed([Problem("name", "format", "a policy name is 2-64 lower-case letters, digits or _")])
        problems = lint(draft)
        if problems:
            raise ValidationFailed(problems)
        state = self.state(draft.name)
        latest = state.versions[max(state.versions)] if state.versions else None
        if latest is not None and latest.digest == draft.digest:
            return latest  # saving the same content again is not a new version
        version = max(state.versions, default=0) + 1
        saved = PolicyVersion(
            draft.name, version, draft.kind, draft.document, draft.input_schema, draft.tests, draft.note, actor
        )
        self._write(
            "policy.version_saved",
            draft.name,
            {
                "name": saved.name,
                "version": version,
                "kind": saved.kind,
                "document": saved.document,
                "input_schema": saved.input_schema,
                "tests": [t.as_dict() for t in saved.tests],
                "note": saved.note[:500],
                "digest": saved.digest,
            },
            actor,
            # Two people saving at once would both pick the same number: the claim lets one win.
            claim=f"policy:{draft.name}@{version}",
        )
        return saved

    def publish(
        self,
        name: str,
        version: int,
        *,
        actor: str,
        percent: float = 100,
        reason: str = "",
        segment: Mapping[str, list[Any]] | None = None,
    ) -> PolicyState:
        """Serve `version` to `percent`% of traffic (100 = everyone); its golden tests must pass first."""
        state = self.state(name)
        chosen = self._version(state, version)
        failed = [r for r in run_golden(chosen) if not r.passed]
        if failed:
            raise ValidationFailed(
                [p for r in failed for p in r.problems]
                or [Problem("tests", "golden", f"{len(failed)} golden test(s) of version {version} fail")]
            )
        if not 0 < percent <= 100:
            raise ValidationFailed([Problem("percent", "range", "percent must be more than 0 and at most 100")])
        data: dict[str, Any] = {"name": name, "version": version, "percent": percent, "reason": reason[:500]}
        if percent < 100:
            if state.stable is None:
                raise ValidationFailed(
                    [Problem("percent", "stable_needed", "publish a version to 100% before a gray release")]
                )
            # Raising the percentage of the same candidate keeps its seed, so no unit changes arm backwards.
            same = state.rollout is not None and state.rollout.candidate == version
            data["stable"] = state.rollout.stable if same and state.rollout else state.stable
            data["seed"] = state.rollout.seed if same and state.rollout else secrets.token_hex(8)
            if segment:
                if not all(isinstance(v, list) and v for v in segment.values()):
                    raise ValidationFailed(
                        [
                            Problem(
                                "segment",
                                "format",
                                'a segment maps fields to lists of values, e.g. {"channel": ["douyin"]}',
                            )
                        ]
                    )
                data["segment"] = dict(segment)
        self._write("policy.published", name, data, actor)
        return self.state(name)

    def rollback(self, name: str, version: int, *, actor: str, reason: str = "") -> PolicyState:
        """Serve an earlier version to everyone, at once."""
        self._version(self.state(name), version)
        self._write("policy.rolled_back", name, {"name": name, "version": version, "reason": reason[:500]}, actor)
        return self.state(name)

    def alert(self, name: str, version: int, *, checked: int, deviated: int, threshold: float, day: str) -> None:
        """Record that a version's decisions are not being executed (one alert per version and day)."""
        data = {
            "name": name,
            "version": version,
            "checked": checked,
            "deviated": deviated,
            "rate": deviated / checked,
            "threshold": threshold,
        }
        self._write(
            "policy.deviation_alert", name, data, "system:policy-health", event_id=f"deviation-{name}-v{version}-{day}"
        )

    def set_shadow(self, name: str, version: int | None, *, actor: str) -> PolicyState:
        """Evaluate `version` beside every recorded live decision (None stops it); it never acts."""
        if version is not None:
            self._version(self.state(name), version)
        self._write("policy.shadowed", name, {"name": name, "version": version}, actor)
        return self.state(name)

    def _version(self, state: PolicyState, version: int) -> PolicyVersion:
        if version not in state.versions:
            raise NotFound(f"policy {state.name} has no version {version}")
        return state.versions[version]

    def _write(
        self,
        etype: str,
        name: str,
        data: dict[str, Any],
        actor: str,
        *,
        claim: str | None = None,
        event_id: str | None = None,
    ) -> None:
        raw = {
            "id": event_id or f"{etype}-{ulid()}",
            "type": etype,
            "source": "orderloom/policy",
            "oid": stream_of(name),
            "time": format_time(self.intake.clock.now()),
            "actor": actor,
            "data": data,
        }
        claims = {claim: stream_of(name)} if claim else None
        result = self.intake.record([raw], allow_internal=True, claims=claims)[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
