"""Human-readable differences between two policy versions."""

from __future__ import annotations

import copy
import json
from typing import Any

from orderloom.policy.jdm import TABLE, Table, tables
from orderloom.policy.model import PolicyVersion

# Node positions only move boxes on the canvas; listing them would bury real changes.
_COSMETIC = {"position"}


def diff(a: PolicyVersion, b: PolicyVersion) -> list[str]:
    """What changed from version `a` to version `b`, one line per change."""
    lines: list[str] = []
    if a.kind != b.kind:
        lines.append(f"kind: {a.kind} → {b.kind}")
    doc_a, doc_b = a.document, b.document
    if a.kind == b.kind == "decision":
        old = {t.node_id: t for t in tables(doc_a)}
        for table in tables(doc_b):
            if table.node_id in old:
                lines += _table_diff(old[table.node_id], table)
        doc_a, doc_b = _without_rules(doc_a), _without_rules(doc_b)
    lines += _json_diff("document", doc_a, doc_b)
    lines += _json_diff("input_schema", a.input_schema, b.input_schema)
    lines += _json_diff("tests", _tests_by_name(a), _tests_by_name(b))
    return lines


def _table_diff(a: Table, b: Table) -> list[str]:
    # Rules are matched by their `_id`, so inserting a rule does not show every later rule as changed.
    old = {str(r.get("_id", i)): (i, r) for i, r in enumerate(a.rules, start=1)}
    new = {str(r.get("_id", i)): (i, r) for i, r in enumerate(b.rules, start=1)}
    lines = []
    for rid, (num, rule) in new.items():
        if rid not in old:
            lines.append(f"{b.name}: rule {num} added ({_describe(b, rule)})")
            continue
        old_num, old_rule = old[rid]
        if old_num != num:
            lines.append(f"{b.name}: rule {old_num} moved to position {num}")
        for col in (*b.inputs, *b.outputs):
            before, after = _cell(old_rule, col.id), _cell(rule, col.id)
            if before != after:
                lines.append(f"{b.name} / rule {num} / {col.name}: {before} → {after}")
    for rid, (num, rule) in old.items():
        if rid not in new:
            lines.append(f"{a.name}: rule {num} removed ({_describe(a, rule)})")
    return lines


def _cell(rule: dict[str, Any], column_id: str) -> str:
    value = str(rule.get(column_id) or "").strip()
    return value if value else "(any)"


def _describe(table: Table, rule: dict[str, Any]) -> str:
    parts = [f"{c.name} {_cell(rule, c.id)}" for c in table.inputs if _cell(rule, c.id) != "(any)"]
    return ", ".join(parts) or "matches everything"


def _without_rules(document: Any) -> Any:
    doc = copy.deepcopy(document)
    for node in doc.get("nodes", []) if isinstance(doc, dict) else []:
        if isinstance(node, dict) and node.get("type") == TABLE and isinstance(node.get("content"), dict):
            node["content"].pop("rules", None)
    return doc


def _tests_by_name(version: PolicyVersion) -> dict[str, Any]:
    return {t.name: t.as_dict() for t in version.tests}


def _json_diff(path: str, a: Any, b: Any) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        lines = []
        for key in [*a, *(k for k in b if k not in a)]:
            if key in _COSMETIC:
                continue
            sub = f"{path}.{key}"
            if key not in b:
                lines.append(f"{sub} removed (was {_show(a[key])})")
            elif key not in a:
                lines.append(f"{sub} added: {_show(b[key])}")
            else:
                lines += _json_diff(sub, a[key], b[key])
        return lines
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [line for i, (x, y) in enumerate(zip(a, b, strict=True)) for line in _json_diff(f"{path}[{i}]", x, y)]
    if a == b and type(a) is type(b):
        return []
    return [f"{path}: {_show(a)} → {_show(b)}"]


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
