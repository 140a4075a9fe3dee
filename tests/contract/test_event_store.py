"""The EventStore contract: every adapter must pass every test here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderloom.core.envelope import Event
from orderloom.core.errors import ClaimConflict, ConcurrencyConflict, DuplicateConflict, KeyConflict
from orderloom.core.hashing import GENESIS, link_hash
from orderloom.core.ids import new_event_id
from orderloom.store.memory import MemoryEventStore
from orderloom.store.port import AppendRequest, EventStore
from orderloom.store.sqlite import SQLiteEventStore
from tests.conftest import PG_URL


def ev(oid: str, n: int = 0, *, eid: str | None = None, note: str = "x") -> Event:
    return Event(
        id=eid or new_event_id(),
        type="test.happened",
        source="test",
        oid=oid,
        time=f"2026-05-01T08:{n // 60 % 60:02d}:{n % 60:02d}.000000Z",
        data={"n": n, "note": note},
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "memory":
        s: EventStore = MemoryEventStore()
    elif request.param == "sqlite":
        s = SQLiteEventStore(str(tmp_path / "log.db"))
    else:
        schema = request.getfixturevalue("pg_schema")
        from orderloom.store.postgres import PostgresEventStore

        s = PostgresEventStore(PG_URL, schema=schema)
    yield s
    s.close()


def test_appended_events_read_back_in_order_with_consecutive_seq(store: EventStore) -> None:
    events = [ev("A1", i) for i in range(5)]
    recs = store.append(AppendRequest(events))
    assert [r.seq for r in recs] == [1, 2, 3, 4, 5]
    stream = store.read_stream("A1")
    assert [e.id for e in stream] == [e.id for e in events]
    assert [e.data for e in stream] == [e.data for e in events]
    assert [e.position for e in stream] == [r.position for r in recs]
    assert store.read_stream("A1", after_seq=3) == stream[3:]
    assert store.read_stream("A1", limit=2) == stream[:2]


def test_each_link_hashes_the_previous_one(store: EventStore) -> None:
    events = [ev("H1", i) for i in range(4)]
    store.append(AppendRequest(events[:2]))
    store.append(AppendRequest(events[2:]))
    stream = store.read_stream("H1")
    prev = GENESIS
    for sent, got in zip(events, stream, strict=True):
        assert got.prevhash == prev
        assert got.hash == link_hash(prev, "H1", got.seq, sent.body())
        prev = got.hash


def test_resending_an_event_is_a_harmless_duplicate_with_the_original_position(store: EventStore) -> None:
    e = ev("D1", 1)
    first = store.append(AppendRequest([e]))[0]
    again = store.append(AppendRequest([e, ev("D1", 2)]))
    assert again[0].duplicate and again[0].position == first.position and again[0].seq == 1
    assert not again[1].duplicate and again[1].seq == 2
    assert len(store.read_stream("D1")) == 2


def test_the_same_id_twice_in_one_batch_is_stored_once(store: EventStore) -> None:
    e = ev("D2", 1)
    recs = store.append(AppendRequest([e, e]))
    assert recs[1].duplicate and recs[1].position == recs[0].position
    assert len(store.read_stream("D2")) == 1


def test_an_id_reused_for_different_content_is_refused_and_nothing_is_written(store: EventStore) -> None:
    e = ev("C1", 1, note="original")
    store.append(AppendRequest([e]))
    before = store.last_position()
    with pytest.raises(DuplicateConflict):
        store.append(AppendRequest([ev("C2", 1), ev("C1", 1, eid=e.id, note="changed")]))
    assert store.last_position() == before
    assert store.read_stream("C2") == []


def test_expected_seq_guards_the_stream(store: EventStore) -> None:
    store.append(AppendRequest([ev("O1", 1)], expect={"O1": 0}))
    with pytest.raises(ConcurrencyConflict) as info:
        store.append(AppendRequest([ev("O1", 2), ev("O2", 1)], expect={"O1": 0}))
    assert info.value.actual == 1
    assert len(store.read_stream("O1")) == 1 and store.read_stream("O2") == []
    store.append(AppendRequest([ev("O1", 2)], expect={"O1": 1}))
    assert len(store.read_stream("O1")) == 2


def test_retrying_a_batch_that_already_landed_succeeds_despite_its_expectation(store: EventStore) -> None:
    batch = AppendRequest([ev("R1", 1), ev("R1", 2)], expect={"R1": 0})
    store.append(batch)
    again = store.append(batch)
    assert all(r.duplicate for r in again)


def test_global_positions_are_gap_free_and_read_all_pages_through_them(store: EventStore) -> None:
    for k in range(5):
        store.append(AppendRequest([ev(f"G{k}", i) for i in range(3)]))
    assert store.last_position() == 15
    seen = []
    after = 0
    while page := store.read_all(after=after, limit=4):
        seen.extend(e.position for e in page)
        after = page[-1].position
    assert seen == list(range(1, 16))


def test_a_large_batch_of_many_orders_lands_whole_and_chained(store: EventStore) -> None:
    # 257 events: more than one multi-row INSERT statement plus a remainder.
    sent = [ev(f"L{k:03d}", i) for k in range(37) for i in range(7)][:257]
    recs = store.append(AppendRequest(sent, expect={f"L{k:03d}": 0 for k in range(37)}))
    assert [r.position for r in recs] == list(range(1, 258))
    log = store.read_all(0, 1000)
    assert [e.id for e in log] == [e.id for e in sent]
    assert [(e.oid, e.seq, e.hash) for e in log] == [(r.oid, r.seq, r.hash) for r in recs]
    for k in (0, 36):
        stream = store.read_stream(f"L{k:03d}")
        prev = GENESIS
        for got in stream:
            assert got.hash == link_hash(prev, got.oid, got.seq, got.as_event().body())
            prev = got.hash
    again = store.append(AppendRequest(sent))
    assert all(r.duplicate for r in again) and [r.position for r in again] == list(range(1, 258))


def test_raw_rows_page_like_read_all_and_hold_the_canonical_body(store: EventStore) -> None:
    sent = [ev(f"R{k}", i, note='南京 "quoted"') for k in range(3) for i in range(3)]
    store.append(AppendRequest(sent))
    pages = []
    after = 0
    while page := store.read_raw(after=after, limit=4):
        pages.append(page)
        after = page[-1].position
    assert [len(p) for p in pages] == [4, 4, 1]
    rows = [r for p in pages for r in p]
    assert [r.decode() for r in rows] == store.read_all(0, 100)
    for row, event in zip(rows, sent, strict=True):
        body = row.body.encode() if isinstance(row.body, str) else row.body
        assert body == event.body()  # the exact bytes the hash covers
        assert (row.id, row.oid, row.type, row.time) == (event.id, event.oid, event.type, event.time)
    assert store.read_raw(after=9) == []


def test_empty_store_reads_nothing(store: EventStore) -> None:
    assert store.last_position() == 0
    assert store.read_all() == []
    assert store.read_raw() == []
    assert store.read_stream("nope") == []
    assert store.get("nope") is None


def test_get_returns_one_event_by_id(store: EventStore) -> None:
    e = ev("X1", 1)
    store.append(AppendRequest([e]))
    got = store.get(e.id)
    assert got is not None and got.oid == "X1" and got.seq == 1


def test_claims_map_source_numbers_to_one_order(store: EventStore) -> None:
    store.append(AppendRequest([ev("K1", 1)], claims={"erp:SO-1": "K1", "wms:W-9": "K1"}))
    assert store.resolve("erp:SO-1") == "K1"
    assert store.claims_of("K1") == ["erp:SO-1", "wms:W-9"]
    store.append(AppendRequest([], claims={"erp:SO-1": "K1"}))  # same owner: fine
    with pytest.raises(ClaimConflict):
        store.append(AppendRequest([ev("K2", 1)], claims={"erp:SO-1": "K2"}))
    assert store.read_stream("K2") == []
    assert store.resolve("erp:missing") is None


def test_customer_keys_are_created_once_and_can_be_destroyed(store: EventStore) -> None:
    assert store.customer_keys(["c1"], create=False) == {}
    made = store.customer_keys(["c1", "c2"], create=True)
    assert set(made) == {"c1", "c2"} and all(len(k) == 64 for k in made.values()) and made["c1"] != made["c2"]
    assert store.customer_keys(["c1", "c3"], create=True)["c1"] == made["c1"]
    assert store.forget_customer("c1") is True
    assert store.customer_keys(["c1", "c2"], create=False) == {"c2": made["c2"]}
    assert store.forget_customer("c1") is False
    assert store.customer_keys(["c1"], create=True)["c1"] != made["c1"]  # a forgotten customer starts afresh


def test_new_customer_keys_commit_with_the_events_and_the_first_writer_wins(store: EventStore) -> None:
    first, second = b"1" * 64, b"2" * 64
    store.append(AppendRequest([ev("P1", 1)], keys={"cust": first}))
    assert store.customer_keys(["cust"], create=False) == {"cust": first}
    store.append(AppendRequest([ev("P2", 1)], keys={"cust": first}))  # the same key again is fine
    with pytest.raises(KeyConflict):
        store.append(AppendRequest([ev("P3", 1)], keys={"cust": second}))
    assert store.read_stream("P3") == []
    assert store.customer_keys(["cust"], create=False) == {"cust": first}


def test_concurrent_writers_to_one_stream_all_land_with_consecutive_seq(store: EventStore) -> None:
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(10):
                store.append(AppendRequest([ev("S1", k * 100 + i)]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stream = store.read_stream("S1")
    assert [e.seq for e in stream] == list(range(1, 41))
    assert [e.position for e in stream] == sorted(e.position for e in stream)


def test_a_failed_request_does_not_disturb_concurrent_good_ones(store: EventStore) -> None:
    store.append(AppendRequest([ev("F1", 1)]))
    results: dict[int, object] = {}

    def write(k: int) -> None:
        try:
            expect = {"F1": 0} if k == 0 else {}
            results[k] = store.append(AppendRequest([ev("F1" if k == 0 else f"F{k + 1}", 1)], expect=expect))
        except BaseException as exc:  # noqa: BLE001
            results[k] = exc

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(results[0], ConcurrencyConflict)
    assert all(isinstance(results[k], list) for k in range(1, 6))
    assert store.last_position() == 6


def test_a_follower_waiting_for_appends_wakes_when_one_commits(store: EventStore) -> None:
    import time

    woke: list[float] = []

    def follow() -> None:
        started = time.monotonic()
        store.wait_for_appends(10.0)
        woke.append(time.monotonic() - started)

    store.wait_for_appends(0.01)  # opens a listening connection where the adapter has one
    t = threading.Thread(target=follow)
    t.start()
    time.sleep(0.3)
    store.append(AppendRequest([ev("W1", 1)]))
    t.join(timeout=15)
    assert woke and woke[0] < 5.0, "the follower slept through the append"
