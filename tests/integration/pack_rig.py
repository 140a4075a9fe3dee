"""An API on a SQLite file with a manual clock, restartable, for the industry packs' end-to-end tests.

Pack event types and signal types load when a process starts (from the log's
`pack.installed`), so each test installs through one app, then restarts on
the same file, exactly as an operator would.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.dictionary import load_dictionary
from tests.integration.conftest import Api

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ROLES = ("cs", "finance", "ops", "admin")


class PackRig:
    """One SQLite file, one clock and one set of keys, across restarts of the API."""

    def __init__(self, tmp: Path) -> None:
        self.settings = Settings(db_url=f"sqlite:///{tmp / 'packs.db'}")
        self.clock = ManualClock(T0)
        self.keys: dict[str, str] = {}

    @contextmanager
    def api(self) -> Iterator[Api]:
        """A running app on the file (keys are created on the first start and stay valid after)."""
        svc = build_services(self.settings, clock=self.clock)
        if not self.keys:
            self.keys = {role: svc.keys.create(role)[0] for role in ROLES}
            self.keys["consumer"] = svc.keys.create("consumer", "C-1")[0]
        try:
            with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
                yield Api(client, svc, self.keys)
        finally:
            svc.close()

    def install(self, name: str) -> dict[str, Any]:
        """Install a pack over HTTP as an admin, then let the caller restart."""
        with self.api() as api:
            r = api.client.post(f"/v1/packs/{name}/install", headers=api.as_("admin"))
            assert r.status_code == 200, r.text
            report: dict[str, Any] = r.json()
            return report


@cache
def _order_example() -> dict[str, Any]:
    return dict(load_dictionary().types["order.placed"].example["data"])


def order_body(oid: str, **changes: Any) -> dict[str, Any]:
    """A valid order (the dictionary's example) with `oid`, customer C-1, placed at the clock's T0."""
    body: dict[str, Any] = copy.deepcopy(_order_example())
    body.pop("source_refs", None)
    body.update(oid=oid, time=T0.isoformat())
    body["customer"]["id"] = "C-1"
    body.update(changes)
    return body


def event(eid: str, etype: str, oid: str, data: dict[str, Any], time: datetime = T0) -> dict[str, Any]:
    """One event as POST /v1/events takes it."""
    return {"id": eid, "type": etype, "source": "erp", "oid": oid, "time": time.isoformat(), "data": data}
