"""SQLiteEventStore: the embedded default, a WAL-mode SQLite file.

Writes are funnelled through one writer thread per process (group commit);
BEGIN IMMEDIATE takes SQLite's write lock up front, so writers in other
processes queue on busy_timeout instead of failing with "database is locked"
on a read-to-write upgrade. Positions are assigned under that lock, hence in
commit order: a reader following the position never skips a late commit.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Collection
from datetime import UTC, datetime

from orderloom.core.envelope import TIME_FORMAT, StoredEvent
from orderloom.core.errors import OrderloomError, StoreUnavailable
from orderloom.core.sqlitedb import connect
from orderloom.store.group_commit import GroupCommitter, Outcome
from orderloom.store.planning import GroupState, Known, commit_plan, event_ids, genesis_head, plan_request
from orderloom.store.port import AppendRequest, EventStore, Recorded

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    oid      TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    type     TEXT NOT NULL,
    time     TEXT NOT NULL,
    body     BLOB NOT NULL,
    prevhash TEXT NOT NULL,
    hash     TEXT NOT NULL,
    recorded TEXT NOT NULL,
    UNIQUE (oid, seq)
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    oid TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_by_oid ON claims (oid);
CREATE TABLE IF NOT EXISTS customer_keys (
    customer TEXT PRIMARY KEY,
    key      BLOB NOT NULL,
    created  TEXT NOT NULL
) WITHOUT ROWID;
"""

_COLUMNS = "position, body, seq, prevhash, hash, recorded"
_CHUNK = 500


def _now() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)


def _stored(row: tuple[int, bytes, int, str, str, str]) -> StoredEvent:
    return StoredEvent.from_body(row[1], position=row[0], seq=row[2], prevhash=row[3], hash=row[4], recorded=row[5])


class SQLiteEventStore(EventStore):
    """Event store on one SQLite file in WAL mode, durable on every commit."""

    def __init__(self, path: str) -> None:
        self._path = path
        if path != ":memory:" and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._local = threading.local()
        # Wakes followers in this process after a commit; other processes' commits are seen by polling.
        self._appended = threading.Condition()
        self._writer = self._connect()
        try:
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the event store at {path}: {exc}") from exc
        self._group = GroupCommitter(self._write_group, name="sqlite-writer")

    def _connect(self) -> sqlite3.Connection:
        return connect(self._path, "event store")

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    # -- writes -------------------------------------------------------------

    def append(self, request: AppendRequest) -> list[Recorded]:
        if request.is_empty():
            return []
        return self._group.submit(request)

    def _write_group(self, requests: list[AppendRequest]) -> list[Outcome]:
        try:
            return self._transaction(requests)
        except sqlite3.Error as exc:
            if len(requests) == 1:
                return [StoreUnavailable(f"the event store refused the write: {exc}")]
        # One request broke the shared transaction: give each its own.
        out: list[Outcome] = []
        for req in requests:
            try:
                out.extend(self._transaction([req]))
            except sqlite3.Error as exc:
                out.append(StoreUnavailable(f"the event store refused the write: {exc}"))
        return out

    def _transaction(self, requests: list[AppendRequest]) -> list[Outcome]:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            last = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0]
            state = GroupState(next_position=last)
            ids = event_ids(requests)
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for eid, body, oid, seq, pos, digest in conn.execute(
                    f"SELECT id, body, oid, seq, position, hash FROM events WHERE id IN ({marks})", chunk
                ):
                    state.known[eid] = Known(bytes(body), Recorded(eid, oid, seq, pos, digest))

            # One query per chunk of orders instead of one per order: most groups
            # touch hundreds of orders, and a lookup each dominated the write.
            oids = list({e.oid for r in requests for e in r.events} | {o for r in requests for o in r.expect})
            for i in range(0, len(oids), _CHUNK):
                chunk = oids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for oid in chunk:
                    state.heads[oid] = genesis_head()
                for oid, seq, digest in conn.execute(
                    "SELECT e.oid, e.seq, e.hash FROM events e JOIN (SELECT oid, MAX(seq) AS seq FROM events"
                    f" WHERE oid IN ({marks}) GROUP BY oid) m ON e.oid = m.oid AND e.seq = m.seq",
                    chunk,
                ):
                    state.heads[oid] = (seq, digest)

            customers = list({c for r in requests for c in r.keys})
            stored_keys: dict[str, bytes] = {}
            for i in range(0, len(customers), _CHUNK):
                chunk = customers[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for customer, key in conn.execute(
                    f"SELECT customer, key FROM customer_keys WHERE customer IN ({marks})", chunk
                ):
                    stored_keys[customer] = bytes(key)

            def head_of(oid: str) -> tuple[int, str]:
                row = conn.execute(
                    "SELECT seq, hash FROM events WHERE oid = ? ORDER BY seq DESC LIMIT 1", (oid,)
                ).fetchone()
                return (row[0], row[1]) if row else genesis_head()

            def claim_of(key: str) -> str | None:
                row = conn.execute("SELECT oid FROM claims WHERE key = ?", (key,)).fetchone()
                return row[0] if row else None

            outcomes: list[Outcome] = []
            rows = []
            claims: dict[str, str] = {}
            for req in requests:
                try:
                    plan = plan_request(req, state, head_of, claim_of, stored_keys.get)
                except OrderloomError as exc:
                    outcomes.append(exc)
                    continue
                commit_plan(plan, state)
                rows.extend(plan.rows)
                claims.update(plan.new_claims)
                outcomes.append(plan.results)
            recorded = _now()
            if state.keys:
                conn.executemany(
                    "INSERT INTO customer_keys (customer, key, created) VALUES (?, ?, ?)",
                    [(c, k, recorded) for c, k in state.keys.items()],
                )
            conn.executemany(
                "INSERT INTO events (position, id, oid, seq, type, time, body, prevhash, hash, recorded)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(r.position, r.id, r.oid, r.seq, r.type, r.time, r.body, r.prevhash, r.hash, recorded) for r in rows],
            )
            if claims:
                conn.executemany("INSERT INTO claims (key, oid) VALUES (?, ?)", list(claims.items()))
            conn.execute("COMMIT")
            if rows:
                with self._appended:
                    self._appended.notify_all()
            return outcomes
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- reads --------------------------------------------------------------

    def read_stream(self, oid: str, after_seq: int = 0, limit: int | None = None) -> list[StoredEvent]:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM events WHERE oid = ? AND seq > ? ORDER BY seq LIMIT ?",
            (oid, after_seq, -1 if limit is None else limit),
        )
        return [_stored(r) for r in rows]

    def read_all(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?", (after, limit)
        )
        return [_stored(r) for r in rows]

    def last_position(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(position), 0) FROM events", ())[0][0])

    def get(self, event_id: str) -> StoredEvent | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,))
        return _stored(rows[0]) if rows else None

    def resolve(self, key: str) -> str | None:
        rows = self._query("SELECT oid FROM claims WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def claims_of(self, oid: str) -> list[str]:
        return [str(r[0]) for r in self._query("SELECT key FROM claims WHERE oid = ? ORDER BY key", (oid,))]

    def customer_keys(self, customers: Collection[str], create: bool) -> dict[str, bytes]:
        found = self._keys_of(list(customers))
        missing = [c for c in customers if c not in found]
        if not missing or not create:
            return found
        # All of a batch's new keys in one short transaction: one fsync, not one per customer.
        conn = self._reader()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR IGNORE INTO customer_keys (customer, key, created) VALUES (?, ?, ?)",
                [(c, secrets.token_bytes(64), _now()) for c in missing],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreUnavailable(f"the event store refused the write: {exc}") from exc
        return found | self._keys_of(missing)

    def _keys_of(self, customers: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for i in range(0, len(customers), _CHUNK):
            chunk = customers[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for customer, key in self._query(
                f"SELECT customer, key FROM customer_keys WHERE customer IN ({marks})", tuple(chunk)
            ):
                out[customer] = bytes(key)
        return out

    def forget_customer(self, customer: str) -> bool:
        conn = self._reader()
        try:
            cur = conn.execute("DELETE FROM customer_keys WHERE customer = ?", (customer,))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the event store refused the write: {exc}") from exc
        return cur.rowcount > 0

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the event store could not be read: {exc}") from exc

    def wait_for_appends(self, timeout: float) -> None:
        with self._appended:
            self._appended.wait(timeout)

    def close(self) -> None:
        self._group.close()
        self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
