"""SQLiteViewStore: read models and checkpoints in a WAL-mode SQLite file.

The file may be the event store's own: the tables are named so they never
clash with the log's. Writes go through one connection, one transaction at a
time; BEGIN IMMEDIATE takes SQLite's write lock up front, so two processes
running the same consumer queue on busy_timeout instead of both reading the
same checkpoint and both applying the batch after it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import orjson

from orderloom.core.errors import StoreUnavailable
from orderloom.core.sqlitedb import connect
from orderloom.views.port import Doc, ViewStore, ViewTx

SCHEMA = """
CREATE TABLE IF NOT EXISTS view_docs (
    view TEXT NOT NULL,
    key  TEXT NOT NULL,
    doc  TEXT NOT NULL,
    PRIMARY KEY (view, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS view_checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Well under SQLite's bound-parameter limit (32,766 since 3.32, 999 before).
_CHUNK = 900


class _SQLiteTx(ViewTx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, view: str, key: str) -> Doc | None:
        row = self._conn.execute("SELECT doc FROM view_docs WHERE view = ? AND key = ?", (view, key)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, Doc]:
        wanted = list(dict.fromkeys(keys))
        out: dict[str, Doc] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, doc in self._conn.execute(
                f"SELECT key, doc FROM view_docs WHERE view = ? AND key IN ({marks})", (view, *chunk)
            ):
                out[key] = orjson.loads(doc)
        return out

    def put_many(self, view: str, docs: Mapping[str, Doc]) -> None:
        rows = [(view, key, orjson.dumps(doc).decode()) for key, doc in docs.items()]
        self._conn.executemany("INSERT OR REPLACE INTO view_docs (view, key, doc) VALUES (?, ?, ?)", rows)

    def put_json(self, view: str, docs: Mapping[str, bytes]) -> None:
        # Stored as TEXT, as put_many stores it (SQLite's JSON functions refuse BLOBs). CAST re-labels
        # the UTF-8 bytes in SQLite; decoding them to str here only to have them encoded again cost more.
        rows = [(view, key, doc) for key, doc in docs.items()]
        self._conn.executemany("INSERT OR REPLACE INTO view_docs (view, key, doc) VALUES (?, ?, CAST(? AS TEXT))", rows)

    def checkpoint(self, name: str) -> int:
        row = self._conn.execute("SELECT position FROM view_checkpoints WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def set_checkpoint(self, name: str, position: int) -> None:
        self._conn.execute("INSERT OR REPLACE INTO view_checkpoints (name, position) VALUES (?, ?)", (name, position))

    def clear(self, view: str) -> None:
        self._conn.execute("DELETE FROM view_docs WHERE view = ?", (view,))
        self._conn.execute("DELETE FROM view_checkpoints WHERE name = ?", (view,))


class SQLiteViewStore(ViewStore):
    """View store in one SQLite file (possibly shared with the event store), durable on every commit."""

    def __init__(self, path: str) -> None:
        self._path = path
        if path != ":memory:" and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        try:
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self._writer.close()
            raise StoreUnavailable(f"cannot open the view store at {path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        return connect(self._path, "view store")

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[ViewTx]:
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the view store at {self._path} refused a write: {exc}") from exc
            try:
                yield _SQLiteTx(conn)
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable(f"the view store at {self._path} refused a write: {exc}") from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreUnavailable(f"the view store at {self._path} could not commit: {exc}") from exc

    def read(self, view: str, key: str) -> Doc | None:
        rows = self._query("SELECT doc FROM view_docs WHERE view = ? AND key = ?", (view, key))
        return orjson.loads(rows[0][0]) if rows else None

    def scan(self, view: str, limit: int = 1000, after_key: str | None = None) -> list[tuple[str, Doc]]:
        if after_key is None:
            rows = self._query("SELECT key, doc FROM view_docs WHERE view = ? ORDER BY key LIMIT ?", (view, limit))
        else:
            rows = self._query(
                "SELECT key, doc FROM view_docs WHERE view = ? AND key > ? ORDER BY key LIMIT ?",
                (view, after_key, limit),
            )
        return [(str(key), orjson.loads(doc)) for key, doc in rows]

    def checkpoint(self, name: str) -> int:
        rows = self._query("SELECT position FROM view_checkpoints WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the view store at {self._path} could not be read: {exc}") from exc

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
