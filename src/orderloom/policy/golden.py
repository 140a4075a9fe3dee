"""Run a policy's stored golden tests; all must pass before it is published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zen

from orderloom.core.errors import Problem
from orderloom.policy.jdm import decision_content, zen_reason
from orderloom.policy.model import GoldenCase, PolicyVersion
from orderloom.policy.schema import input_problems, schema_problems, validator_for

_MISSING = object()


@dataclass(frozen=True, slots=True)
class GoldenResult:
    """The outcome of one golden test."""

    case: str
    passed: bool
    problems: tuple[Problem, ...] = ()
    output: dict[str, Any] | None = None


def run_golden(version: PolicyVersion) -> list[GoldenResult]:
    """Evaluate every golden test of a decision or playbook version against its own document."""
    if version.kind == "playbook":
        # Imported here: the playbook package builds on the policy log, which imports this module.
        from orderloom.playbook.golden import run_playbook_golden

        return run_playbook_golden(version)
    if version.kind != "decision" or not version.tests:
        return []
    if bad := schema_problems(version.input_schema):
        return [GoldenResult(c.name, False, tuple(bad)) for c in version.tests]
    validator = validator_for(version.input_schema)
    content = decision_content(version.document)
    engine = zen.ZenEngine({"loader": lambda _key: content})
    results = []
    for case in version.tests:
        refused = input_problems(validator, case.input)
        if case.expect_rejected:
            why = (
                ()
                if refused
                else (_problem(case, "rejected", "this input should be refused by the input schema but was accepted"),)
            )
            results.append(GoldenResult(case.name, bool(refused), why))
        elif refused:
            results.append(GoldenResult(case.name, False, tuple(refused)))
        else:
            results.append(_evaluate(engine, version.key, case))
    return results


def _evaluate(engine: zen.ZenEngine, key: str, case: GoldenCase) -> GoldenResult:
    try:
        output: dict[str, Any] = engine.evaluate(key, case.input)["result"]
    except RuntimeError as exc:
        return GoldenResult(
            case.name, False, (_problem(case, "evaluation", f"the decision failed: {zen_reason(exc)}"),)
        )
    problems = tuple(_mismatches(case, case.expect, output, ""))
    return GoldenResult(case.name, not problems, problems, output)


def _mismatches(case: GoldenCase, expect: dict[str, Any], output: Any, prefix: str) -> list[Problem]:
    problems = []
    for key, wanted in expect.items():
        path = f"{prefix}{key}"
        got = output.get(key, _MISSING) if isinstance(output, dict) else _MISSING
        if isinstance(wanted, dict) and isinstance(got, dict):
            problems += _mismatches(case, wanted, got, f"{path}.")
        elif got is _MISSING:
            problems.append(
                _problem(case, "expect", f"expected {path} = {wanted!r}, but the decision gave no {path}", path)
            )
        elif not _same(got, wanted):
            problems.append(
                _problem(case, "expect", f"expected {path} = {wanted!r}, but the decision gave {got!r}", path)
            )
    return problems


def _same(got: Any, wanted: Any) -> bool:
    # Python says True == 1; a policy that outputs 1 where true was expected is still wrong.
    return bool(got == wanted) and isinstance(got, bool) == isinstance(wanted, bool)


def _problem(case: GoldenCase, rule: str, message: str, path: str = "") -> Problem:
    field = f"test {case.name!r}" + (f" / {path}" if path else "")
    return Problem(field, rule, message)
