"""What a monitor is: one frozen definition per monitor, whatever file or dictionary timer it came from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

STALL = "stall"
MISSING_STEP = "missing_step"
SLA_RISK = "sla_risk"
SIGNAL_RULE = "signal_rule"
KINDS = (STALL, MISSING_STEP, SLA_RISK, SIGNAL_RULE)
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Deadline:
    """Where an order's promised time is read: a data field (dotted path) of an event type."""

    event: str
    field: str


@dataclass(frozen=True, slots=True)
class Monitor:
    """One monitor; which fields matter depends on `kind` (see docs/monitors.md)."""

    id: str
    kind: str
    label: Mapping[str, str]
    severity: str
    origin: str
    description: str = ""
    # stall: the events that start the clock; missing_step: the events that show the step should have happened;
    # signal_rule: the readings the rule applies to.
    when: tuple[str, ...] = ()
    # stall: the next events that stop the clock; missing_step: the step that should precede.
    expect: tuple[str, ...] = ()
    within: timedelta = timedelta(0)
    moved_on: bool = True
    only_if: tuple[str, ...] = ()
    grace: timedelta = timedelta(0)
    deadlines: tuple[Deadline, ...] = ()
    done: tuple[str, ...] = ()
    threshold: float = 0.5
    min_samples: int = 20
    value: str = ""
    rule: str = "above"
    limit_field: str | None = None
    limit: float | None = None

    def document(self) -> dict[str, Any]:
        """The definition as JSON (for the API and the CLI)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "label": dict(self.label),
            "severity": self.severity,
            "origin": self.origin,
            "description": self.description,
        }
        if self.kind == STALL:
            doc.update(when=list(self.when), expect=list(self.expect), within_s=self.within.total_seconds())
            doc.update(moved_on=self.moved_on)
        elif self.kind == MISSING_STEP:
            doc.update(
                when=list(self.when),
                expect=list(self.expect),
                only_if=list(self.only_if),
                grace_s=self.grace.total_seconds(),
            )
        elif self.kind == SLA_RISK:
            doc.update(
                deadline=[{"event": d.event, "field": d.field} for d in self.deadlines],
                done=list(self.done),
                threshold=self.threshold,
                min_samples=self.min_samples,
            )
        else:
            doc.update(when=list(self.when), value=self.value, rule=self.rule)
            doc.update(limit_field=self.limit_field, limit=self.limit)
        return doc


@dataclass(frozen=True, slots=True)
class MonitorSet:
    """Every monitor in force, by id, in the order they were defined."""

    monitors: Mapping[str, Monitor] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Monitor]:
        return iter(self.monitors.values())

    def __len__(self) -> int:
        return len(self.monitors)

    def get(self, monitor_id: str) -> Monitor | None:
        return self.monitors.get(monitor_id)

    def of_kind(self, kind: str) -> list[Monitor]:
        """The monitors of one kind, in definition order."""
        return [m for m in self.monitors.values() if m.kind == kind]
