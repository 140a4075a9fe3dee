"""The relay: moves committed log events to the bus, in log order, at least once.

The log's global position is gap-free, so the relay needs no outbox table: it
reads everything after its checkpoint, publishes, waits for the broker's
acknowledgements, and only then advances the checkpoint. A crash between
publish and checkpoint re-publishes a batch; the broker drops the repeats by
message id (Nats-Msg-Id) and consumers drop any that slip through by position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from orderloom.bus.port import Bus, Message
from orderloom.core.envelope import StoredEvent
from orderloom.store.port import EventStore
from orderloom.views.port import ViewStore

log = logging.getLogger("orderloom.relay")
CHECKPOINT = "relay"
SAVE_EVERY_S = 0.2


def to_message(e: StoredEvent, encode: Callable[[StoredEvent], bytes]) -> Message:
    """The bus message for a stored event."""
    return Message(id=e.id, oid=e.oid, type=e.type, position=e.position, body=encode(e))


def encode_cloudevent(e: StoredEvent) -> bytes:
    """CloudEvents 1.0 structured JSON of a stored event."""
    import orjson

    return orjson.dumps(e.cloudevent())


class Relay:
    """Publishes the log to the bus from a durable checkpoint."""

    def __init__(self, store: EventStore, bus: Bus, views: ViewStore, batch: int = 1000, idle_s: float = 0.05) -> None:
        self.store = store
        self.bus = bus
        self.views = views
        self.batch = batch
        self.idle_s = idle_s
        self.published = 0
        self._after: int | None = None
        self._saved: int | None = None
        self._saved_at = 0.0

    def checkpoint(self) -> int:
        """The last position known to be on the bus."""
        return self.views.checkpoint(CHECKPOINT)

    async def pump(self) -> int:
        """Publish one batch after the checkpoint; return how many events moved."""
        # Only this relay moves its checkpoint, so after the first read it is known here.
        if self._after is None:
            self._after = await asyncio.to_thread(self.checkpoint)
        after = self._after
        events = await asyncio.to_thread(self.store.read_all, after, self.batch)
        if not events:
            return 0
        await self.bus.publish([to_message(e, encode_cloudevent) for e in events])
        self._after = events[-1].position
        self.published += len(events)
        # The checkpoint is saved at most every SAVE_EVERY_S while busy (and always
        # before idling): a crash re-publishes at most that much, which the broker
        # and the consumers drop as duplicates, and the busy path skips a write.
        if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
            await self.flush()
        return len(events)

    async def flush(self) -> None:
        """Save the checkpoint now, if it moved."""
        if self._after is not None and self._after != self._saved:
            await asyncio.to_thread(self._save, self._after)
            self._saved = self._after
        self._saved_at = time.monotonic()

    def _save(self, position: int) -> None:
        with self.views.transaction() as tx:
            tx.set_checkpoint(CHECKPOINT, position)

    async def run(self, stop: asyncio.Event) -> None:
        """Pump until `stop` is set; wait for appends only when the log has nothing new."""
        try:
            await self._loop(stop)
        finally:
            with contextlib.suppress(Exception):
                await self.flush()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                moved = await self.pump()
            except Exception:
                log.exception("relay could not publish; retrying in 1 s")
                moved = 0
                await _sleep_or_stop(stop, 1.0)
                continue
            if moved == 0 and not stop.is_set():
                await self.flush()
                # Wakes as soon as a commit is announced (PostgreSQL NOTIFY, in-process
                # condition); otherwise after idle_s. Bounded so `stop` is noticed.
                await asyncio.to_thread(self.store.wait_for_appends, self.idle_s)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
