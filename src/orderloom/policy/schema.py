"""Policy input schemas: compile once, report violations in plain words."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from orderloom.core.errors import Problem

_TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "a text",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "empty (null)",
}


def schema_problems(schema: Any) -> list[Problem]:
    """Problems that stop `schema` from being used as an input schema."""
    if not isinstance(schema, dict):
        return [Problem("input_schema", "schema", "the input schema must be a JSON object")]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "input_schema" + "".join(f".{p}" for p in exc.path)
        return [Problem(where, "schema", f"the input schema is not valid JSON Schema: {exc.message}")]
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return [Problem("input_schema", "schema", "the input schema must describe an object with `properties`")]
    return []


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for an input schema already checked by `schema_problems`."""
    return Draft202012Validator(schema)


def input_problems(validator: Draft202012Validator, value: Any) -> list[Problem]:
    """Every way `value` breaks the input schema, one Problem each."""
    return [_problem(e) for e in sorted(validator.iter_errors(value), key=lambda e: list(e.path))]


def _problem(error: ValidationError) -> Problem:
    field = ".".join(str(p) for p in error.absolute_path) or "input"
    if error.validator == "type":
        wanted: Any = error.validator_value
        names = [str(t) for t in (wanted if isinstance(wanted, list) else [wanted])]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in names)
        # The no-coercion trap: "80000" never matches `>= 50000`, so say so outright.
        message = f"{field} must be {words}, but {error.instance!r} was sent"
        if isinstance(error.instance, str) and "number" in str(wanted):
            message += "; send the number without quotes"
        return Problem(field, "type", message)
    if error.validator == "required":
        return Problem(field, "required", error.message.replace("is a required property", "is missing"))
    return Problem(field, str(error.validator), error.message)
