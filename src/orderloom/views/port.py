"""The ViewStore port: every adapter passes `tests/contract/test_view_store.py`.

A view store holds read models (JSON documents, addressed by view and key)
and checkpoints (the last log position a consumer has applied). One
transaction covers both, which is what makes a view exactly-once although
the bus delivers at least once: the documents an event changed and the
checkpoint that says "done" commit together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

Doc = dict[str, Any]


class ViewTx(ABC):
    """One transaction over documents and checkpoints; it commits on exit, or nothing does."""

    @abstractmethod
    def get(self, view: str, key: str) -> Doc | None:
        """One document, as this transaction sees it."""

    @abstractmethod
    def get_many(self, view: str, keys: Iterable[str]) -> dict[str, Doc]:
        """The documents that exist among `keys`."""

    @abstractmethod
    def put_many(self, view: str, docs: Mapping[str, Doc]) -> None:
        """Insert or replace documents by key."""

    @abstractmethod
    def put_json(self, view: str, docs: Mapping[str, bytes]) -> None:
        """Insert or replace documents given as encoded JSON objects (what a rebuild builds without dicts)."""

    @abstractmethod
    def checkpoint(self, name: str) -> int:
        """A consumer's last applied position (0 when it has none), held until commit."""

    @abstractmethod
    def set_checkpoint(self, name: str, position: int) -> None:
        """Move a consumer's checkpoint."""

    @abstractmethod
    def clear(self, view: str) -> None:
        """Drop every document of the view and the checkpoint of the same name."""


class ViewStore(ABC):
    """Read models and consumer checkpoints, written together in transactions."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[ViewTx]:
        """A write transaction: committed when the block ends, rolled back if it raises."""

    @abstractmethod
    def read(self, view: str, key: str) -> Doc | None:
        """One committed document."""

    @abstractmethod
    def scan(self, view: str, limit: int = 1000, after_key: str | None = None) -> list[tuple[str, Doc]]:
        """Committed documents in key order, starting after `after_key`."""

    @abstractmethod
    def checkpoint(self, name: str) -> int:
        """A consumer's committed checkpoint (0 when it has none)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
