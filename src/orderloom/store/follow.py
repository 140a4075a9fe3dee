"""Reading the whole log (or its tail) in position order, page by page."""

from __future__ import annotations

from collections.abc import Iterator

from orderloom.core.envelope import StoredEvent
from orderloom.store.port import EventStore

PAGE = 5000


def iter_log(store: EventStore, after: int = 0, page: int = PAGE) -> Iterator[StoredEvent]:
    """Every event after position `after`, in position order, without holding the log in memory."""
    while events := store.read_all(after, page):
        yield from events
        after = events[-1].position
