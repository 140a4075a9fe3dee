"""Verification recomputes each order's hash chain and names the first broken link."""

from __future__ import annotations

import dataclasses
import itertools

from orderloom.core.envelope import StoredEvent
from orderloom.core.hashing import GENESIS, link_hash
from orderloom.status.verify import verify_log, verify_stream
from tests.unit._support import Rig, raw_event, rig


def with_order(r: Rig, oid: str, extra: int = 3) -> list[StoredEvent]:
    r.place(oid)
    r.record(
        *(
            raw_event(r.dictionary, t, oid=oid, eid=f"{oid}-{t}", minutes=10 * (i + 1))
            for i, t in enumerate(["outbound.scanned", "linehaul.in_transit", "customer.picked_up"][:extra])
        )
    )
    return r.store.read_stream(oid)


def tampered(e: StoredEvent) -> StoredEvent:
    """The same stored event with its payload changed but the stored hash kept."""
    return dataclasses.replace(e, data={**e.data, "location": "somewhere else"})


def test_an_intact_stream_verifies() -> None:
    events = with_order(rig(), "OL-OK")
    verdict = verify_stream("OL-OK", events)
    assert verdict.ok
    assert verdict.checked == 4
    assert verdict.broken_seq is None and verdict.reason is None


def test_the_stored_hashes_link_from_genesis() -> None:
    events = with_order(rig(), "OL-OK")
    assert events[0].prevhash == GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prevhash == before.hash
    first = events[0]
    assert first.hash == link_hash(GENESIS, "OL-OK", 1, first.as_event().body())


def test_an_empty_stream_verifies_with_nothing_checked() -> None:
    verdict = verify_stream("OL-NONE", [])
    assert verdict.ok and verdict.checked == 0


def test_a_changed_event_is_detected_and_named() -> None:
    events = with_order(rig(), "OL-TAMPER")
    events[2] = tampered(events[2])
    verdict = verify_stream("OL-TAMPER", events)
    assert not verdict.ok
    assert verdict.broken_seq == 3
    assert verdict.broken_id == events[2].id
    assert "changed" in (verdict.reason or "")
    assert verdict.checked == 2  # the links before the broken one held


def test_a_changed_actor_is_detected_too() -> None:
    events = with_order(rig(), "OL-ACTOR")
    events[1] = dataclasses.replace(events[1], actor="emp:someone-else")
    verdict = verify_stream("OL-ACTOR", events)
    assert (verdict.ok, verdict.broken_seq) == (False, 2)


def test_a_missing_event_is_detected() -> None:
    events = with_order(rig(), "OL-GAP")
    dropped = events.pop(1)
    verdict = verify_stream("OL-GAP", events)
    assert not verdict.ok
    assert verdict.broken_seq == 3
    assert verdict.broken_id == events[1].id
    assert "missing" in (verdict.reason or "")
    assert str(dropped.seq) in (verdict.reason or "")


def test_a_missing_first_event_is_detected() -> None:
    events = with_order(rig(), "OL-HEADLESS")
    verdict = verify_stream("OL-HEADLESS", events[1:])
    assert (verdict.ok, verdict.broken_seq) == (False, 2)


def test_an_event_relinked_to_a_forged_predecessor_is_detected() -> None:
    events = with_order(rig(), "OL-RELINK")
    events[3] = dataclasses.replace(events[3], prevhash="e" * 64)
    verdict = verify_stream("OL-RELINK", events)
    assert (verdict.ok, verdict.broken_seq) == (False, 4)
    assert "link" in (verdict.reason or "")


def test_the_reader_verifies_an_order_from_the_store() -> None:
    r = rig()
    with_order(r, "OL-READ")
    assert r.reader.verify("OL-READ").ok


# ------------------------------------------------------------------ the whole log


def log_of_three_orders() -> tuple[Rig, list[StoredEvent]]:
    r = rig()
    for oid, extra in (("OL-A", 3), ("OL-B", 2), ("OL-C", 1)):
        with_order(r, oid, extra)
    log = r.store.read_all(0, 1000)
    assert len(log) == 4 + 3 + 2
    return r, log


def test_verify_log_over_an_intact_log_finds_every_order_intact() -> None:
    _, log = log_of_three_orders()
    verdicts = {v.oid: v for v in verify_log(log)}
    assert set(verdicts) == {"OL-A", "OL-B", "OL-C"}
    assert all(v.ok for v in verdicts.values())
    assert {oid: v.checked for oid, v in verdicts.items()} == {"OL-A": 4, "OL-B": 3, "OL-C": 2}


def test_verify_log_flags_only_the_tampered_order() -> None:
    _, log = log_of_three_orders()
    i = next(i for i, e in enumerate(log) if e.oid == "OL-B" and e.seq == 2)
    log[i] = tampered(log[i])
    verdicts = list(verify_log(log))
    assert sorted(v.oid for v in verdicts) == ["OL-A", "OL-B", "OL-C"]  # one verdict per order
    broken = [v for v in verdicts if not v.ok]
    assert [(v.oid, v.broken_seq) for v in broken] == [("OL-B", 2)]
    assert "changed" in (broken[0].reason or "")


def test_verify_log_flags_an_order_whose_first_event_was_changed() -> None:
    _, log = log_of_three_orders()
    i = next(i for i, e in enumerate(log) if e.oid == "OL-C" and e.seq == 1)
    log[i] = dataclasses.replace(log[i], source="forged")
    verdicts = list(verify_log(log))
    assert sorted(v.oid for v in verdicts) == ["OL-A", "OL-B", "OL-C"]
    assert {v.oid: v.ok for v in verdicts} == {"OL-A": True, "OL-B": True, "OL-C": False}


def test_verify_log_agrees_with_verify_stream_per_order() -> None:
    _, log = log_of_three_orders()
    i = next(i for i, e in enumerate(log) if e.oid == "OL-A" and e.seq == 3)
    log[i] = tampered(log[i])
    for v in verify_log(log):
        alone = verify_stream(v.oid, [e for e in log if e.oid == v.oid])
        assert (v.ok, v.broken_seq, v.reason) == (alone.ok, alone.broken_seq, alone.reason)
