"""The event store: the only source of truth. Port, adapters and the factory."""

from orderloom.store.factory import open_store
from orderloom.store.follow import iter_log
from orderloom.store.port import AppendRequest, EventStore, Recorded

__all__ = ["AppendRequest", "EventStore", "Recorded", "iter_log", "open_store"]
