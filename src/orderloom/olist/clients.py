"""The two ways to reach the API: a server at a URL, or the app inside this process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orderloom.bootstrap import Services

TIMEOUT_S = 120.0


@contextmanager
def remote_api(url: str) -> Iterator[Any]:
    """An HTTP client for a running Orderloom server."""
    import httpx2

    with httpx2.Client(base_url=url.rstrip("/"), timeout=TIMEOUT_S) as client:
        yield client


@contextmanager
def in_process_api(svc: Services, *, actor: str = "cli:olist") -> Iterator[tuple[Any, str]]:
    """The real app over `svc`'s store, called in-process, with an ops key issued now and revoked at the end.

    The lifespan runs as under a server (relay and consumers on the in-process
    bus), so views follow the replay as they would in production.
    """
    from fastapi.testclient import TestClient

    from orderloom.api.app import create_app

    key, info = svc.keys.create("ops", note="olist replay in this process", actor=actor)
    try:
        with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
            yield client, key
    finally:
        svc.keys.revoke(info.key_id, reason="olist replay finished", actor=actor)
