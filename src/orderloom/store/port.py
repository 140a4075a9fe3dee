"""The EventStore port: every adapter passes `tests/contract/test_event_store.py`."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from orderloom.core.envelope import Event, StoredEvent


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """Events to append atomically, with optional expectations and claims.

    `expect` maps an order id to the number of events its stream must hold
    before this append (0 = new order). `claims` maps a unique key (a source
    system's order number) to the order id that owns it. `keys` are new
    customers' data keys the events' personal fields were sealed with: they
    commit with the first events that need them, and if another writer stored
    a different key for a customer first, the append fails with KeyConflict.
    """

    events: Sequence[Event]
    expect: Mapping[str, int] = field(default_factory=dict)
    claims: Mapping[str, str] = field(default_factory=dict)
    keys: Mapping[str, bytes] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.events or self.claims or self.keys)


class Recorded(NamedTuple):
    """Where an appended event landed; `duplicate` when it was already stored.

    A named tuple rather than a frozen dataclass: one is built per appended
    event, and a tuple is about three times cheaper to make.
    """

    id: str
    oid: str
    seq: int
    position: int
    hash: str
    duplicate: bool = False


class RawEvent(NamedTuple):
    """One log row as stored: the columns a reader can use without decoding the body.

    `body` is the event's canonical JSON (`Event.body()`: sorted keys, no
    whitespace; what the hash covers), as bytes or text depending on the
    adapter. View rebuilds read these so each projection decodes only what it needs.
    """

    position: int
    id: str
    oid: str
    type: str
    time: str
    body: bytes | str
    seq: int
    prevhash: str
    hash: str
    recorded: str

    def decode(self) -> StoredEvent:
        """The stored event this row holds."""
        return StoredEvent.from_body(
            self.body,
            seq=self.seq,
            position=self.position,
            prevhash=self.prevhash,
            hash=self.hash,
            recorded=self.recorded,
        )


class EventStore(ABC):
    """An append-only log of order events, one hash-chained stream per order."""

    @abstractmethod
    def append(self, request: AppendRequest) -> list[Recorded]:
        """Append all events and claims in one transaction, or raise and write nothing."""

    @abstractmethod
    def read_stream(self, oid: str, after_seq: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """One order's events in append order (seq)."""

    @abstractmethod
    def read_all(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events with a global position above `after`, in position order, without gaps."""

    def read_raw(self, after: int = 0, limit: int = 1000) -> list[RawEvent]:
        """What `read_all` returns, as undecoded rows: for readers of big pages (view rebuilds).

        The default re-encodes `read_all`; adapters with a table of rows return them as stored.
        """
        return [
            RawEvent(
                e.position, e.id, e.oid, e.type, e.time, e.as_event().body(), e.seq, e.prevhash, e.hash, e.recorded
            )
            for e in self.read_all(after, limit)
        ]

    @abstractmethod
    def last_position(self) -> int:
        """The highest committed global position (0 when empty)."""

    @abstractmethod
    def get(self, event_id: str) -> StoredEvent | None:
        """One event by id."""

    @abstractmethod
    def resolve(self, key: str) -> str | None:
        """The order id that claimed a key (a source order number), if any."""

    @abstractmethod
    def claims_of(self, oid: str) -> list[str]:
        """All keys an order has claimed."""

    @abstractmethod
    def customer_keys(self, customers: Collection[str], create: bool) -> dict[str, bytes]:
        """The customers' data keys, made on first use when `create` (a forgotten customer starts afresh)."""

    @abstractmethod
    def forget_customer(self, customer: str) -> bool:
        """Destroy the customer's data key; True if one existed."""

    def wait_for_appends(self, timeout: float) -> None:
        """Block until something may have been appended (or `timeout` passes); followers call it when idle.

        The default just sleeps; adapters that can be told about commits wake early.
        """
        time.sleep(timeout)

    @abstractmethod
    def close(self) -> None:
        """Release connections and threads."""
