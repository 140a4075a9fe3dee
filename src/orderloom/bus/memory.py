"""MemoryBus: the in-process default, a real broker held in process memory.

It keeps what the brokers keep (an append-only log, a durable cursor per
consumer group, dedupe by message id, redelivery of what was not acked) for
as long as the `MemoryBus` object lives, and passes the same contract suite
as the NATS and Kafka adapters. Everything runs on one event loop, so no
locks: state only changes between awaits.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncGenerator, Sequence

from orderloom.bus.errors import BusUnavailable
from orderloom.bus.port import Bus, Delivery, Message


class _Group:
    """One consumer group's durable progress through the log."""

    def __init__(self) -> None:
        self.committed = 0  # every index below this is acked
        self.acked: set[int] = set()  # acked indexes at or above `committed`
        self.next = 0  # the first index never handed out
        self.released: list[int] = []  # heap of indexes to hand out again, lowest first

    def take(self, log_length: int) -> int | None:
        """The next index to deliver, or None when the group has caught up."""
        while self.released:
            index = heapq.heappop(self.released)
            if index >= self.committed and index not in self.acked:
                return index
        if self.next < log_length:
            self.next += 1
            return self.next - 1
        return None

    def ack(self, index: int) -> None:
        if index < self.committed:
            return
        self.acked.add(index)
        while self.committed in self.acked:
            self.acked.remove(self.committed)
            self.committed += 1

    def release(self, index: int) -> None:
        if index >= self.committed and index not in self.acked:
            heapq.heappush(self.released, index)


class MemoryDelivery(Delivery):
    """A message handed to one subscriber of a group."""

    def __init__(self, message: Message, index: int, group: _Group, held: dict[int, MemoryDelivery]) -> None:
        self.message = message
        self._index = index
        self._group = group
        self._held = held

    async def ack(self) -> None:
        self._group.ack(self._index)
        self._held.pop(self._index, None)


class MemoryBus(Bus):
    """Bus in process memory: one log, durable group cursors, dedupe by message id."""

    def __init__(self) -> None:
        self._log: list[Message] = []
        self._ids: set[str] = set()
        self._groups: dict[str, _Group] = {}
        self._open = False
        # Replaced on every change: a waiter grabs the current event before
        # checking for work, so a change in between still wakes it.
        self._changed = asyncio.Event()

    async def connect(self) -> None:
        self._open = True
        # The fresh event this leaves binds to the running loop, so a bus can be reopened under another loop.
        self._wake()

    async def publish(self, messages: Sequence[Message]) -> None:
        self._check_open()
        added = False
        for message in messages:
            # Like JetStream's duplicate window, but for the whole log: a resent id is dropped.
            if message.id in self._ids:
                continue
            self._ids.add(message.id)
            self._log.append(message)
            added = True
        if added:
            self._wake()

    async def subscribe(self, group: str) -> AsyncGenerator[Delivery, None]:
        self._check_open()
        state = self._groups.setdefault(group, _Group())
        held: dict[int, MemoryDelivery] = {}
        try:
            while True:
                changed = self._changed
                if not self._open:
                    return
                index = state.take(len(self._log))
                if index is None:
                    await changed.wait()
                    continue
                delivery = MemoryDelivery(self._log[index], index, state, held)
                held[index] = delivery
                yield delivery
        finally:
            # Closed or abandoned with deliveries unacked: the group's next subscriber gets them again.
            for index in held:
                state.release(index)
            if held:
                self._wake()

    async def close(self) -> None:
        self._open = False
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _check_open(self) -> None:
        if not self._open:
            raise BusUnavailable("the in-process bus is not open; call connect() first")
