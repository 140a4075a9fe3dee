"""docs/openapi.json is the API this version serves: refresh it with `orderloom openapi --out docs/openapi.json`."""

from __future__ import annotations

import json
from pathlib import Path

from orderloom.api.reference import openapi_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_reference_is_the_served_api() -> None:
    served = json.loads(openapi_text())
    committed = json.loads(DOC.read_text(encoding="utf-8"))
    stale = sorted(set(served["paths"]) ^ set(committed["paths"]))
    assert not stale, f"docs/openapi.json is stale for {stale}: run orderloom openapi --out docs/openapi.json"
    assert served == committed, "docs/openapi.json is stale: run orderloom openapi --out docs/openapi.json"
