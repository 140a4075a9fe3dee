"""A page of the log as undecoded rows, and the documents its projections make from nothing.

Catching up and rebuilding apply the log a page (tens of thousands of rows)
per view-store transaction. Most of a rebuild's work is encoding documents
that do not exist yet, and that needs nothing from the view store, so it
can be done before the transaction, while the previous page commits. Inside
the transaction the runner still decides, from the checkpoint and the
documents it finds, which of these prepared documents it may write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orderloom.core.envelope import StoredEvent
from orderloom.status.projections import Projection
from orderloom.store.port import RawEvent

KeyOf = Callable[[RawEvent], str | None]


def rows_by_key(rows: Sequence[RawEvent], key_of: KeyOf) -> dict[str, list[RawEvent]]:
    """The rows each document receives, in log order; rows whose key is None touch none."""
    touched: dict[str, list[RawEvent]] = {}
    for r in rows:
        key = key_of(r)
        if key is not None:
            if key in touched:
                touched[key].append(r)
            else:
                touched[key] = [r]
    return touched


class Page:
    """Rows from `EventStore.read_raw` (ascending, gap-free), with per-projection work cached by start row."""

    def __init__(self, rows: Sequence[RawEvent]) -> None:
        self.rows = rows
        self.gap_free = bool(rows) and rows[-1].position - rows[0].position == len(rows) - 1
        self._touched: dict[tuple[KeyOf, int], dict[str, list[RawEvent]]] = {}
        self._fresh: dict[tuple[str, int], dict[str, bytes]] = {}
        self._decoded: list[StoredEvent] | None = None

    @property
    def first(self) -> int:
        return self.rows[0].position

    @property
    def last(self) -> int:
        return self.rows[-1].position

    def decoded(self) -> list[StoredEvent]:
        """The rows as stored events (for projections without a raw path), decoded once."""
        if self._decoded is None:
            self._decoded = [r.decode() for r in self.rows]
        return self._decoded

    def touched(self, key_of: KeyOf, start: int) -> dict[str, list[RawEvent]]:
        """Rows from index `start` on, by document; projections sharing a key function group once."""
        if (key_of, start) not in self._touched:
            self._touched[(key_of, start)] = rows_by_key(self.rows[start:], key_of)
        return self._touched[(key_of, start)]

    def fresh(self, projection: Projection, start: int) -> dict[str, bytes]:
        """Each touched document as the projection encodes it from nothing (`fresh_json`)."""
        assert projection.raw_key is not None and projection.fresh_json is not None
        if (projection.view, start) not in self._fresh:
            encode = projection.fresh_json
            touched = self.touched(projection.raw_key, start)
            self._fresh[(projection.view, start)] = {k: encode(mine) for k, mine in touched.items()}
        return self._fresh[(projection.view, start)]

    def prepare(self, projections: Sequence[Projection]) -> None:
        """Encode every document as if the views had none of them yet (outside any transaction)."""
        if self.gap_free:
            for p in projections:
                if p.raw_key is not None and p.fresh_json is not None:
                    self.fresh(p, 0)
