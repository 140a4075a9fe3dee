"""Shared fixtures: service availability (never skipped when CI=true) and builders."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_URL = os.environ.get("ORDERLOOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def need_service(name: str, reachable: bool) -> None:
    """Skip when a service is missing locally; fail when CI promises it."""
    if reachable:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} must be reachable when CI=true")
    pytest.skip(f"{name} is not reachable")


def pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    need_service("PostgreSQL", pg_reachable())
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    yield schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
