"""The EventStore port: every adapter passes `tests/contract/test_event_store.py`."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Recorded:
    """Where an appended event landed; `duplicate` when it was already stored."""

    id: str
    oid: str
    seq: int
    position: int
    hash: str
    duplicate: bool = False


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
