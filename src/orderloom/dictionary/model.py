"""In-memory form of the dictionary, built once by the loader and then read-only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

Label = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RoleView:
    """What one role may see of one event type."""

    visible: bool
    label: Label | None = None
    fields: frozenset[str] | None = None  # None: every data field
    details: bool = False  # actor, deviceid and proof

    def grants(self, data_field: str) -> bool:
        return self.visible and (self.fields is None or data_field in self.fields)


HIDDEN = RoleView(visible=False)


@dataclass(frozen=True, slots=True)
class Timer:
    """After `after` without one of `expect`, the order is stalled (used by monitors)."""

    id: str
    after: timedelta
    expect: tuple[str, ...]
    severity: str = "warning"
    label: Label | None = None


@dataclass(frozen=True, slots=True)
class Upcast:
    """How to lift a payload written under version `source` to `source + 1`."""

    source: int
    rename: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        out = {self.rename.get(k, k): v for k, v in data.items() if k not in self.drop}
        for k, v in self.defaults.items():
            out.setdefault(k, v)
        return out


Validator = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class EventType:
    """One atomic event type."""

    id: str
    version: int
    label: Label
    stage: str
    leg: str
    data_schema: Mapping[str, Any]
    example: Mapping[str, Any]
    validate_data: Validator
    description: str = ""
    status: str | None = None
    requires: frozenset[str] = frozenset()
    proof_schema: Mapping[str, Any] | None = None
    validate_proof: Validator | None = None
    pii: tuple[str, ...] = ()
    invoicing: bool = False
    internal: bool = False
    visibility: Mapping[str, RoleView] = field(default_factory=dict)
    timers: tuple[Timer, ...] = ()
    upcasts: tuple[Upcast, ...] = ()
    origin: str = ""

    def view(self, role: str) -> RoleView:
        return self.visibility.get(role, HIDDEN)

    def upcast(self, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Lift a payload stored under an older version to the current one."""
        for step in self.upcasts:
            if step.source >= from_version:
                data = step.apply(data)
        return data


@dataclass(frozen=True, slots=True)
class Term:
    """A named thing with labels: a role, stage, leg or status."""

    id: str
    label: Label
    rank: int = 0
    kind: str = "open"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dictionary:
    """The whole vocabulary: event types plus the roles, stages, legs and statuses they use."""

    types: Mapping[str, EventType]
    roles: Mapping[str, Term]
    stages: Mapping[str, Term]
    legs: Mapping[str, Term]
    statuses: Mapping[str, Term]
    sources: tuple[str, ...] = ()

    def get(self, type_id: str) -> EventType | None:
        return self.types.get(type_id)

    def document(self) -> dict[str, Any]:
        """The dictionary as JSON for `GET /v1/dictionary`."""
        return {
            "roles": [{"id": t.id, "label": dict(t.label)} for t in self.roles.values()],
            "stages": [{"id": t.id, "label": dict(t.label)} for t in self.stages.values()],
            "legs": [{"id": t.id, "label": dict(t.label), **t.extra} for t in self.legs.values()],
            "statuses": [
                {"id": t.id, "label": dict(t.label), "rank": t.rank, "kind": t.kind} for t in self.statuses.values()
            ],
            "types": [_type_document(t) for t in self.types.values()],
        }


def _type_document(t: EventType) -> dict[str, Any]:
    return {
        "id": t.id,
        "version": t.version,
        "label": dict(t.label),
        "description": t.description,
        "stage": t.stage,
        "leg": t.leg,
        "status": t.status,
        "requires": sorted(t.requires),
        "proof": t.proof_schema,
        "data": t.data_schema,
        "pii": list(t.pii),
        "invoicing": t.invoicing,
        "internal": t.internal,
        "visibility": {
            role: (
                {
                    "label": dict(v.label) if v.label else dict(t.label),
                    "fields": "*" if v.fields is None else sorted(v.fields),
                    "details": v.details,
                }
                if v.visible
                else False
            )
            for role, v in t.visibility.items()
        },
        "timers": [
            {"id": tm.id, "after_s": tm.after.total_seconds(), "expect": list(tm.expect), "severity": tm.severity}
            for tm in t.timers
        ],
        "example": {"type": t.id, **t.example},
    }
