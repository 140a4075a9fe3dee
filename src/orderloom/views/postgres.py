"""PostgresViewStore: read models and checkpoints in a PostgreSQL schema.

Documents are JSONB, so operators can query views in plain SQL. Keys use
the "C" collation so `scan` pages in code-point order, as the other adapters do. Reading a
checkpoint inside a transaction locks its row until commit: two processes
running the same consumer then take turns, and the second sees the first's
checkpoint instead of applying the same events again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from orderloom.core.errors import ConfigError, StoreUnavailable
from orderloom.views.port import Doc, ViewStore, ViewTx

SCHEMA = """
CREATE TABLE IF NOT EXISTS view_docs (
    view TEXT NOT NULL,
    key  TEXT COLLATE "C" NOT NULL,
    doc  JSONB NOT NULL,
    PRIMARY KEY (view, key)
);
CREATE TABLE IF NOT EXISTS view_checkpoints (
    name     TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
"""

_CONNECT_TIMEOUT = 10

Conn = psycopg.Connection[tuple[Any, ...]]


def _parse(url: str) -> dict[str, Any]:
    try:
        return conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise ConfigError(f"the PostgreSQL address for the view store is not a valid URL: {exc}") from exc


class _PostgresTx(ViewTx):
    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def get(self, view: str, key: str) -> Doc | None:
        return self.get_many(view, [key]).get(key)

    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, Doc]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        # doc::text and orjson: several times faster than psycopg's json loader for big batches.
        rows = self._conn.execute(
            "SELECT key, doc::text FROM view_docs WHERE view = %s AND key = ANY(%s)", (view, wanted)
        ).fetchall()
        return {key: orjson.loads(doc) for key, doc in rows}

    def put_many(self, view: str, docs: Mapping[str, Doc]) -> None:
        self.put_json(view, {k: orjson.dumps(d) for k, d in docs.items()})

    def put_json(self, view: str, docs: Mapping[str, bytes]) -> None:
        if not docs:
            return
        keys = list(docs)
        texts = [docs[k].decode() for k in keys]
        # The arrays go in binary (%b): as text, psycopg escapes every quote of every
        # document with a regular expression, which cost more than the rest of the write.
        self._conn.execute(
            "INSERT INTO view_docs (view, key, doc)"
            " SELECT %s, k, d::jsonb FROM unnest(%b::text[], %b::text[]) AS u (k, d)"
            " ON CONFLICT (view, key) DO UPDATE SET doc = EXCLUDED.doc",
            (view, keys, texts),
        )

    def checkpoint(self, name: str) -> int:
        # The row must exist to be locked; a missing one would let two runners both start from 0.
        # One statement creates or locks it (the no-op update takes the row lock, as FOR UPDATE
        # would) and returns it: one round trip instead of two on every consumer transaction.
        row = self._conn.execute(
            "INSERT INTO view_checkpoints (name, position) VALUES (%s, 0)"
            " ON CONFLICT (name) DO UPDATE SET position = view_checkpoints.position RETURNING position",
            (name,),
        ).fetchone()
        return int(row[0]) if row else 0

    def set_checkpoint(self, name: str, position: int) -> None:
        self._conn.execute(
            "INSERT INTO view_checkpoints (name, position) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position",
            (name, position),
        )

    def clear(self, view: str) -> None:
        self._conn.execute("DELETE FROM view_docs WHERE view = %s", (view,))
        self._conn.execute("DELETE FROM view_checkpoints WHERE name = %s", (view,))


class PostgresViewStore(ViewStore):
    """View store in one PostgreSQL schema, safe for consumers in many processes."""

    def __init__(self, url: str, schema: str = "public") -> None:
        self._schema = schema
        params = _parse(url)
        # Built from parsed parts so a password in the URL never reaches a message.
        host, dbname = params.get("host") or "localhost", params.get("dbname") or "(default)"
        self._where = f"PostgreSQL database {dbname} on {host}, schema {schema}"
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            kwargs["connect_timeout"] = _CONNECT_TIMEOUT
        self._create_schema(url, kwargs)
        try:
            self._pool: ConnectionPool[Conn] = ConnectionPool(
                url,
                min_size=1,
                max_size=8,
                kwargs=kwargs,
                configure=self._use_schema,
                open=True,
                name=f"orderloom-views-{schema}",
            )
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to the view store ({self._where}): {exc}") from exc

    def _use_schema(self, conn: Conn) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        # Views are derived data: a crash may lose the last few view commits, but
        # each commit holds its documents and checkpoint together, so the runner
        # simply re-applies from the log. Not waiting for the WAL flush takes a
        # disk sync off every event's way to the views (the log itself keeps it).
        conn.execute("SET synchronous_commit = off")

    def _create_schema(self, url: str, kwargs: dict[str, Any]) -> None:
        try:
            with psycopg.connect(url, **kwargs) as conn, conn.transaction():
                # CREATE ... IF NOT EXISTS is not safe against a concurrent twin
                # (both pass the check, one fails on the catalog's unique index).
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"orderloom-views:{self._schema}",)
                )
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema)))
                self._use_schema(conn)
                conn.execute(SCHEMA)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot create the view store tables ({self._where}): {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[ViewTx]:
        try:
            # Pipeline mode: statements whose results nobody reads (document writes, checkpoint
            # moves, COMMIT) go out with the next one that is read, instead of a round trip each.
            # A consumer's transaction takes about 5 round trips instead of 12, and each is a
            # wake-up of the server process: on a busy machine, the bulk of an event's way to the views.
            with self._pool.connection() as conn, conn.transaction():
                yield _PostgresTx(conn)
        except psycopg.Error as exc:
            # If the connection drops during COMMIT the outcome is unknown; re-applying
            # is safe because the checkpoint committed with the documents or not at all.
            raise StoreUnavailable(f"the view store ({self._where}) refused a write: {exc}") from exc

    def read(self, view: str, key: str) -> Doc | None:
        rows = self._query("SELECT doc::text FROM view_docs WHERE view = %s AND key = %s", (view, key))
        return orjson.loads(rows[0][0]) if rows else None

    def scan(self, view: str, limit: int = 1000, after_key: str | None = None) -> list[tuple[str, Doc]]:
        if after_key is None:
            rows = self._query(
                "SELECT key, doc::text FROM view_docs WHERE view = %s ORDER BY key LIMIT %s", (view, limit)
            )
        else:
            rows = self._query(
                "SELECT key, doc::text FROM view_docs WHERE view = %s AND key > %s ORDER BY key LIMIT %s",
                (view, after_key, limit),
            )
        return [(str(key), orjson.loads(doc)) for key, doc in rows]

    def checkpoint(self, name: str) -> int:
        rows = self._query("SELECT position FROM view_checkpoints WHERE name = %s", (name,))
        return int(rows[0][0]) if rows else 0

    def _query(self, query: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                return conn.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"the view store ({self._where}) could not be read: {exc}") from exc

    def close(self) -> None:
        self._pool.close()
