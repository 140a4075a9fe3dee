"""Example policies shipped with Orderloom, loaded from `policy/examples/`."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from orderloom.policy.model import GoldenCase, PolicyVersion


def load_example(name: str, version: int = 1) -> PolicyVersion:
    """The shipped example policy `name` as an unsaved version."""
    text = resources.files("orderloom.policy").joinpath("examples", f"{name}.json").read_text(encoding="utf-8")
    raw: dict[str, Any] = json.loads(text)
    return PolicyVersion(
        name=raw["name"],
        version=version,
        kind=raw["kind"],
        document=raw["document"],
        input_schema=raw["input_schema"],
        tests=tuple(GoldenCase.from_dict(t) for t in raw.get("tests", [])),
        note=raw.get("note", ""),
        author=raw.get("author", "orderloom"),
    )
