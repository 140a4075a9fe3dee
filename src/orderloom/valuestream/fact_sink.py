"""Connectors deliver domain facts through the same contract intake as POST /v1/facts/{domain}.

A mapped fact names its `domain` (the data contract) and may name the contract's
`object`; every other field is the record. Each document is checked and stored
as part of its contract object's batch; one bad row is refused with its field
and rule while the rest of the message is kept, as for events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary
from orderloom.status.intake import Intake, ItemResult
from orderloom.valuestream.facts import FactDesk

FactSink = Callable[[Sequence[dict[str, Any]], str], list[ItemResult]]


def fact_sink(desk: FactDesk) -> FactSink:
    """A connector sink (`Sinks.extra["fact"]`) writing through `desk`."""

    def record(docs: Sequence[dict[str, Any]], actor: str) -> list[ItemResult]:
        out: dict[int, ItemResult] = {}
        # One desk call (one transaction) per contract object, not one per row of a bulk import.
        groups: dict[tuple[str, str | None], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for i, doc in enumerate(docs):
            domain, obj = doc.get("domain"), doc.get("object")
            if not isinstance(domain, str) or not domain:
                why = "a mapped fact must name its domain (the data contract), e.g. domain: {const: marketing}"
                out[i] = ItemResult(i, None, "rejected", problems=[Problem("domain", "required", why)])
                continue
            fields = {k: v for k, v in doc.items() if k not in ("domain", "object")}
            groups[domain, obj if isinstance(obj, str) else None].append((i, fields))
        for (domain, obj), rows in groups.items():
            try:
                results = desk.record(domain, [f for _, f in rows], actor=actor, source=actor, object_name=obj)
            except (NotFound, ValidationFailed) as exc:  # an unknown domain or object, named in the message
                known = exc.problems if isinstance(exc, ValidationFailed) else [Problem("domain", "unknown", str(exc))]
                out.update((i, ItemResult(i, None, "rejected", problems=known)) for i, _ in rows)
                continue
            for (i, _), r in zip(rows, results, strict=True):  # renumbered: the message's rows, not the group's
                out[i] = ItemResult(i, r.id, r.status, r.oid, r.seq, r.position, r.problems)
        return [out[i] for i in range(len(docs))]

    return record


def contract_fact_sink(intake: Intake, dictionary: Dictionary) -> FactSink:
    """The fact sink on the contracts in force (shipped plus ORDERLOOM_CONTRACTS)."""
    from orderloom.valuestream.catalog import load_contracts
    from orderloom.valuestream.config import ValueStreamConfig

    return fact_sink(FactDesk(intake, load_contracts(ValueStreamConfig.from_env().contract_paths, dictionary)))
