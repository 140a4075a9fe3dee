"""Handing mapped documents to the existing intake paths: orders, events, signals (and facts when wired)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.routing.network import Network
from orderloom.routing.signal_book import record_signals
from orderloom.routing.signals import Registry
from orderloom.status.intake import Intake, ItemResult, ref_key
from orderloom.status.orders import place_order

# A sink takes mapped documents and an actor and answers per document.
Sink = Callable[[Sequence[dict[str, Any]], str], list[ItemResult]]


@dataclass
class Sinks:
    """Where each kind of mapped document goes."""

    intake: Intake
    registry: Registry | None = None
    network: Network | None = None
    extra: Mapping[str, Sink] = field(default_factory=dict)

    def resolve(self, system: str, number: str) -> str | None:
        """The order a source system's order number is linked to."""
        return self.intake.store.resolve(ref_key(system, number))

    def record(
        self, kind: str, docs: Sequence[dict[str, Any]], *, actor: str, atomic: bool = False
    ) -> list[ItemResult]:
        """Record `docs` of `kind`; per-document results like POST /v1/events gives."""
        if kind == "event":
            return self.intake.record(list(docs), atomic=atomic)
        if kind == "order":
            return [self._place(i, doc, actor) for i, doc in enumerate(docs)]
        if kind == "signal":
            if self.registry is None or self.network is None:
                raise ValidationFailed([Problem("kind", "unsupported", "signals need the signal registry and network")])
            return record_signals(self.intake, docs, self.registry, self.network, actor=actor)
        if kind in self.extra:
            return self.extra[kind](docs, actor)
        raise ValidationFailed(
            [Problem("kind", "unsupported", f"this server does not record {kind}s from connectors yet")]
        )

    def _place(self, index: int, doc: dict[str, Any], actor: str) -> ItemResult:
        try:
            placed = place_order(self.intake, doc, source=str(doc.get("source") or actor), actor=actor)
        except ValidationFailed as exc:
            return ItemResult(index, None, "rejected", oid=doc.get("oid"), problems=exc.problems)
        status = "accepted" if placed.created else "duplicate"
        return ItemResult(index, f"placed-{placed.oid}", status, oid=placed.oid, position=placed.position)
