"""An API on a fresh SQLite store with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import Services, build_services
from orderloom.core.settings import Settings


@dataclass
class Api:
    client: TestClient
    services: Services
    keys: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'api.db'}", max_batch=50))
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "finance", "ops", "admin")}
    keys["consumer"] = svc.keys.create("consumer", "C-1")[0]
    keys["other_consumer"] = svc.keys.create("consumer", "C-2")[0]
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Api(client, svc, keys)
    svc.close()
