"""Several PostgreSQL writers at once: a reader following the position misses nothing."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orderloom.core.envelope import Event
from orderloom.core.hashing import GENESIS, link_hash
from orderloom.core.ids import new_event_id
from orderloom.store.port import AppendRequest, Recorded
from tests.conftest import PG_URL

WRITER_STORES = 4
THREADS_PER_STORE = 2
BATCHES = 40
HOT_ORDERS = [f"HOT-{i}" for i in range(5)]


def ev(oid: str, n: int) -> Event:
    return Event(
        id=new_event_id(),
        type="test.happened",
        source="test",
        oid=oid,
        time=f"2026-05-01T08:{n // 60 % 60:02d}:{n % 60:02d}.000000Z",
        data={"n": n},
    )


def join_writers(threads: list[threading.Thread], done: threading.Event) -> None:
    for t in threads:
        t.join()
    done.set()


@pytest.mark.postgres
def test_a_reader_following_the_position_sees_every_event_once_while_many_writers_commit(pg_schema: str) -> None:
    from orderloom.store.postgres import PostgresEventStore

    # Separate instances mean separate writer connections, as separate processes would
    # have; opening them at once also races the schema creation.
    with ThreadPoolExecutor(WRITER_STORES + 1) as pool:
        stores = list(pool.map(lambda _: PostgresEventStore(PG_URL, schema=pg_schema), range(WRITER_STORES + 1)))
    reader_store, writers = stores[0], stores[1:]

    sent: dict[str, Event] = {}
    recorded: dict[str, Recorded] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(worker: int) -> None:
        rng = random.Random(worker)
        store = writers[worker % WRITER_STORES]
        other = writers[(worker + 1) % WRITER_STORES]
        own = [f"W{worker}-{j}" for j in range(3)]
        previous: AppendRequest | None = None
        previous_recs: list[Recorded] = []
        try:
            for b in range(BATCHES):
                if previous is not None and b % 8 == 0:
                    # A re-send through another process's writer is answered from the log.
                    again = other.append(previous)
                    assert all(r.duplicate for r in again)
                    assert [r.position for r in again] == [r.position for r in previous_recs]
                events = [ev(rng.choice(HOT_ORDERS + own), b * 10 + i) for i in range(rng.randint(1, 4))]
                request = AppendRequest(events)
                recs = store.append(request)
                with lock:
                    for e, r in zip(events, recs, strict=True):
                        sent[e.id] = e
                        recorded[e.id] = r
                previous, previous_recs = request, recs
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    seen: list[int] = []
    seen_ids: list[str] = []
    polls_while_writing = 0

    def follow(until: int | None) -> None:
        nonlocal polls_while_writing
        checkpoint = seen[-1] if seen else 0
        while True:
            page = reader_store.read_all(after=checkpoint, limit=50)
            if page:
                seen.extend(e.position for e in page)
                seen_ids.extend(e.id for e in page)
                checkpoint = page[-1].position
                if until is None:
                    polls_while_writing += 1
            if until is None and done.is_set():
                return
            if until is not None and checkpoint >= until:
                return

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITER_STORES * THREADS_PER_STORE)]
    try:
        for t in threads:
            t.start()
        watcher = threading.Thread(target=join_writers, args=(threads, done))
        watcher.start()
        follow(until=None)
        watcher.join()
        assert errors == []
        total = reader_store.last_position()
        follow(until=total)

        assert total == len(recorded)
        assert seen == list(range(1, total + 1))
        assert sorted(seen_ids) == sorted(recorded)
        assert {i: p for i, p in zip(seen_ids, seen, strict=True)} == {i: r.position for i, r in recorded.items()}
        assert polls_while_writing >= 2, "the reader should have followed the log while it was being written"

        for oid in {e.oid for e in sent.values()}:
            stream = reader_store.read_stream(oid)
            assert [e.seq for e in stream] == list(range(1, len(stream) + 1))
            prev = GENESIS
            for got in stream:
                assert got.prevhash == prev
                assert got.hash == link_hash(prev, oid, got.seq, sent[got.id].body())
                prev = got.hash
    finally:
        for s in stores:
            s.close()
