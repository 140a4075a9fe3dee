"""MemoryViewStore: a real, complete view store held in process memory.

Documents are kept as JSON bytes, as the durable adapters keep them, so a
caller can never change a stored document by mutating what it read or wrote.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import orjson

from orderloom.views.port import Doc, ViewStore, ViewTx


class _MemoryTx(ViewTx):
    """Buffers writes; the store applies them only when the block ends cleanly."""

    def __init__(self, store: MemoryViewStore) -> None:
        self._store = store
        self.cleared: set[str] = set()
        self.docs: dict[str, dict[str, bytes]] = {}
        self.checkpoints: dict[str, int] = {}

    def get(self, view: str, key: str) -> Doc | None:
        raw = self.docs.get(view, {}).get(key)
        if raw is None and view not in self.cleared:
            raw = self._store._docs.get(view, {}).get(key)
        return None if raw is None else orjson.loads(raw)

    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, Doc]:
        out: dict[str, Doc] = {}
        for key in keys:
            doc = self.get(view, key)
            if doc is not None:
                out[key] = doc
        return out

    def put_many(self, view: str, docs: Mapping[str, Doc]) -> None:
        # Encode now, so a document that is not JSON fails inside the block, not at commit.
        encoded = {key: orjson.dumps(doc) for key, doc in docs.items()}
        self.docs.setdefault(view, {}).update(encoded)

    def put_json(self, view: str, docs: Mapping[str, bytes]) -> None:
        for key, raw in docs.items():
            # Checked now, as PostgreSQL's jsonb cast would: a bad document fails inside the block.
            if not isinstance(orjson.loads(raw), dict):
                raise ValueError(f"view {view}, key {key}: a document must be a JSON object")
        self.docs.setdefault(view, {}).update(docs)

    def checkpoint(self, name: str) -> int:
        if name in self.checkpoints:
            return self.checkpoints[name]
        return 0 if name in self.cleared else self._store._checkpoints.get(name, 0)

    def set_checkpoint(self, name: str, position: int) -> None:
        self.checkpoints[name] = position

    def clear(self, view: str) -> None:
        self.cleared.add(view)
        self.docs.pop(view, None)
        self.checkpoints.pop(view, None)


class MemoryViewStore(ViewStore):
    """View store in dictionaries; one lock, held by a transaction from start to commit."""

    def __init__(self) -> None:
        # Re-entrant, so code inside a transaction can still read committed documents.
        self._lock = threading.RLock()
        self._docs: dict[str, dict[str, bytes]] = {}
        self._checkpoints: dict[str, int] = {}

    @contextmanager
    def transaction(self) -> Iterator[ViewTx]:
        with self._lock:
            tx = _MemoryTx(self)
            yield tx
            for view in tx.cleared:
                self._docs.pop(view, None)
                self._checkpoints.pop(view, None)
            for view, docs in tx.docs.items():
                self._docs.setdefault(view, {}).update(docs)
            self._checkpoints.update(tx.checkpoints)

    def read(self, view: str, key: str) -> Doc | None:
        with self._lock:
            raw = self._docs.get(view, {}).get(key)
        return None if raw is None else orjson.loads(raw)

    def scan(self, view: str, limit: int = 1000, after_key: str | None = None) -> list[tuple[str, Doc]]:
        with self._lock:
            docs = self._docs.get(view, {})
            keys = sorted(k for k in docs if after_key is None or k > after_key)[:limit]
            raws = [(k, docs[k]) for k in keys]
        return [(k, orjson.loads(raw)) for k, raw in raws]

    def checkpoint(self, name: str) -> int:
        with self._lock:
            return self._checkpoints.get(name, 0)

    def close(self) -> None:
        return None
