"""Header mapping for bulk files: each column names a field path, its cells typed by the field's schema.

A column `data.weight_kg` of an events file is a number because the event
type's schema says so; `recipient.phone` of an orders file stays text even
when every digit is a digit. Cells that do not fit are passed on unchanged,
so validation reports them against the field with its own rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from orderloom.connectors.paths import MISSING, Path, parse_path, put
from orderloom.core.errors import ConfigError, Problem
from orderloom.dictionary.model import Dictionary
from orderloom.routing.signals import Registry

_TEXT = {"type": "string"}
_ENVELOPE = {
    "id": _TEXT,
    "type": _TEXT,
    "source": _TEXT,
    "oid": _TEXT,
    "time": _TEXT,
    "actor": _TEXT,
    "deviceid": _TEXT,
    "schemaver": {"type": "integer"},
}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def parse_columns(names: list[str]) -> tuple[dict[str, Path], list[Problem]]:
    """Each column's field path; a problem for each column name that is not one."""
    out: dict[str, Path] = {}
    problems = []
    for name in names:
        try:
            out[name] = parse_path(name)
        except ConfigError as exc:
            problems.append(Problem(name, "column", f"column {name!r} is not a field path: {exc}"))
    return out, problems


class Typer:
    """Finds the schema of a field for a kind of row."""

    def __init__(self, kind: str, dictionary: Dictionary, registry: Registry | None) -> None:
        self.kind = kind
        self.dictionary = dictionary
        self.registry = registry

    def schema(self, row: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
        """The JSON schema at `path` for this row (events and signals depend on the row's type)."""
        head = str(path.steps[0]) if path.steps else ""
        if self.kind == "orders":
            placed = self.dictionary.get("order.placed")
            if head in _ENVELOPE and len(path.steps) == 1:
                return _ENVELOPE[head]
            return _walk(placed.data_schema if placed else None, path.steps)
        type_id = str(row.get("type") or "")
        if self.kind == "events":
            if head in _ENVELOPE and len(path.steps) == 1:
                return _ENVELOPE[head]
            t = self.dictionary.get(type_id)
            if t is None:
                return None
            if head == "data":
                return _walk(t.data_schema, path.steps[1:])
            if head == "proof":
                return _walk(t.proof_schema, path.steps[1:])
            return None
        if head in ("type", "target", "time"):
            return _TEXT
        signal = self.registry.get(type_id) if self.registry is not None else None
        if head == "value" and signal is not None:
            return _walk(signal.schema, path.steps[1:])
        return None


def build_doc(row: Mapping[str, Any], columns: Mapping[str, Path], typer: Typer) -> dict[str, Any]:
    """The document a row stands for: empty cells left out, the others typed by their field's schema."""
    doc: dict[str, Any] = {}
    for name, path in columns.items():
        value = row.get(name)
        if value is None or value == "" or value is MISSING:
            continue
        put(doc, path, coerce(value, typer.schema(row, path)))
    return doc


def coerce(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """`value` as the schema's type when it reads as one; otherwise unchanged (validation will say why)."""
    value = _plain(value)
    types = _types(schema)
    if not isinstance(value, str):
        if "string" in types and not isinstance(value, (dict, list)) and not isinstance(value, bool):
            return _text(value)
        return value
    text = value.strip()
    for t in types:
        if t == "integer" and text.lstrip("-").isdigit():
            return int(text)
        if t == "number":
            try:
                return int(text) if text.lstrip("-").isdigit() else float(text)
            except ValueError:
                continue
        if t == "boolean" and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if t in ("object", "array") and text[:1] in "{[":
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
        if t == "string":
            return value
    return value


def _types(schema: Mapping[str, Any] | None) -> list[str]:
    if not schema:
        return []
    t = schema.get("type")
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    return [t] if isinstance(t, str) else []


def _walk(schema: Mapping[str, Any] | None, steps: tuple[Any, ...]) -> Mapping[str, Any] | None:
    node = schema
    for step in steps:
        if node is None:
            return None
        if isinstance(step, int) or step == "*":
            items = node.get("items")
            node = items if isinstance(items, dict) else None
        else:
            props = node.get("properties")
            node = props.get(step) if isinstance(props, dict) else None
    return node


def _plain(value: Any) -> Any:
    """Parquet cells arrive as Python values: make them JSON-like (times as RFC 3339, naive ones as UTC)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
