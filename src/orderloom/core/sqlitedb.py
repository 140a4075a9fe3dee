"""Opening a SQLite connection the way every Orderloom file needs it: durable and patient."""

from __future__ import annotations

import sqlite3

from orderloom.core.errors import StoreUnavailable


def connect(path: str, what: str) -> sqlite3.Connection:
    """An autocommit connection usable from any thread; StoreUnavailable names `what` and the file."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        # FULL keeps every acknowledged commit on disk through a power cut (the log's
        # promise; the views' checkpoints must never point past documents that were lost).
        # Group commit pays for it instead of weakening it to NORMAL.
        conn.execute("PRAGMA synchronous=FULL")
        # Writers in other processes queue here instead of failing with "database is locked".
        conn.execute("PRAGMA busy_timeout=60000")
        return conn
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open the {what} at {path}: {exc}") from exc
