"""Group commit: many callers' appends share one transaction and one fsync.

Each caller blocks until the transaction holding its events has committed, so
an answered append is durable. No artificial delay: a group forms from what
queued up while the previous transaction was committing, so a lone caller
pays one commit and a crowd shares them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from orderloom.core.errors import StoreUnavailable
from orderloom.store.port import AppendRequest, Recorded

Outcome = list[Recorded] | BaseException
WriteGroup = Callable[[list[AppendRequest]], list[Outcome]]

_STOP = object()


class GroupCommitter:
    """A single writer thread that funnels appends into grouped transactions."""

    # Up to ten 1,000-event API batches share one transaction: each commit costs an
    # fsync and rewrites the indexes' upper pages, so under load fewer, bigger
    # commits carry more events per second (callers wait a little longer).
    def __init__(
        self, write_group: WriteGroup, name: str, max_events: int = 10_000, after: Callable[[], None] | None = None
    ) -> None:
        self._write_group = write_group
        self._max_events = max_events
        # Housekeeping run on the writer thread once a group's callers have been answered.
        self._after = after
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._gate = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: AppendRequest) -> list[Recorded]:
        """Append and wait until it is committed; raise what the store raised."""
        fut: Future[list[Recorded]] = Future()
        # The gate makes "not closed" and "queued before the stop marker" one step.
        with self._gate:
            if self._closed:
                raise StoreUnavailable("the event store is closed")
            self._queue.put((request, fut))
        return fut.result()

    def close(self) -> None:
        """Finish queued work and stop the writer thread."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            group = [item]
            count = len(item[0].events)  # type: ignore[index]
            stop = False
            while count < self._max_events:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                group.append(nxt)
                count += len(nxt[0].events)  # type: ignore[index]
            self._flush(group)  # type: ignore[arg-type]
            if self._after is not None:
                self._after()
            if stop:
                return

    def _flush(self, group: list[tuple[AppendRequest, Future[list[Recorded]]]]) -> None:
        try:
            outcomes = self._write_group([req for req, _ in group])
            if len(outcomes) != len(group):
                raise StoreUnavailable("the event store answered a different number of appends than it was given")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller; the writer lives on
            outcomes = [exc] * len(group)
        for (_, fut), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
