"""Refuse policies that zen would accept but silently get wrong."""

from __future__ import annotations

import re
from typing import Any

import zen

from orderloom.core.errors import Problem
from orderloom.policy.jdm import Column, Table, tables, zen_reason
from orderloom.policy.model import KINDS, PolicyVersion
from orderloom.policy.schema import schema_problems
from orderloom.routing import budget_problems

# A lone identifier such as `SF` or `Douyin`: zen reads it as a variable, finds nothing and yields null.
_BARE_WORD = re.compile(r"^[^\W\d][\w.]*$")
_LITERAL_WORDS = {"true", "false", "null"}


def lint(version: PolicyVersion) -> list[Problem]:
    """Every problem that should stop this version from being published."""
    if version.kind not in KINDS:
        return [Problem("kind", "kind", f"unknown policy kind {version.kind!r}; use one of {', '.join(KINDS)}")]
    problems = schema_problems(version.input_schema)
    fields = set(version.input_schema.get("properties") or {}) if not problems else None
    if version.kind == "decision":
        problems += _structure(version.document)
        for table in tables(version.document):
            problems += _table(table, fields)
    elif version.kind == "playbook":
        # Imported here: the playbook package builds on the policy log, which imports this module.
        from orderloom.playbook.document import document_problems

        problems += document_problems(version.document)
    elif version.kind == "detector":
        from orderloom.valuestream.detectors_document import detector_problems

        problems += detector_problems(version.document, version.input_schema)
    else:
        problems += _routing_profile(version.document)
    return problems


def _structure(document: Any) -> list[Problem]:
    if not isinstance(document, dict):
        return [Problem("document", "structure", "the decision must be a JSON object with nodes and edges")]
    nodes, edges = document.get("nodes"), document.get("edges")
    problems = []
    if not isinstance(nodes, list) or not nodes:
        return [
            Problem("document.nodes", "structure", "the decision has no nodes; add an input, a table and an output")
        ]
    if not isinstance(edges, list):
        problems.append(Problem("document.edges", "structure", "the decision has no edges connecting its nodes"))
        edges = []
    types = [n.get("type") for n in nodes if isinstance(n, dict)]
    for wanted, words in (("inputNode", "an input node"), ("outputNode", "an output node")):
        if wanted not in types:
            problems.append(Problem("document.nodes", "structure", f"the decision needs {words}"))
    ids = {n.get("id") for n in nodes if isinstance(n, dict)}
    for i, edge in enumerate(edges):
        ends = (edge.get("sourceId"), edge.get("targetId")) if isinstance(edge, dict) else (None, None)
        if not all(end in ids for end in ends):
            problems.append(
                Problem(f"document.edges[{i}]", "structure", "this connection points at a node that does not exist")
            )
    return problems


def _table(table: Table, fields: set[str] | None) -> list[Problem]:
    problems = []
    for col in table.inputs:
        root = re.split(r"[.\[]", col.field, maxsplit=1)[0]
        if fields is not None and col.field and root not in fields:
            problems.append(
                Problem(
                    f"{table.name} / column {col.name}",
                    "unknown_field",
                    f"column {col.name!r} reads {col.field!r}, which the input schema does not define; "
                    "add it to the schema or fix the field name",
                )
            )
    if not table.rules:
        problems.append(
            Problem(table.name, "no_rules", f"table {table.name!r} has no rules, so it never decides anything")
        )
    for number, rule in enumerate(table.rules, start=1):
        for col in table.inputs:
            problems += _cell(table, number, col, rule.get(col.id), fields, unary=True)
        for col in table.outputs:
            problems += _cell(table, number, col, rule.get(col.id), fields, unary=False)
    return problems


def _cell(table: Table, number: int, col: Column, raw: Any, fields: set[str] | None, *, unary: bool) -> list[Problem]:
    where = f"{table.name} / rule {number} / {col.name}"
    cell = "" if raw is None else str(raw).strip()
    if not cell:
        return []  # an empty input cell matches anything; an empty output cell sets nothing
    try:
        # validate_unary_expression rejects valid cells such as `>= 50000`; compiling is the honest check.
        (zen.compile_unary_expression if unary else zen.compile_expression)(cell)
    except RuntimeError as exc:
        effect = "this rule would never match" if unary else "this output would be empty"
        return [
            Problem(
                where, "expression", f"{cell!r} is not a valid expression ({zen_reason(exc)}); {effect}. Fix the cell."
            )
        ]
    root = cell.split(".", 1)[0]
    if _BARE_WORD.match(cell) and cell not in _LITERAL_WORDS and root != "$" and (fields is None or root not in fields):
        return [
            Problem(
                where,
                "unquoted_text",
                f'{cell!r} is probably an unquoted text — write "{cell}" with quotes; '
                "without them zen reads it as a missing field and "
                + ("the rule never matches" if unary else "the output disappears"),
            )
        ]
    return []


def _routing_profile(document: Any) -> list[Problem]:
    if not isinstance(document, dict):
        return [Problem("document", "structure", "a routing profile must be a JSON object")]
    weights = document.get("weights")
    if not isinstance(weights, dict) or not weights:
        return [Problem("document.weights", "structure", "a routing profile needs at least one weight")]
    problems = [
        Problem(f"document.weights.{k}", "weight", f"weight {k!r} must be a number of 0 or more, not {v!r}")
        for k, v in weights.items()
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0
    ]
    known = {"cost", "lateness", "load", "split_penalty", "co2", "radius_stretch", "rejection"}
    problems += [
        Problem(
            f"document.weights.{k}",
            "known_weight",
            f"{k!r} is not a weight the router knows ({', '.join(sorted(known))})",
        )
        for k in weights
        if k not in known
    ]
    # Candidate filters: hard constraints of the profile, applied before any scoring.
    for key in ("exclude_nodes", "node_kinds", "services"):
        value = document.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(x, str) for x in value)):
            problems.append(Problem(f"document.{key}", "type", f"{key} must be a list of names"))
    soft = document.get("soft", [])
    if not isinstance(soft, list):
        problems.append(Problem("document.soft", "type", "soft must be a list of rules"))
        soft = []
    for i, rule in enumerate(soft):
        where = f"document.soft[{i}]"
        if not isinstance(rule, dict):
            problems.append(
                Problem(where, "type", 'a soft constraint is an object like {"node_kinds": ["store"], "penalty": 3}')
            )
            continue
        penalty = rule.get("penalty")
        if isinstance(penalty, bool) or not isinstance(penalty, int | float):
            problems.append(
                Problem(f"{where}.penalty", "type", "penalty must be a number of ¥ per order (negative: a bonus)")
            )
        unknown = sorted(set(rule) - {"name", "node_ids", "node_kinds", "services", "penalty"})
        problems += [
            Problem(f"{where}.{k}", "unknown_field", f"{k!r} is not a field of a soft constraint") for k in unknown
        ]
    problems += budget_problems(document.get("budgets"))
    explore = document.get("explore", 0.0)
    if isinstance(explore, bool) or not isinstance(explore, int | float) or not 0 <= explore <= 1:
        problems.append(Problem("document.explore", "range", "explore must be a number from 0 (no exploration) to 1"))
    kinds = document.get("node_kinds")
    if isinstance(kinds, list):
        allowed = {"central_wh", "forward_wh", "store", "pickup_point"}
        problems += [
            Problem("document.node_kinds", "enum", f"{k!r} is not a node kind ({', '.join(sorted(allowed))})")
            for k in kinds
            if k not in allowed
        ]
    return problems
