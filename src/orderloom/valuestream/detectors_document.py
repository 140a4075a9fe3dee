"""The detector document: a cohort, a metric, a comparison with a threshold, and a schedule.

```
{"label": {"zh": "高端耳机退货率异常", "en": "Premium headphones come back too often"},
 "cohort": {"product.category": "headphones", "product.price_tier": "premium"},
 "metric": {"kind": "return_rate", "within_days": 30},
 "compare": {"against": {"product.category": "headphones"}, "ratio_above": 2.0},
 "min_cohort": 100, "window_days": 60, "schedule": {"every": "1d"},
 "root_cause": {"exclude": ["order.sku"], "max_conditions": 3}}
```

Filters name attributes of the woven table (`order.channel`, `<domain>.<field>`
of a domain fact) and hold a value, a list of values (any of them), or a range
`{"min": 100, "max": 500}`. The policy's input schema declares the attributes
the filters read, so a misspelt attribute is refused when the detector is saved,
not silently matched by nothing for months.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from orderloom.core.errors import Problem, ValidationFailed

METRICS = ("return_rate", "complaint_rate")
METRIC_WORDS = {"return_rate": ("returned", "returns"), "complaint_rate": ("complained about", "complaints")}
_KEYS = {"label", "description", "cohort", "metric", "compare", "min_cohort", "window_days", "schedule", "root_cause"}
_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_DURATION = re.compile(r"^([0-9]+)(h|d)$")
_SCALAR = (str, int, float, bool)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}

Filters = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Detector:
    """A parsed, linted detector document."""

    cohort: dict[str, Any]
    metric: str
    within_days: int
    against: dict[str, Any] | None  # None: all orders
    ratio_above: float
    min_cohort: int
    window_days: int
    every: timedelta
    exclude_cohort: bool = False
    root_cause: dict[str, Any] = field(default_factory=dict)
    label: dict[str, str] = field(default_factory=dict)


def parse_detector(document: Any, input_schema: Mapping[str, Any] | None = None) -> Detector:
    """The detector in `document`; ValidationFailed listing every problem when it is not valid."""
    if problems := detector_problems(document, input_schema):
        raise ValidationFailed(problems)
    compare = document["compare"]
    against = compare.get("against", "all")
    return Detector(
        cohort=dict(document["cohort"]),
        metric=document["metric"]["kind"],
        within_days=int(document["metric"].get("within_days", 30)),
        against=None if against == "all" else dict(against),
        ratio_above=float(compare["ratio_above"]),
        min_cohort=int(document.get("min_cohort", 30)),
        window_days=int(document.get("window_days", 30)),
        every=_every(document.get("schedule", {}).get("every", "1d")),
        exclude_cohort=bool(compare.get("exclude_cohort", False)),
        root_cause=dict(document.get("root_cause") or {}),
        label=dict(document.get("label") or {}),
    )


def _every(text: str) -> timedelta:
    m = _DURATION.match(text)
    assert m is not None
    return timedelta(hours=int(m.group(1))) if m.group(2) == "h" else timedelta(days=int(m.group(1)))


def detector_problems(document: Any, input_schema: Mapping[str, Any] | None = None) -> list[Problem]:
    """Every problem that should stop this detector from being saved, each naming the field."""
    if not isinstance(document, dict):
        return [Problem("document", "structure", "a detector must be a JSON object with a cohort, metric and compare")]
    declared = _declared(input_schema)
    problems = [
        Problem(f"document.{k}", "unknown_field", f"{k!r} is not part of a detector ({', '.join(sorted(_KEYS))})")
        for k in sorted(set(document) - _KEYS)
    ]
    cohort = document.get("cohort")
    if not isinstance(cohort, dict) or not cohort:
        problems.append(
            Problem("document.cohort", "required", 'name the cohort, e.g. {"product.price_tier": "premium"}')
        )
    else:
        problems += filter_problems("document.cohort", cohort, declared)
    problems += _metric(document.get("metric"))
    problems += _compare(document.get("compare"), declared)
    problems += _whole("document.min_cohort", document.get("min_cohort", 30), 1, 10_000_000, "orders")
    problems += _whole("document.window_days", document.get("window_days", 30), 1, 730, "days")
    problems += _schedule(document.get("schedule", {"every": "1d"}))
    problems += _root_cause(document.get("root_cause", {}))
    label = document.get("label", {})
    if not isinstance(label, dict) or not all(isinstance(v, str) for v in label.values()):
        problems.append(Problem("document.label", "type", 'label is {"zh": "...", "en": "..."}'))
    return problems


def _declared(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    props = (schema or {}).get("properties")
    return dict(props) if isinstance(props, dict) else None


def filter_problems(where: str, filters: Mapping[str, Any], declared: Mapping[str, Any] | None) -> list[Problem]:
    """Problems of a filter object (cohort or comparison), checked against the declared attributes."""
    problems = []
    for name, value in filters.items():
        at = f"{where} / {name}"
        if not isinstance(name, str) or not _ATTRIBUTE.match(name):
            problems.append(
                Problem(at, "attribute", f"{name!r} is not an attribute name like product.category or order.channel")
            )
            continue
        if declared is not None and name not in declared:
            problems.append(
                Problem(
                    at,
                    "unknown_attribute",
                    f"{name} is not declared in the input schema; declare it there (with its type) or fix the name",
                )
            )
            continue
        problems += _value(at, value, (declared or {}).get(name))
    return problems


def _value(at: str, value: Any, spec: Any) -> list[Problem]:
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"min", "max"})
        if unknown or not value:
            return [Problem(at, "range", 'a range is {"min": 100} or {"max": 500} or both')]
        bad = [k for k, v in value.items() if isinstance(v, bool) or not isinstance(v, int | float)]
        return [Problem(f"{at} / {k}", "type", f"{k} must be a number") for k in bad]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, _SCALAR) for v in values):
        return [Problem(at, "type", "a filter holds a value, a list of values or a range")]
    if not isinstance(spec, dict):
        return []
    wanted = spec.get("type")
    types = _JSON_TYPES.get(wanted) if isinstance(wanted, str) else None
    problems = []
    for v in values:
        wrong_type = types is not None and (
            not isinstance(v, types) or (isinstance(v, bool) and wanted in ("number", "integer"))
        )
        if wrong_type:
            problems.append(Problem(at, "type", f"{v!r} is not {wanted}, but the input schema declares {wanted}"))
        elif isinstance(spec.get("enum"), list) and v not in spec["enum"]:
            allowed = ", ".join(str(x) for x in spec["enum"])
            problems.append(Problem(at, "enum", f"{v!r} is not one of the declared values ({allowed})"))
    return problems


def _metric(metric: Any) -> list[Problem]:
    if not isinstance(metric, dict):
        return [Problem("document.metric", "required", 'say what to measure, e.g. {"kind": "return_rate"}')]
    problems = []
    if metric.get("kind") not in METRICS:
        problems.append(Problem("document.metric.kind", "enum", f"the metric kind is one of {', '.join(METRICS)}"))
    problems += _whole("document.metric.within_days", metric.get("within_days", 30), 1, 365, "days after delivery")
    problems += [
        Problem(f"document.metric.{k}", "unknown_field", f"{k!r} is not part of a metric (kind, within_days)")
        for k in sorted(set(metric) - {"kind", "within_days"})
    ]
    return problems


def _compare(compare: Any, declared: Mapping[str, Any] | None) -> list[Problem]:
    if not isinstance(compare, dict):
        return [
            Problem(
                "document.compare", "required", 'say what to compare with, e.g. {"against": "all", "ratio_above": 2}'
            )
        ]
    problems = []
    against = compare.get("against", "all")
    if against != "all":
        if not isinstance(against, dict) or not against:
            problems.append(
                Problem(
                    "document.compare.against",
                    "type",
                    'against is "all" or filters such as {"product.category": "headphones"}',
                )
            )
        else:
            problems += filter_problems("document.compare.against", against, declared)
    ratio = compare.get("ratio_above")
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio <= 1:
        problems.append(
            Problem(
                "document.compare.ratio_above",
                "range",
                "ratio_above must be a number above 1; 2 fires when the cohort's rate is over twice the comparison's",
            )
        )
    if not isinstance(compare.get("exclude_cohort", False), bool):
        problems.append(Problem("document.compare.exclude_cohort", "type", "exclude_cohort must be true or false"))
    problems += [
        Problem(
            f"document.compare.{k}",
            "unknown_field",
            f"{k!r} is not part of compare (against, ratio_above, exclude_cohort)",
        )
        for k in sorted(set(compare) - {"against", "ratio_above", "exclude_cohort"})
    ]
    return problems


def _whole(where: str, value: Any, low: int, high: int, unit: str) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [
            Problem(where, "range", f"{where.rsplit('.', 1)[-1]} must be a whole number of {unit} from {low} to {high}")
        ]
    return []


def _schedule(schedule: Any) -> list[Problem]:
    every = schedule.get("every") if isinstance(schedule, dict) else None
    m = _DURATION.match(every) if isinstance(every, str) else None
    if m is None or int(m.group(1)) == 0:
        return [
            Problem("document.schedule.every", "format", 'how often to check, e.g. "6h" or "1d" (whole hours or days)')
        ]
    return []


def _root_cause(spec: Any) -> list[Problem]:
    if not isinstance(spec, dict):
        return [Problem("document.root_cause", "type", 'root_cause is an object like {"exclude": ["order.sku"]}')]
    problems = []
    exclude = spec.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) and _ATTRIBUTE.match(x) for x in exclude):
        problems.append(Problem("document.root_cause.exclude", "type", "exclude is a list of attribute names"))
    depth = spec.get("max_conditions", 3)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 3:
        problems.append(Problem("document.root_cause.max_conditions", "range", "combine 1 to 3 attributes"))
    problems += [
        Problem(
            f"document.root_cause.{k}", "unknown_field", f"{k!r} is not part of root_cause (exclude, max_conditions)"
        )
        for k in sorted(set(spec) - {"exclude", "max_conditions"})
    ]
    return problems


def matches(attributes: Mapping[str, Any], filters: Filters) -> bool:
    """Whether an order's attributes pass every filter (an unknown attribute passes none)."""
    for name, wanted in filters.items():
        value = attributes.get(name)
        if value is None:
            return False
        if isinstance(wanted, dict):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if ("min" in wanted and value < wanted["min"]) or ("max" in wanted and value > wanted["max"]):
                return False
        elif isinstance(wanted, list):
            if value not in wanted:
                return False
        elif value != wanted or isinstance(value, bool) != isinstance(wanted, bool):
            return False
    return True
