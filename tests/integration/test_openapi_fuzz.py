"""Schemathesis against the OpenAPI schema: generated requests never make the server fail.

Every operation gets a bounded number of generated requests (valid and invalid),
sent as an admin with the demo data loaded. No response may be a 5xx, and every
4xx must carry the API's readable error (a message an operations person can act on).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.sim.demo import load_demo

KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    svc = build_services(Settings(db_url=f"sqlite:///{path}"))
    load_demo(svc)
    KEY["admin"] = svc.keys.create("admin")[0]
    yield create_app(services=svc)
    svc.close()


def readable_4xx(ctx: Any, response: Any, case: Any) -> None:
    """A refused request says why, in the API's error shape."""
    if 400 <= response.status_code < 500 and response.status_code != 405:
        body = response.json()
        assert isinstance(body, dict), f"{response.status_code} without a JSON object: {body}"
        if "results" in body:  # a batch: every refused item names its field and says why
            refused = [r for r in body["results"] if r.get("status") == "rejected"]
            messages = [p.get("message") for r in refused for p in r.get("problems") or []]
            fields = [p.get("field") for r in refused for p in r.get("problems") or []]
            assert refused and all(messages) and all(fields), f"a refused batch item without a reason: {body}"
            return
        message = (body.get("error") or {}).get("message")
        assert isinstance(message, str) and message.strip(), f"{response.status_code} without a message: {body}"


# schemathesis' pytest plugin does not run on pytest 9 yet, so the operations are driven through hypothesis here.
@pytest.mark.slow
def test_no_generated_request_makes_the_server_fail(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {KEY['admin']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, readable_4xx])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every operation is tried; all failures are reported together
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:400]}")
    assert operations >= 30
    assert not failures, "\n".join(failures)
