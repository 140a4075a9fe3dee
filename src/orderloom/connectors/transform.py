"""Applying a mapping spec to one payload: pure, apart from the order-number lookup it is handed.

Every problem names the target field, where its value came from and the
rule it broke, so a 422 tells the sender which of *their* fields to fix.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from orderloom.connectors.paths import MISSING, Path, get, put
from orderloom.connectors.spec import MappingSpec, Rule, map_key
from orderloom.connectors.units import convert
from orderloom.core.envelope import format_time, parse_time
from orderloom.core.errors import Problem, ValidationFailed

Resolve = Callable[[str, str], str | None]  # (system, number) -> oid
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
# Epoch numbers above this are milliseconds: 1e11 seconds is the year 5138.
_EPOCH_MS = 1e11


class _Broken(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def apply_spec(spec: MappingSpec, payload: Any, *, resolve: Resolve | None = None) -> list[dict[str, Any]]:
    """The documents `payload` maps to (one, or one per item of `each`); ValidationFailed names every bad field."""
    items: list[Any] = [payload]
    if spec.each is not None:
        found = get(spec.each, payload, payload)
        if not isinstance(found, list) or not found:
            raise ValidationFailed(
                [Problem(spec.each.text, "required", f"the payload has no list of items at {spec.each.text}")]
            )
        items = found
    docs: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for n, item in enumerate(items):
        prefix = f"{spec.each.text}[{n}]: " if spec.each is not None else ""
        doc, found_problems = _fill(spec.fields, item, payload, resolve, prefix)
        problems.extend(found_problems)
        docs.append(_finish(spec, doc))
    if problems:
        raise ValidationFailed(problems)
    return docs


def _finish(spec: MappingSpec, doc: dict[str, Any]) -> dict[str, Any]:
    """Defaults for the envelope, so an unmapped id is still deterministic and a re-send stays a duplicate."""
    if spec.kind in ("event", "order") and "source" not in doc:
        doc["source"] = f"connector/{spec.connector}"
    if spec.kind == "event" and "id" not in doc:
        digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
        doc["id"] = f"{spec.connector}-{digest[:40]}"
    return doc


def _fill(
    rules: tuple[Rule, ...], item: Any, root: Any, resolve: Resolve | None, prefix: str
) -> tuple[dict[str, Any], list[Problem]]:
    doc: dict[str, Any] = {}
    problems: list[Problem] = []
    for rule in rules:
        if rule.when is not None and not _holds(rule, item, root):
            continue
        try:
            value = _value(rule, item, root, resolve, prefix)
        except _Broken as exc:
            problems.append(Problem(rule.target.text, exc.rule, f"{prefix}{rule.target.text}: {exc.message}"))
            continue
        except ValidationFailed as exc:  # from the items of an `each`
            problems.extend(exc.problems)
            continue
        if value is not MISSING:
            put(doc, rule.target, value)
    return doc, problems


def _holds(rule: Rule, item: Any, root: Any) -> bool:
    assert rule.when is not None
    found = get(rule.when.path, item, root)
    return found is not MISSING and found is not None and map_key(found) in rule.when.values


def _value(rule: Rule, item: Any, root: Any, resolve: Resolve | None, prefix: str) -> Any:
    value = _source(rule, item, root, resolve, prefix)
    if value is MISSING or value is None:
        if rule.has_default:
            return rule.default
        if rule.required:
            raise _Broken("required", f"is required, but the payload has no {rule.source()}")
        return MISSING
    if rule.each is not None:
        return value
    if rule.case is not None and isinstance(value, str):
        value = value.lower() if rule.case == "lower" else value.upper()
    if rule.value_map is not None:
        value = _mapped(rule, value)
    if rule.cast is not None:
        value = _cast(rule.cast, value, rule)
    if rule.convert is not None:
        number = _number(value, rule)
        value = convert(number, *rule.convert)
    if rule.round_to is not None:
        number = _number(value, rule)
        value = round(number, rule.round_to) if rule.round_to else round(number)
    if rule.digest is not None:
        text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        value = hashlib.sha256(text.encode()).hexdigest()
    if rule.lookup is not None:
        value = _lookup(rule, value, resolve)
    return value


def _source(rule: Rule, item: Any, root: Any, resolve: Resolve | None, prefix: str) -> Any:
    if rule.has_const:
        return rule.const
    for template in rule.templates:
        out = []
        for part in template.parts:
            if isinstance(part, Path):
                found = get(part, item, root)
                if found is MISSING or found is None:
                    break
                out.append(found if isinstance(found, str) else _text(found))
            else:
                out.append(part)
        else:
            return "".join(out)
    if rule.templates:
        return MISSING
    if rule.each is not None:
        found = get(rule.each, item, root)
        if found is MISSING or found is None:
            return MISSING
        if not isinstance(found, list):
            raise _Broken("type", f"{rule.each.text} must be a list, got {_shown(found)}")
        rows = []
        problems: list[Problem] = []
        for n, element in enumerate(found):
            sub_prefix = f"{prefix}{rule.target.text}[{n}]."
            doc, sub = _fill(rule.fields, element, root, resolve, sub_prefix)
            for p in sub:
                problems.append(Problem(f"{rule.target.text}[{n}].{p.field}", p.rule, p.message))
            rows.append(doc)
        if problems:
            raise ValidationFailed(problems)
        return rows
    for path in rule.paths:
        found = get(path, item, root)
        if found is not MISSING and found is not None:
            return found
    return MISSING


def _mapped(rule: Rule, value: Any) -> Any:
    assert rule.value_map is not None
    key = map_key(value) if not isinstance(value, (dict, list)) else _text(value)
    if key in rule.value_map:
        return rule.value_map[key]
    if rule.has_otherwise:
        return rule.otherwise
    known = ", ".join(list(rule.value_map)[:20])
    raise _Broken("map", f"{_shown(value)} from {rule.source()} is not one of the mapped values ({known})")


def _cast(kind: str, value: Any, rule: Rule) -> Any:
    if kind == "string":
        if isinstance(value, (dict, list)):
            raise _Broken("type", f"expected text from {rule.source()}, got {_shown(value)}")
        return value if isinstance(value, str) else _text(value)
    if kind == "integer":
        number = _number(value, rule)
        if not float(number).is_integer():
            raise _Broken("type", f"expected a whole number from {rule.source()}, got {_shown(value)}")
        return int(number)
    if kind == "number":
        return _number(value, rule)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _Broken("type", f"expected true or false from {rule.source()}, got {_shown(value)}")
    if kind == "time":
        return _time(value, rule)
    # json: text holding a JSON value (a CSV cell with an object or a list)
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise _Broken("type", f"expected JSON text from {rule.source()}, got {_shown(value)}") from None


def _number(value: Any, rule: Rule) -> float | int:
    if isinstance(value, bool):
        raise _Broken("type", f"expected a number from {rule.source()}, got {_shown(value)}")
    if isinstance(value, (int, float)):
        number: float | int = value
    elif isinstance(value, str):
        try:
            text = value.strip().replace(",", "")
            number = int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            raise _Broken("type", f"expected a number from {rule.source()}, got {_shown(value)}") from None
    else:
        raise _Broken("type", f"expected a number from {rule.source()}, got {_shown(value)}")
    if isinstance(number, float) and not math.isfinite(number):
        raise _Broken("type", f"expected a finite number from {rule.source()}, got {_shown(value)}")
    return number


def _time(value: Any, rule: Rule) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > _EPOCH_MS else value
        try:
            return format_time(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise _Broken("format", f"{_shown(value)} from {rule.source()} is not a usable epoch time") from None
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return _time(float(text), rule)
        try:
            parse_time(text)
        except ValueError as exc:
            raise _Broken("format", f"{_shown(value)} from {rule.source()} is not a time: {exc}") from None
        return text
    raise _Broken("format", f"expected a time from {rule.source()}, got {_shown(value)}")


def _lookup(rule: Rule, value: Any, resolve: Resolve | None) -> str:
    assert rule.lookup is not None
    number = value if isinstance(value, str) else _text(value)
    oid = resolve(rule.lookup, number) if resolve is not None else None
    if oid is None:
        raise _Broken(
            "known_order",
            f"no order is linked to {rule.lookup} order number {number} (from {rule.source()}); "
            "place the order with that source reference first",
        )
    return oid


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _text(value)
    return text if len(text) <= 60 else text[:57] + "..."
