"""MemoryEventStore: a real, complete store held in process memory.

Used by unit tests and simulations; it passes the same contract suite as the
durable adapters, so code tested against it behaves the same on them.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Collection
from datetime import UTC, datetime

from orderloom.core.envelope import StoredEvent, format_utc
from orderloom.core.errors import OrderloomError
from orderloom.store.planning import GroupState, Row, commit_plan, genesis_head, plan_request
from orderloom.store.port import AppendRequest, EventStore, Recorded


class MemoryEventStore(EventStore):
    """Event store in memory, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._appended = threading.Condition(self._lock)
        self._log: list[StoredEvent] = []
        self._by_id: dict[str, StoredEvent] = {}
        self._bodies: dict[str, bytes] = {}
        self._streams: dict[str, list[StoredEvent]] = {}
        self._claims: dict[str, str] = {}
        self._keys: dict[str, bytes] = {}

    def append(self, request: AppendRequest) -> list[Recorded]:
        if request.is_empty():
            return []
        with self._lock:
            state = GroupState(next_position=len(self._log), recorded=format_utc(datetime.now(UTC)))
            for e in request.events:
                stored = self._by_id.get(e.id)
                if stored is not None:
                    state.known[e.id] = (
                        self._bodies[e.id],
                        Recorded(e.id, stored.oid, stored.seq, stored.position, stored.hash),
                    )
            try:
                plan = plan_request(request, state, self._head, self._claims.get, self._keys.get)
            except OrderloomError:
                raise
            commit_plan(plan, state)
            for row in plan.rows:
                self._store(row)
            self._claims.update(plan.new_claims)
            if plan.rows:
                self._appended.notify_all()
            self._keys.update(plan.new_keys)
            return plan.results

    def _head(self, oid: str) -> tuple[int, str]:
        stream = self._streams.get(oid)
        return (stream[-1].seq, stream[-1].hash) if stream else genesis_head()

    def _store(self, row: Row) -> None:
        event = StoredEvent.from_body(
            row.body, seq=row.seq, position=row.position, prevhash=row.prevhash, hash=row.hash, recorded=row.recorded
        )
        self._log.append(event)
        self._by_id[row.id] = event
        self._bodies[row.id] = row.body
        self._streams.setdefault(row.oid, []).append(event)

    def read_stream(self, oid: str, after_seq: int = 0, limit: int | None = None) -> list[StoredEvent]:
        with self._lock:
            events = self._streams.get(oid, [])[after_seq:]
        return events if limit is None else events[:limit]

    def read_all(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        with self._lock:
            return self._log[after : after + limit]

    def last_position(self) -> int:
        return len(self._log)

    def get(self, event_id: str) -> StoredEvent | None:
        return self._by_id.get(event_id)

    def resolve(self, key: str) -> str | None:
        return self._claims.get(key)

    def claims_of(self, oid: str) -> list[str]:
        with self._lock:
            return sorted(k for k, v in self._claims.items() if v == oid)

    def customer_keys(self, customers: Collection[str], create: bool) -> dict[str, bytes]:
        with self._lock:
            if create:
                for customer in customers:
                    if customer not in self._keys:
                        self._keys[customer] = secrets.token_bytes(64)
            return {c: self._keys[c] for c in customers if c in self._keys}

    def forget_customer(self, customer: str) -> bool:
        with self._lock:
            return self._keys.pop(customer, None) is not None

    def wait_for_appends(self, timeout: float) -> None:
        with self._appended:
            self._appended.wait(timeout)

    def close(self) -> None:
        """Nothing to release."""
