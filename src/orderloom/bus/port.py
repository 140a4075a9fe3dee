"""The Bus port: every adapter passes `tests/contract/test_bus.py`.

Delivery is at least once and in publish order per order id (subjects and
partitions are keyed by OID). The message id is the event id, so brokers can
drop duplicates on publish and consumers can drop them on receipt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One event on the wire: its CloudEvent JSON and the keys brokers route by."""

    id: str  # the event id; broker-side dedupe key (Nats-Msg-Id, Kafka idempotence)
    oid: str  # the order id; the subject / partition key
    type: str
    position: int  # the event's global position in the log
    body: bytes  # CloudEvents 1.0 structured JSON


class Delivery(ABC):
    """A received message that must be acknowledged once handled."""

    message: Message

    @abstractmethod
    async def ack(self) -> None:
        """Tell the broker this group is done with the message."""


class Bus(ABC):
    """Publishes log events and delivers them to durable consumer groups."""

    @abstractmethod
    async def connect(self) -> None:
        """Open connections and make sure streams/topics exist."""

    @abstractmethod
    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish in the given order; return only when the broker has acknowledged every one."""

    @abstractmethod
    def subscribe(self, group: str) -> AsyncIterator[Delivery]:
        """Deliveries for a durable group, resuming after its last acknowledged message."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""
