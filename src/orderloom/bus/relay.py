"""The relay: moves committed log events to the bus, in log order, at least once.

The log's global position is gap-free, so the relay needs no outbox table: it
reads everything after its checkpoint, publishes, waits for the broker's
acknowledgements, and only then advances the checkpoint. A crash between
publish and checkpoint re-publishes a batch; the broker drops the repeats by
message id (Nats-Msg-Id) and consumers drop any that slip through by position.

It reads undecoded rows and writes each CloudEvent by appending the store's
attributes to the stored canonical body, instead of decoding and encoding
every event: the relay is one of the processes on an event's way to the views.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson

from orderloom.bus.port import Bus, Message
from orderloom.core.envelope import StoredEvent
from orderloom.store.port import EventStore, RawEvent
from orderloom.views.port import ViewStore

log = logging.getLogger("orderloom.relay")
CHECKPOINT = "relay"
SAVE_EVERY_S = 0.2


def encode_cloudevent(e: StoredEvent) -> bytes:
    """CloudEvents 1.0 structured JSON of a stored event."""
    return orjson.dumps(e.cloudevent())


def cloudevent_json(row: RawEvent) -> bytes:
    """`encode_cloudevent` of a log row (the same JSON object), built from its stored body.

    A canonical body (`Event.body()`) holds exactly the CloudEvent's other
    members, so the store's attributes are appended before its closing brace.
    """
    body = row.body if isinstance(row.body, bytes) else row.body.encode()
    if not (body.startswith(b'{"actor":') and body.endswith(b"}")):
        return encode_cloudevent(row.decode())  # not a canonical body: take the long way
    extra = orjson.dumps(
        {
            "datacontenttype": "application/json",
            "seq": row.seq,
            "position": row.position,
            "prevhash": row.prevhash,
            "hash": row.hash,
            "recorded": row.recorded,
        }
    )
    return b"".join((body[:-1], b",", extra[1:]))


def row_message(row: RawEvent) -> Message:
    """The bus message for a log row."""
    return Message(id=row.id, oid=row.oid, type=row.type, position=row.position, body=cloudevent_json(row))


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
        rows = await asyncio.to_thread(self.store.read_raw, after, self.batch)
        if not rows:
            return 0
        await self.bus.publish([row_message(r) for r in rows])
        self._after = rows[-1].position
        self.published += len(rows)
        # The checkpoint is saved at most every SAVE_EVERY_S, busy or idle: a crash
        # re-publishes at most that much, which the broker and the consumers drop
        # as duplicates, and the way to the bus skips a write.
        if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
            await self.flush()
        return len(rows)

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
                # Idle now, but at 100 appends/s it is idle 100 times a second: saving the
                # checkpoint each time was a view-store write on every event's way to the bus.
                # Saved once SAVE_EVERY_S has passed instead (the wait below is idle_s at most).
                if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
                    await self.flush()
                # Wakes as soon as a commit is announced (PostgreSQL NOTIFY, in-process
                # condition); otherwise after idle_s. Bounded so `stop` is noticed.
                await asyncio.to_thread(self.store.wait_for_appends, self.idle_s)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
