"""Conditions and message templates, evaluated with zen's expression language.

One context serves every expression of a run: `trigger` (the event that
started it: id, type, oid, time, actor, data), `params` (the playbook's
constants), `steps` (each earlier step's output by step id) and `now`.
"""

from __future__ import annotations

import re
from typing import Any

import zen

from orderloom.core.errors import OrderloomError
from orderloom.policy.jdm import zen_reason

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_STEP_REF = re.compile(r"\bsteps\.([A-Za-z_][A-Za-z0-9_]*)")


class StepFailed(OrderloomError):
    """A step could not be carried out for a reason that a re-run would not fix; the run ends as failed."""


def expression_problem(expression: str) -> str | None:
    """Why zen cannot compile `expression`, or None when it can."""
    try:
        zen.compile_expression(expression)
    except RuntimeError as exc:
        return zen_reason(exc)
    return None


def template_problem(text: str) -> str | None:
    """Why one of the `{{ ... }}` placeholders of `text` cannot be compiled, or None."""
    if text.count("{{") != text.count("}}"):
        return "a {{ placeholder }} is not closed"
    for inner in _PLACEHOLDER.findall(text):
        if not inner.strip():
            return "a {{ }} placeholder is empty"
        if reason := expression_problem(inner.strip()):
            return f"{{{{{inner}}}}}: {reason}"
    return None


def step_references(text: str) -> set[str]:
    """The step ids an expression or template reads through `steps.<id>`."""
    return set(_STEP_REF.findall(text))


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """The value of `expression` in `context`; StepFailed with zen's reason when it cannot be computed."""
    try:
        return _plain(zen.evaluate_expression(expression, context))
    except RuntimeError as exc:
        raise StepFailed(f"{expression!r} could not be evaluated: {zen_reason(exc)}") from None


def render(value: Any, context: dict[str, Any]) -> Any:
    """`value` with every `{{ expression }}` filled in; a string that is one placeholder keeps its type."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        try:
            return _plain(zen.render_template(value, context))
        except RuntimeError as exc:
            raise StepFailed(f"{value!r} could not be filled in: {zen_reason(exc)}") from None
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def _plain(value: Any) -> Any:
    # zen hands every number back as a float; 3.0 would read as a measurement where 3 was a count.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
