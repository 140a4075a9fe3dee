"""DuckDB in memory over the log: the embedded analytics adapter.

The database lives in this process and is rebuilt from the log on start, like
every view. It is fed through the EventStore port page by page from the last
loaded position, so it works the same over SQLite and PostgreSQL; the
sqlite/postgres scanner extensions are not needed (and the machine may be
offline: DuckDB is never allowed to install or load an extension by itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import ConfigError, Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary
from orderloom.status.analytics import sql
from orderloom.status.analytics.port import Cell, DwellAnalytics, Loaded, Mask, Step
from orderloom.status.analytics.query import DEFAULT_TZ, DwellQuery
from orderloom.status.analytics.rows import SYSTEM_STREAMS, EventRows
from orderloom.status.analytics.typical import TypicalBook
from orderloom.status.analytics.visibility import chain_types, full_mask
from orderloom.store.follow import iter_log
from orderloom.store.port import EventStore

# Extensions the Python wheel carries (parquet, json, icu) are already loaded; nothing else may be fetched.
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can never download or autoload an extension."""
    con = duckdb.connect(":memory:", config=dict(OFFLINE))
    # Locked, so no later statement can turn autoinstall back on.
    con.execute("SET lock_configuration = true")
    return con


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@dataclass(slots=True)
class _Cached:
    book: TypicalBook
    position: int
    at: float


class DuckDBDwellAnalytics(DwellAnalytics):
    """Steps and dwell percentiles in an in-process DuckDB, loaded incrementally from the log."""

    def __init__(
        self,
        store: EventStore,
        dictionary: Dictionary,
        *,
        tz: str = DEFAULT_TZ,
        system_streams: Iterable[str] = SYSTEM_STREAMS,
        chunk: int = 100_000,
        min_node_count: int = 20,
        typical_max_age_s: float = 60.0,
    ) -> None:
        self.store = store
        self.dictionary = dictionary
        self.tz = tz
        self.position = 0
        self._system = tuple(system_streams)
        self._chunk = chunk
        self._min_node_count = min_node_count
        self._typical_max_age_s = typical_max_age_s
        self._full = full_mask(dictionary)
        self._typical: dict[Mask, _Cached] = {}
        self._has_steps = False
        self._zones: set[str] = set()
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None

    # -- the database

    def _db(self) -> duckdb.DuckDBPyConnection:
        """Connect on first use, so building the adapter does no I/O."""
        if self._con is None:
            con = connect()
            try:
                con.execute("SELECT TIMESTAMP '2026-01-01' AT TIME ZONE $tz", {"tz": self.tz})
            except duckdb.Error:
                con.close()
                raise ConfigError(f"analytics time zone {self.tz!r} is not known; use one like Asia/Shanghai") from None
            for statement in sql.SCHEMA:
                con.execute(statement)
            types = chain_types(self.dictionary)
            con.executemany(
                "INSERT INTO event_types VALUES (?, ?, ?)", [(tid, t.stage, t.leg) for tid, t in types.items()]
            )
            self._con = con
        return self._con

    def _zone(self, con: duckdb.DuckDBPyConnection, tz: str) -> None:
        """Refuse a time zone DuckDB's ICU does not know, naming the parameter (it is the caller's input)."""
        if tz in self._zones:
            return
        try:
            con.execute("SELECT TIMESTAMP '2026-01-01' AT TIME ZONE $tz", {"tz": tz})
        except duckdb.Error:
            raise ValidationFailed(
                [Problem("tz", "time_zone", f"tz {tz!r} is not a time zone name; use one like Asia/Shanghai or UTC")]
            ) from None
        self._zones.add(tz)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    # -- loading

    def refresh(self) -> Loaded:
        with self._lock:
            con = self._db()
            started = time.perf_counter()
            rows = EventRows(self.dictionary, self._system)
            read = loaded = 0
            last = self.position
            con.begin()
            try:
                for e in iter_log(self.store, after=self.position):
                    read += 1
                    last = e.position
                    rows.add(e)
                    if len(rows) >= self._chunk:
                        loaded += self._load(con, rows)
                if len(rows):
                    loaded += self._load(con, rows)
                (orders,) = con.execute("SELECT count(DISTINCT oid) FROM touched").fetchone() or (0,)
                if loaded:
                    self._derive(con)
                con.commit()
            except BaseException:
                con.rollback()
                raise
            self._has_steps = self._has_steps or loaded > 0
            self.position = last
            return Loaded(last, read, loaded, int(orders), time.perf_counter() - started)

    def _load(self, con: duckdb.DuckDBPyConnection, rows: EventRows) -> int:
        """Bulk-insert the buffered events (NumPy arrays, no per-row round trips); returns how many."""
        n = len(rows)
        con.register("batch", rows.arrays())
        try:
            con.execute(sql.INSERT_BATCH.format(batch="batch"))
            con.execute(sql.TOUCH.format(batch="batch"))
        finally:
            con.unregister("batch")
        rows.clear()
        return n

    def _derive(self, con: duckdb.DuckDBPyConnection) -> None:
        """Recompute the steps of every touched order: a late event can change any step of its order."""
        if self._has_steps:
            con.execute("DELETE FROM steps WHERE oid IN (SELECT DISTINCT oid FROM touched)")
            con.execute(sql.materialize_steps("touched"), {"tz": self.tz})
        else:
            con.execute(sql.materialize_steps("all"), {"tz": self.tz})
        con.execute("DELETE FROM touched")

    # -- questions

    def _filters(self, query: DwellQuery, types: Collection[str] | None) -> sql.Where:
        every = types is None or set(types) >= self._full.types
        return sql.step_filters(
            start=query.start,
            end=query.end,
            node=query.node,
            stage=query.stage,
            types=None if every else sorted(types or ()),
        )

    def dwell(self, query: DwellQuery, types: Collection[str] | None = None) -> list[Cell]:
        with self._lock:
            con = self._db()
            self._zone(con, query.tz)
            where = self._filters(query, types)
            stored = query.tz == self.tz
            params = dict(where.params) if stored else {**where.params, "tz": query.tz}
            found = con.execute(sql.dwell_query(sql.bucket_expr(query.by, stored=stored), where), params).fetchall()
        return [
            Cell(node, stage, None if total else bucket, int(n), float(q[0]), float(q[1]), float(q[2]))
            for node, stage, bucket, total, n, q in found
        ]

    def export(
        self, query: DwellQuery, path: Path, *, fmt: str, rows: str, types: Collection[str] | None = None
    ) -> int:
        with self._lock:
            con = self._db()
            self._zone(con, query.tz)
            where = self._filters(query, types)
            stored = query.tz == self.tz
            params = dict(where.params) if stored else {**where.params, "tz": query.tz}
            if rows == "steps":
                select = sql.step_rows_query(
                    sql.bucket_expr("hour", stored=stored), sql.bucket_expr("day", stored=stored), where
                )
            else:
                select = sql.dwell_rows_query(sql.bucket_expr(query.by, stored=stored), query.by, where)
            options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
            written = con.execute(f"COPY ({select}) TO {_literal(path)} ({options})", params).fetchone()
        return int(written[0]) if written else 0

    def order_steps(self, events: Sequence[StoredEvent], mask: Mask) -> list[Step]:
        rows = EventRows(self.dictionary, self._system)
        if not rows.extend(events):
            return []
        with self._lock:
            con = self._db()
            con.register("order_batch", rows.arrays())
            try:
                source, params = sql.masked_source(mask, "(" + sql.BATCH_EVENTS.format(batch="order_batch") + ")")
                found = con.execute(
                    f"SELECT * FROM ({sql.steps_query(source)}) "
                    "ORDER BY shipment NULLS FIRST, started_at, ended_at NULLS LAST",
                    params,
                ).fetchall()
            finally:
                con.unregister("order_batch")
        return [Step(*row) for row in found]

    def steps_of(self, oid: str) -> list[Step]:
        with self._lock:
            found = (
                self._db()
                .execute(
                    f"SELECT {', '.join(sql.STEP_COLUMNS)} FROM steps WHERE oid = $oid"
                    " ORDER BY shipment NULLS FIRST, started_at, ended_at NULLS LAST",
                    {"oid": oid},
                )
                .fetchall()
            )
        return [Step(*row) for row in found]

    def typical(self, mask: Mask) -> TypicalBook:
        with self._lock:
            cached = self._typical.get(mask)
            fresh = cached is not None and (
                cached.position == self.position or time.monotonic() - cached.at < self._typical_max_age_s
            )
            if cached is not None and fresh:
                return cached.book
            con = self._db()
            params: dict[str, Any] = {}
            if mask == self._full:
                source = "SELECT * FROM steps"
            else:
                # Steps as this role sees the chains: hidden events are skipped, not just their steps dropped.
                masked, params = sql.masked_source(mask, "events")
                source = sql.steps_query(masked)
            found = con.execute(sql.typical_query(source), params).fetchall()
            book = TypicalBook.from_rows(found, self._min_node_count)
            self._typical[mask] = _Cached(book, self.position, time.monotonic())
            return book

    def summary(self) -> dict[str, int]:
        with self._lock:
            con = self._db()
            events, orders = con.execute("SELECT count(*), count(DISTINCT oid) FROM events").fetchone() or (0, 0)
            closed, open_ = con.execute("SELECT count(ended_at), count(*) - count(ended_at) FROM steps").fetchone() or (
                0,
                0,
            )
        return {
            "position": self.position,
            "events": int(events),
            "orders": int(orders),
            "steps": int(closed),
            "open_steps": int(open_),
        }
