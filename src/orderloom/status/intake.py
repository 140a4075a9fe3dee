"""Intake: validate events against the dictionary and append them to the log.

Per event the answer is accepted, duplicate or rejected (with the field and
the rule). Valid events are stored even if others in the batch are rejected,
unless the caller asks for all-or-nothing; either way one store transaction
holds what is written, so nothing is ever half-written.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderloom.core.clock import Clock
from orderloom.core.envelope import Event
from orderloom.core.errors import (
    ClaimConflict,
    ConcurrencyConflict,
    DuplicateConflict,
    KeyConflict,
    Problem,
    ValidationFailed,
)
from orderloom.core.pii import seal
from orderloom.dictionary.model import Dictionary
from orderloom.dictionary.validation import validate_event
from orderloom.status.directory import PLACED, OrderDirectory, OrderHead, customer_of
from orderloom.store.port import AppendRequest, EventStore

REF_LINKED = "order.ref_linked"
# Another process that forgets a customer is noticed within this many seconds;
# until then new personal data would be sealed with the destroyed key, i.e. born erased.
KEY_CACHE_S = 30.0
KEY_CACHE_SIZE = 200_000


@dataclass(slots=True)
class ItemResult:
    """The outcome for one event of a batch."""

    index: int
    id: str | None
    status: str  # accepted | duplicate | rejected
    oid: str | None = None
    seq: int | None = None
    position: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "status": self.status, "oid": self.oid}
        if self.status == "rejected":
            out["problems"] = [p.as_dict() for p in self.problems]
        else:
            out.update(seq=self.seq, position=self.position)
        return out


def ref_key(system: str, number: str) -> str:
    """The claim key of a source system's order number."""
    return f"{system.strip().lower()}:{number.strip()}"


class Intake:
    """Records batches of events for existing orders."""

    def __init__(self, store: EventStore, dictionary: Dictionary, clock: Clock, directory: OrderDirectory) -> None:
        self.store = store
        self.dictionary = dictionary
        self.clock = clock
        self.directory = directory
        self._key_cache: dict[str, tuple[bytes, float]] = {}
        # Checks beyond the dictionary that may refuse an event now (e.g. a paused sales channel).
        self.guards: list[Callable[[Event], Problem | None]] = []

    def record(
        self,
        raws: Sequence[Any],
        *,
        atomic: bool = False,
        allow_internal: bool = False,
        claims: dict[str, str] | None = None,
    ) -> list[ItemResult]:
        """Validate and append a batch; see the module docstring for the rules."""
        now = self.clock.now()
        results = [ItemResult(i, _raw_id(raw), "rejected") for i, raw in enumerate(raws)]
        valid: dict[int, Event] = {}
        for i, raw in enumerate(raws):
            try:
                valid[i] = validate_event(raw, self.dictionary, now, allow_internal=allow_internal)
            except ValidationFailed as exc:
                results[i].problems = exc.problems
        for i, e in list(valid.items()):
            refused = next((p for guard in self.guards if (p := guard(e)) is not None), None)
            if refused is not None:
                results[i].problems = [refused]
                del valid[i]
        personal = self._check_orders(valid, results, allow_internal)
        if atomic and any(r.problems for r in results):
            return _abandon(results)
        self._append(valid, personal, results, atomic, claims or {})
        return results

    def _check_orders(self, valid: dict[int, Event], results: list[ItemResult], allow_internal: bool) -> dict[int, str]:
        """Drop events of unknown orders; return the customer of each event holding personal data."""
        placed_here = {e.oid: e for e in valid.values() if e.type == PLACED}
        heads: dict[str, OrderHead | None] = {}
        for i, e in list(valid.items()):
            if e.oid in placed_here:
                heads[e.oid] = OrderHead(e.oid, customer_of(PLACED, placed_here[e.oid].data))
                continue
            if e.oid not in heads:
                heads[e.oid] = self.directory.find(e.oid)
            if heads[e.oid] is None and not allow_internal:
                results[i].problems = [
                    Problem("oid", "known_order", f"no order {e.oid} exists; create it first with POST /v1/orders")
                ]
                del valid[i]
        personal: dict[int, str] = {}
        for i, e in list(valid.items()):
            if not self.dictionary.types[e.type].pii:
                continue
            head = heads.get(e.oid)
            if head is None or head.customer is None:
                results[i].problems = [
                    Problem("oid", "customer", f"order {e.oid} has no customer, so personal data cannot be protected")
                ]
                del valid[i]
                continue
            personal[i] = head.customer
        return personal

    def _keys(self, customers: set[str]) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """(keys to seal with, the ones among them that are new and must be stored with the events)."""
        now = time.monotonic()
        keys: dict[str, bytes] = {}
        missing = []
        for c in customers:
            hit = self._key_cache.get(c)
            if hit is not None and now - hit[1] < KEY_CACHE_S:
                keys[c] = hit[0]
            else:
                missing.append(c)
        if missing:
            keys.update(self.store.customer_keys(missing, create=False))
        new = {c: secrets.token_bytes(64) for c in missing if c not in keys}
        keys.update(new)
        return keys, new

    def _cache(self, keys: dict[str, bytes]) -> None:
        now = time.monotonic()
        if len(self._key_cache) > KEY_CACHE_SIZE:
            self._key_cache.clear()
        self._key_cache.update((c, (k, now)) for c, k in keys.items())

    def forget_cached_key(self, customer: str) -> None:
        """Drop a destroyed key from this process's cache at once."""
        self._key_cache.pop(customer, None)

    def _append(
        self,
        valid: dict[int, Event],
        personal: dict[int, str],
        results: list[ItemResult],
        atomic: bool,
        extra_claims: dict[str, str],
    ) -> None:
        keys, new = self._keys(set(personal.values()))
        plain = {i: valid[i] for i in personal}

        def reseal(customer: str | None) -> None:
            for i, c in personal.items():
                if customer is None or c == customer:
                    e = plain[i]
                    valid[i] = _with_data(e, seal(e.data, self.dictionary.types[e.type].pii, keys[c], c))

        reseal(None)
        # Placements go first so an order's other events in the same batch find it.
        pending = sorted(valid, key=lambda i: (valid[i].type != PLACED, i))
        races = 0
        while pending:
            events = [valid[i] for i in pending]
            expect = {e.oid: 0 for e in events if e.type == PLACED}
            claims = dict(extra_claims)
            claims.update(
                {ref_key(str(e.data["system"]), str(e.data["number"])): e.oid for e in events if e.type == REF_LINKED}
            )
            wanted = {personal[i] for i in pending if i in personal}
            request = AppendRequest(events, expect=expect, claims=claims, keys={c: new[c] for c in wanted if c in new})
            try:
                recorded = self.store.append(request)
            except KeyConflict as exc:
                # Another writer made this new customer's key first: seal with theirs.
                races += 1
                if races > 3:
                    raise
                new.pop(exc.customer, None)
                keys.update(self.store.customer_keys([exc.customer], create=True))
                reseal(exc.customer)
                continue
            except (DuplicateConflict, ConcurrencyConflict, ClaimConflict) as exc:
                culprit = _culprit(exc, pending, valid)
                results[culprit].problems = [_problem(exc)]
                if atomic:
                    _abandon(results)
                    return
                pending.remove(culprit)
                continue
            self._cache({c: keys[c] for c in wanted})
            for i, rec in zip(pending, recorded, strict=True):
                r = results[i]
                r.status = "duplicate" if rec.duplicate else "accepted"
                r.id, r.oid, r.seq, r.position = rec.id, rec.oid, rec.seq, rec.position
                if valid[i].type == PLACED:
                    self.directory.remember(OrderHead(rec.oid, customer_of(PLACED, valid[i].data)))
            return


def _culprit(exc: Exception, pending: list[int], valid: dict[int, Event]) -> int:
    for i in pending:
        e = valid[i]
        if isinstance(exc, DuplicateConflict) and e.id == exc.event_id:
            return i
        if isinstance(exc, ConcurrencyConflict) and e.oid == exc.oid and e.type == PLACED:
            return i
        if (
            isinstance(exc, ClaimConflict)
            and e.type == REF_LINKED
            and ref_key(str(e.data["system"]), str(e.data["number"])) == exc.key
        ):
            return i
    return pending[0]


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, DuplicateConflict):
        return Problem("id", "unique", str(exc))
    if isinstance(exc, ConcurrencyConflict):
        return Problem("oid", "new_order", f"order {exc.oid} already exists; an order can be placed only once")
    return Problem("data.number", "unique", str(exc))


def _abandon(results: list[ItemResult]) -> list[ItemResult]:
    for r in results:
        if not r.problems:
            r.status = "rejected"
            r.problems = [Problem("(batch)", "all_or_nothing", "not stored: another event in this batch was rejected")]
    return results


def _raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _with_data(e: Event, data: dict[str, Any]) -> Event:
    return Event(e.id, e.type, e.source, e.oid, e.time, data, e.actor, e.deviceid, e.proof, e.schemaver)
