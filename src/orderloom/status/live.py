"""Live events for Server-Sent Events: one tail of the log per process, fanned out.

However many browsers watch, the process reads the log once per poll; each
subscriber gets its own bounded queue, and a subscriber too slow to keep up is
dropped rather than slowing everyone else down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from orderloom.core.envelope import StoredEvent
from orderloom.store.port import EventStore

Filter = Callable[[StoredEvent], bool]
QUEUE = 1000


class LogTail:
    """Follows the log's head and hands new events to subscribers."""

    def __init__(self, store: EventStore, poll_s: float = 0.05) -> None:
        self.store = store
        self.poll_s = poll_s
        self._subs: dict[int, tuple[Filter, asyncio.Queue[StoredEvent | None]]] = {}
        self._next = 0
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def subscribe(self, wanted: Filter) -> AsyncIterator[asyncio.Queue[StoredEvent | None]]:
        """A queue of matching events from now on; None in the queue means 'you fell behind'."""
        self._ensure_running()
        self._next += 1
        sid = self._next
        queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(QUEUE)
        self._subs[sid] = (wanted, queue)
        try:
            yield queue
        finally:
            self._subs.pop(sid, None)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        after = await asyncio.to_thread(self.store.last_position)
        while True:
            events = await asyncio.to_thread(self.store.read_all, after, 1000)
            for e in events:
                for sid, (wanted, queue) in list(self._subs.items()):
                    if not wanted(e):
                        continue
                    try:
                        queue.put_nowait(e)
                    except asyncio.QueueFull:
                        self._subs.pop(sid, None)
                        with contextlib.suppress(asyncio.QueueFull):
                            queue.put_nowait(None)
            if events:
                after = events[-1].position
            else:
                if not self._subs:
                    return
                await asyncio.to_thread(self.store.wait_for_appends, self.poll_s)

    async def close(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
