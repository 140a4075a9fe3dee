"""Builds the store named by a URL: memory://, sqlite:///path, postgresql://..."""

from __future__ import annotations

from orderloom.core.errors import ConfigError
from orderloom.store.port import EventStore


def open_store(url: str) -> EventStore:
    """Open the event store for `url` (drivers are imported only when used)."""
    if url.startswith("memory:"):
        from orderloom.store.memory import MemoryEventStore

        return MemoryEventStore()
    if url.startswith("sqlite:"):
        from orderloom.core.urls import sqlite_path
        from orderloom.store.sqlite import SQLiteEventStore

        return SQLiteEventStore(sqlite_path(url))
    if url.startswith(("postgresql:", "postgres:")):
        from orderloom.core.urls import take_options
        from orderloom.store.postgres import PostgresEventStore

        plain, options = take_options(url, ("schema",))
        return PostgresEventStore(plain, schema=options.get("schema") or "public")
    raise ConfigError(f"ORDERLOOM_DB_URL {url!r} is not a store this version knows (memory, sqlite, postgresql)")
