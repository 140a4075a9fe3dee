"""The relay: moves committed log events to the bus, in log order, at least once.

The log's global position is gap-free, so the relay needs no outbox table: it
reads everything after its checkpoint, publishes, waits for the broker's
acknowledgements, and only then advances the checkpoint. A crash between
publish and checkpoint re-publishes a batch; the broker drops the repeats by
message id (Nats-Msg-Id) and consumers drop any that slip through by position.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from orderloom.bus.port import Bus, Message
from orderloom.core.envelope import StoredEvent
from orderloom.store.port import EventStore
from orderloom.views.port import ViewStore

log = logging.getLogger("orderloom.relay")
CHECKPOINT = "relay"


def to_message(e: StoredEvent, encode: Callable[[StoredEvent], bytes]) -> Message:
    """The bus message for a stored event."""
    return Message(id=e.id, oid=e.oid, type=e.type, position=e.position, body=encode(e))


def encode_cloudevent(e: StoredEvent) -> bytes:
    """CloudEvents 1.0 structured JSON of a stored event."""
    import orjson

    return orjson.dumps(e.cloudevent())


class Relay:
    """Publishes the log to the bus from a durable checkpoint."""

    def __init__(self, store: EventStore, bus: Bus, views: ViewStore, batch: int = 1000, idle_s: float = 0.01) -> None:
        self.store = store
        self.bus = bus
        self.views = views
        self.batch = batch
        self.idle_s = idle_s
        self.published = 0

    def checkpoint(self) -> int:
        """The last position known to be on the bus."""
        return self.views.checkpoint(CHECKPOINT)

    async def pump(self) -> int:
        """Publish one batch after the checkpoint; return how many events moved."""
        after = await asyncio.to_thread(self.checkpoint)
        events = await asyncio.to_thread(self.store.read_all, after, self.batch)
        if not events:
            return 0
        await self.bus.publish([to_message(e, encode_cloudevent) for e in events])
        await asyncio.to_thread(self._save, events[-1].position)
        self.published += len(events)
        return len(events)

    def _save(self, position: int) -> None:
        with self.views.transaction() as tx:
            tx.set_checkpoint(CHECKPOINT, position)

    async def run(self, stop: asyncio.Event) -> None:
        """Pump until `stop` is set; sleep briefly only when the log has nothing new."""
        while not stop.is_set():
            try:
                moved = await self.pump()
            except Exception:
                log.exception("relay could not publish; retrying in 1 s")
                moved = 0
                await _sleep_or_stop(stop, 1.0)
                continue
            if moved == 0:
                await _sleep_or_stop(stop, self.idle_s)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
