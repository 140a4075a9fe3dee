"""Chain verification: recompute every link and name the first broken one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from orderloom.core.envelope import StoredEvent
from orderloom.core.hashing import GENESIS, link_hash


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an order's chain is intact, and where it breaks if not."""

    oid: str
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "oid": self.oid,
            "ok": self.ok,
            "checked": self.checked,
            "broken_seq": self.broken_seq,
            "broken_id": self.broken_id,
            "reason": self.reason,
        }


def verify_stream(oid: str, events: Sequence[StoredEvent]) -> Verdict:
    """Check seq continuity, prevhash links and each hash over the stored content."""
    seq, prev = 0, GENESIS
    for e in events:
        verdict = verify_stream_step(oid, seq, prev, e)
        if verdict is not None:
            return verdict
        seq, prev = e.seq, e.hash
    return Verdict(oid, True, len(events))


def verify_log(events: Iterable[StoredEvent]) -> Iterator[Verdict]:
    """Verify every order in one pass over the log (position order); yields one verdict per order."""
    heads: dict[str, tuple[int, str]] = {}
    broken: dict[str, Verdict] = {}
    for e in events:
        if e.oid in broken:
            continue
        seq, prev = heads.get(e.oid, (0, GENESIS))
        verdict = verify_stream_step(e.oid, seq, prev, e)
        if verdict is not None:
            broken[e.oid] = verdict
            continue
        heads[e.oid] = (e.seq, e.hash)
    for oid, (seq, _) in heads.items():
        yield broken.pop(oid) if oid in broken else Verdict(oid, True, seq)
    yield from broken.values()


def verify_stream_step(oid: str, seq: int, prev: str, e: StoredEvent) -> Verdict | None:
    """Check one link given the one before it; None when it holds."""
    if e.seq != seq + 1:
        return Verdict(oid, False, seq, e.seq, e.id, f"event number {seq + 1} is missing (found seq {e.seq})")
    if e.prevhash != prev:
        return Verdict(oid, False, seq, e.seq, e.id, "it does not link to the event before it")
    if link_hash(prev, oid, e.seq, e.as_event().body()) != e.hash:
        return Verdict(oid, False, seq, e.seq, e.id, "its content was changed after it was recorded")
    return None
