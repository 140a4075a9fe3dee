"""Builds the view store named by a URL: memory://, sqlite:///path, postgresql://..."""

from __future__ import annotations

from orderloom.core.errors import ConfigError
from orderloom.views.port import ViewStore


def open_view_store(url: str) -> ViewStore:
    """Open the view store for `url` (drivers are imported only when used)."""
    if url.startswith("memory:"):
        from orderloom.views.memory import MemoryViewStore

        return MemoryViewStore()
    if url.startswith("sqlite:"):
        from orderloom.core.urls import sqlite_path
        from orderloom.views.sqlite import SQLiteViewStore

        return SQLiteViewStore(sqlite_path(url))
    if url.startswith(("postgresql:", "postgres:")):
        from orderloom.core.urls import take_options
        from orderloom.views.postgres import PostgresViewStore

        plain, options = take_options(url, ("schema",))
        return PostgresViewStore(plain, schema=options.get("schema") or "public")
    raise ConfigError(f"ORDERLOOM_DB_URL {url!r} is not a view store this version knows (memory, sqlite, postgresql)")
