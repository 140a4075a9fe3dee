"""Reading GoRules JDM documents and the errors zen-engine raises about them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import zen

from orderloom.policy.model import canonical_json

TABLE = "decisionTableNode"


@dataclass(frozen=True, slots=True)
class Column:
    """One input or output column of a decision table."""

    id: str
    name: str
    field: str


@dataclass(frozen=True, slots=True)
class Table:
    """A decision table node, with its columns and rules as stored."""

    node_id: str
    name: str
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]
    rules: tuple[dict[str, Any], ...]

    def column(self, column_id: str) -> Column | None:
        """The input or output column with this id, if any."""
        return next((c for c in (*self.inputs, *self.outputs) if c.id == column_id), None)


def tables(document: Any) -> Iterator[Table]:
    """Every decision table node in a document, skipping malformed ones."""
    nodes = document.get("nodes") if isinstance(document, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict) or node.get("type") != TABLE:
            continue
        raw = node.get("content")
        content: dict[str, Any] = raw if isinstance(raw, dict) else {}
        yield Table(
            node_id=str(node.get("id", "")),
            name=str(node.get("name") or node.get("id") or "decision table"),
            inputs=_columns(content.get("inputs")),
            outputs=_columns(content.get("outputs")),
            rules=tuple(r for r in content.get("rules") or [] if isinstance(r, dict)),
        )


def _columns(raw: Any) -> tuple[Column, ...]:
    items = raw if isinstance(raw, list) else []
    return tuple(
        Column(
            id=str(c.get("id", "")),
            name=str(c.get("name") or c.get("field") or c.get("id")),
            field=str(c.get("field") or ""),
        )
        for c in items
        if isinstance(c, dict)
    )


def zen_reason(exc: BaseException) -> str:
    """The short reason inside a zen error, without the Rust backtrace."""
    # zen raises RuntimeError whose text is one JSON line, then (with RUST_BACKTRACE) a stack dump.
    first = str(exc).split("\n", 1)[0].strip()
    try:
        parsed = json.loads(first)
    except ValueError:
        return first
    if isinstance(parsed, dict):
        return str(parsed.get("source") or parsed.get("message") or parsed.get("type") or first)
    return first


def decision_content(document: dict[str, Any]) -> zen.ZenDecisionContent:
    """The document parsed once by zen, so each evaluation skips JSON parsing."""
    return zen.ZenDecisionContent(canonical_json(document).decode())
