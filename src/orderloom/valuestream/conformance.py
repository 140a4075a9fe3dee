"""Checking one delivered record against its contract's schema object: every rule broken, in plain words."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from orderloom.core.envelope import parse_time
from orderloom.core.errors import Problem
from orderloom.core.ids import is_valid_oid
from orderloom.valuestream.contract import ContractObject, FieldSpec

# A customer's facts live on the stream `cust.<id>`, and a stream name holds at most 64 characters.
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,58}$")
# The sender's own idempotency key; not a contract field.
RECORD_ID = "_id"
RECORD_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
# Whole numbers are stored as 64-bit integers.
_LOWEST, _HIGHEST = -(2**63), 2**63 - 1
_WORDS = {
    "string": "text",
    "integer": "a whole number (64-bit)",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date like 2026-05-01",
    "timestamp": "a timestamp with a time zone, like 2026-05-01T08:30:00+08:00",
    "array": "a list",
    "object": "an object (a set of named fields)",
}


@dataclass(frozen=True, slots=True)
class Checked:
    """A record after checking: its subject (the key's value), its fields without the key, and what is wrong."""

    subject: str | None
    fields: dict[str, Any]
    record_id: str | None
    problems: list[Problem]


def check_record(obj: ContractObject, record: Any) -> Checked:
    """Check every field of `record` against `obj`; never raises for bad input."""
    if not isinstance(record, Mapping):
        return Checked(None, {}, None, [Problem("(record)", "type", "each record must be a JSON object of fields")])
    problems: list[Problem] = []
    known = {f.name for f in obj.fields}
    problems.extend(
        Problem(
            str(k)[:200] or "(empty name)",
            "known_field",
            f"{str(k)[:80]!r} is not a field of {obj.name}; its fields are {', '.join(sorted(known))}",
        )
        for k in record
        if k not in known and k != RECORD_ID
    )
    record_id = record.get(RECORD_ID)
    if record_id is not None and (not isinstance(record_id, str) or not RECORD_ID_PATTERN.match(record_id)):
        problems.append(Problem(RECORD_ID, "format", "_id must be 1-128 letters, digits or . _ : -"))
        record_id = None
    fields: dict[str, Any] = {}
    for spec in obj.fields:
        value = record.get(spec.name)
        if value is None:
            if spec.required:
                problems.append(Problem(spec.name, "required", f"{spec.name} is required by {obj.name} but missing"))
            continue
        found = check_value(spec, value, spec.name)
        problems.extend(found)
        if not found and spec.name != obj.key:
            fields[spec.name] = value
    subject = record.get(obj.key)
    if isinstance(subject, str) and not any(p.field == obj.key for p in problems):
        problems.extend(_key_problems(obj.key, subject))
    return Checked(subject if isinstance(subject, str) else None, fields, record_id, problems)


def _key_problems(key: str, value: str) -> list[Problem]:
    if key == "oid" and not is_valid_oid(value):
        return [Problem("oid", "format", "oid must be the order id (3-64 letters, digits or . _ : -)")]
    if key == "customer_id" and not CUSTOMER_ID.match(value):
        return [Problem("customer_id", "format", "customer_id must be 1-59 letters, digits or . _ : -")]
    return []


def check_value(spec: FieldSpec, value: Any, where: str) -> list[Problem]:
    """The problems of one value (recursing into lists and objects)."""
    kind = spec.logical_type
    if not _is_type(kind, value):
        return [Problem(where, "type", f"{where} must be {_WORDS[kind]}; got {_show(value)}")]
    if kind in ("date", "timestamp"):
        try:
            date.fromisoformat(value) if kind == "date" else parse_time(value)
        except (ValueError, TypeError):
            return [Problem(where, "format", f"{where} must be {_WORDS[kind]}; got {_show(value)}")]
    problems: list[Problem] = []
    if spec.enum is not None and value not in spec.enum:
        allowed = ", ".join(str(v) for v in spec.enum)
        problems.append(Problem(where, "enum", f"{where} must be one of {allowed}; got {_show(value)}"))
    problems.extend(_option_problems(spec, value, where))
    for rule in spec.rules:
        if rule.valid_values is not None and value not in rule.valid_values:
            allowed = ", ".join(str(v) for v in rule.valid_values)
            problems.append(
                Problem(where, rule.name, f"{where} must be one of {allowed} (quality rule {rule.name}); got {value!r}")
            )
        if rule.pattern is not None and not (isinstance(value, str) and re.search(rule.pattern, value)):
            problems.append(
                Problem(where, rule.name, f"{where} does not have the expected form (quality rule {rule.name})")
            )
    if kind == "array" and spec.items is not None:
        for i, item in enumerate(value):
            problems.extend(check_value(spec.items, item, f"{where}[{i}]"))
    if kind == "object" and spec.properties:
        for sub in spec.properties:
            inner = value.get(sub.name)
            if inner is None:
                if sub.required:
                    problems.append(Problem(f"{where}.{sub.name}", "required", f"{where}.{sub.name} is required"))
                continue
            problems.extend(check_value(sub, inner, f"{where}.{sub.name}"))
    return problems


def _is_type(kind: str, value: Any) -> bool:
    if kind in ("string", "date", "timestamp"):
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and _LOWEST <= value <= _HIGHEST
    if kind == "number":
        if isinstance(value, int) and not isinstance(value, bool):
            return _LOWEST <= value <= _HIGHEST
        return isinstance(value, float) and math.isfinite(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _option_problems(spec: FieldSpec, value: Any, where: str) -> list[Problem]:
    o = spec.options
    out: list[Problem] = []
    if isinstance(value, str):
        if "minLength" in o and len(value) < o["minLength"]:
            out.append(Problem(where, "min_length", f"{where} must have at least {o['minLength']} characters"))
        if "maxLength" in o and len(value) > o["maxLength"]:
            out.append(Problem(where, "max_length", f"{where} must have at most {o['maxLength']} characters"))
        if "pattern" in o and spec.logical_type == "string" and not re.search(str(o["pattern"]), value):
            out.append(Problem(where, "pattern", f"{where} does not match the pattern {o['pattern']}; got {value!r}"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        checks = (
            ("minimum", "at least", operator.ge),
            ("maximum", "at most", operator.le),
            ("exclusiveMinimum", "above", operator.gt),
            ("exclusiveMaximum", "below", operator.lt),
        )
        for name, words, ok in checks:
            if name in o and not ok(value, o[name]):
                out.append(Problem(where, name, f"{where} must be {words} {o[name]}; got {value}"))
        if "multipleOf" in o and not math.isclose(value / o["multipleOf"], round(value / o["multipleOf"])):
            out.append(Problem(where, "multipleOf", f"{where} must be a multiple of {o['multipleOf']}; got {value}"))
    if isinstance(value, list):
        if "minItems" in o and len(value) < o["minItems"]:
            out.append(Problem(where, "min_items", f"{where} must hold at least {o['minItems']} items"))
        if "maxItems" in o and len(value) > o["maxItems"]:
            out.append(Problem(where, "max_items", f"{where} must hold at most {o['maxItems']} items"))
        if o.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            out.append(Problem(where, "unique_items", f"{where} lists the same item twice"))
    if spec.logical_type in ("date", "timestamp") and isinstance(value, str):
        out.extend(_time_bounds(spec, value, where))
    return out


def _time_bounds(spec: FieldSpec, value: str, where: str) -> list[Problem]:
    o = spec.options
    out = []
    parse = date.fromisoformat if spec.logical_type == "date" else parse_time
    try:
        moment = parse(value)
        if "minimum" in o and moment < parse(str(o["minimum"])):
            out.append(Problem(where, "minimum", f"{where} must be on or after {o['minimum']}"))
        if "maximum" in o and moment > parse(str(o["maximum"])):
            out.append(Problem(where, "maximum", f"{where} must be on or before {o['maximum']}"))
    except (ValueError, TypeError):
        pass  # a bound the contract wrote in another format is not the sender's fault
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
