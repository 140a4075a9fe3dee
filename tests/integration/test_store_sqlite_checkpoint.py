"""The SQLite store checkpoints its WAL itself, after answering callers, so the WAL stays bounded."""

from __future__ import annotations

import os
from pathlib import Path

from orderloom.core.envelope import Event
from orderloom.core.ids import new_event_id
from orderloom.store.port import AppendRequest
from orderloom.store.sqlite import SQLiteEventStore


def _batch(k: int) -> AppendRequest:
    events = [
        Event(
            id=new_event_id(),
            type="test.happened",
            source="test",
            oid=f"W{k:03d}-{o:03d}",
            time=f"2026-05-01T08:00:{i:02d}.000000Z",
            data={"n": i, "note": "x" * 200},
        )
        for o in range(100)
        for i in range(10)
    ]
    return AppendRequest(events)


def test_the_wal_is_recycled_instead_of_growing_with_the_log(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    store = SQLiteEventStore(path)
    try:
        for k in range(3):
            store.append(_batch(k))
        after_3k = os.path.getsize(path + "-wal")
        for k in range(3, 12):
            store.append(_batch(k))
        after_12k = os.path.getsize(path + "-wal")
        assert store.last_position() == 12_000
    finally:
        store.close()
    # Without checkpoints the WAL would hold all 12,000 rows (~4x its size at 3,000);
    # checkpointed every 4,000 rows, SQLite writes it from the start again.
    assert after_12k < 2 * after_3k
    reopened = SQLiteEventStore(path)
    try:
        assert reopened.last_position() == 12_000
        assert len(reopened.read_stream("W011-099")) == 10
    finally:
        reopened.close()
