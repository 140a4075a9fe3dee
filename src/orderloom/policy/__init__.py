"""Versioned policies: decision graphs and routing profiles, linted, tested, rolled out."""

from orderloom.policy.diff import diff
from orderloom.policy.evaluator import EvaluationFailed, Evaluator
from orderloom.policy.examples import load_example
from orderloom.policy.golden import GoldenResult, run_golden
from orderloom.policy.lint import lint
from orderloom.policy.model import GoldenCase, PolicyVersion
from orderloom.policy.rollout import Rollout, bucket

__all__ = [
    "EvaluationFailed",
    "Evaluator",
    "GoldenCase",
    "GoldenResult",
    "PolicyVersion",
    "Rollout",
    "bucket",
    "diff",
    "lint",
    "load_example",
    "run_golden",
]
