"""Which log events make up order chains, and their columns for one bulk insert into DuckDB.

Only events of order streams count: system streams (`sys.` API keys, erasure
records and policy histories, `sig.` live signals) and internal event types
are left out, and so are types the dictionary does not know (they have no
stage). Sites come from the fields the dictionary uses for them: `node`,
`from_node` and `to_node`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from orderloom.core.envelope import StoredEvent
from orderloom.dictionary.model import Dictionary
from orderloom.status.analytics.visibility import chain_types

SYSTEM_STREAMS = ("sys.", "sig.")
SITE_FIELDS = ("node", "from_node", "to_node")
COLUMNS = ("oid", "shipment", "position", "id", "type", "time", *SITE_FIELDS)


class EventRows:
    """Column buffers of chain events; `arrays()` hands them to DuckDB without a DataFrame."""

    def __init__(self, dictionary: Dictionary, system_streams: Iterable[str] = SYSTEM_STREAMS) -> None:
        self._types = chain_types(dictionary)
        self._system = tuple(system_streams)
        self._columns: tuple[list[Any], ...] = tuple([] for _ in COLUMNS)
        # Bound appends into column lists: no tuple per event, so a million-event rebuild
        # creates no garbage-collected containers (a list of row tuples made it twice as slow).
        self._push = tuple(column.append for column in self._columns)

    def __len__(self) -> int:
        return len(self._columns[0])

    def add(self, e: StoredEvent) -> bool:
        """Buffer one event if it belongs to an order chain; False when it was left out."""
        if e.oid.startswith(self._system):
            return False
        t = self._types.get(e.type)
        if t is None:
            return False
        data: Mapping[str, Any] = t.upcast(dict(e.data), e.schemaver) if e.schemaver < t.version else e.data
        get = data.get
        shipment, node, from_node, to_node = get("shipment"), get("node"), get("from_node"), get("to_node")
        oid, ship, position, eid, etype, when, at, origin, target = self._push
        oid(e.oid)
        ship(shipment if type(shipment) is str else None)
        position(e.position)
        eid(e.id)
        etype(e.type)
        when(e.time)
        at(node if type(node) is str else None)
        origin(from_node if type(from_node) is str else None)
        target(to_node if type(to_node) is str else None)
        return True

    def extend(self, events: Iterable[StoredEvent]) -> int:
        """Buffer many events; returns how many belonged to order chains."""
        return sum(1 for e in events if self.add(e))

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        """The buffered columns as NumPy arrays (DuckDB scans a dict of arrays directly)."""
        n = len(self)
        return {
            name: np.fromiter(values, dtype=np.int64 if name == "position" else object, count=n)
            for name, values in zip(COLUMNS, self._columns, strict=True)
        }

    def clear(self) -> None:
        for column in self._columns:
            column.clear()
