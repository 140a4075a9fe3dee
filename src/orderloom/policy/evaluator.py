"""Evaluate exactly the policy version asked for, on one shared zen engine."""

from __future__ import annotations

from typing import Any

import zen
from jsonschema import Draft202012Validator

from orderloom.core.errors import NotFound, OrderloomError, Problem, ValidationFailed
from orderloom.policy.jdm import decision_content, zen_reason
from orderloom.policy.model import PolicyVersion
from orderloom.policy.schema import input_problems, schema_problems, validator_for


class EvaluationFailed(OrderloomError):
    """zen could not evaluate a decision that passed lint; the message says why."""


class Evaluator:
    """Compiled decision versions by `name@version`, served through one ZenEngine."""

    def __init__(self) -> None:
        self._contents: dict[str, zen.ZenDecisionContent] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        self._digests: dict[str, str] = {}
        # engine.evaluate with a loader costs microseconds; ZenDecision.evaluate re-parses every time.
        self._engine = zen.ZenEngine({"loader": self._load})

    def add(self, version: PolicyVersion) -> None:
        """Make `version` evaluable; adding the same content twice is harmless."""
        if version.kind != "decision":
            raise ValidationFailed([Problem("kind", "kind", f"{version.key} is a {version.kind}, not a decision")])
        known = self._digests.get(version.key)
        if known is not None:
            if known != version.digest:
                raise OrderloomError(f"{version.key} is already loaded with different content; versions never change")
            return
        if bad := schema_problems(version.input_schema):
            raise ValidationFailed(bad)
        self._validators[version.key] = validator_for(version.input_schema)
        self._contents[version.key] = decision_content(version.document)
        self._digests[version.key] = version.digest

    def __contains__(self, key: object) -> bool:
        return key in self._contents

    def evaluate(self, name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """The decision of `name@version` for `data`, with a `policy`/`version` trace."""
        out = self._run(name, version, data, None)
        return {**out["result"], "policy": name, "version": version}

    def evaluate_traced(self, name: str, version: int, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Like `evaluate`, plus the ids of the table rules that matched (slower: for recorded decisions)."""
        out = self._run(name, version, data, {"trace": True})
        rules = []
        for node in (out.get("trace") or {}).values():
            trace = node.get("traceData") if isinstance(node, dict) else None
            rule = trace.get("rule") if isinstance(trace, dict) else None
            if isinstance(rule, dict) and rule.get("_id"):
                rules.append(f"{node.get('id')}/{rule['_id']}")
        return {**out["result"], "policy": name, "version": version}, rules

    def _run(
        self, name: str, version: int, data: dict[str, Any], options: zen.DecisionEvaluateOptions | None
    ) -> zen.EvaluateResponse:
        key = f"{name}@{version}"
        validator = self._validators.get(key)
        if validator is None:
            raise NotFound(f"policy {name} version {version} is not loaded")
        if problems := input_problems(validator, data):
            raise ValidationFailed(problems)
        try:
            return self._engine.evaluate(key, data, options)
        except RuntimeError as exc:
            raise EvaluationFailed(f"policy {name} version {version} failed: {zen_reason(exc)}") from exc

    def _load(self, key: str) -> zen.ZenDecisionContent:
        return self._contents[key]
