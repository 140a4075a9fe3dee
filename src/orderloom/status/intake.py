"""Intake: validate events against the dictionary and append them to the log.

Per event the answer is accepted, duplicate or rejected (with the field and
the rule). Valid events are stored even if others in the batch are rejected,
unless the caller asks for all-or-nothing; either way one store transaction
holds what is written, so nothing is ever half-written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orderloom.core.clock import Clock
from orderloom.core.envelope import Event
from orderloom.core.errors import ClaimConflict, ConcurrencyConflict, DuplicateConflict, Problem, ValidationFailed
from orderloom.core.pii import seal
from orderloom.dictionary.model import Dictionary
from orderloom.dictionary.validation import validate_event
from orderloom.status.directory import PLACED, OrderDirectory, OrderHead, customer_of
from orderloom.store.port import AppendRequest, EventStore

REF_LINKED = "order.ref_linked"


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
        self._check_orders(valid, results, allow_internal)
        if atomic and any(r.problems for r in results):
            return _abandon(results)
        self._append(valid, results, atomic, claims or {})
        return results

    def _check_orders(self, valid: dict[int, Event], results: list[ItemResult], allow_internal: bool) -> None:
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
        for i, e in list(valid.items()):
            etype = self.dictionary.types[e.type]
            if not etype.pii:
                continue
            head = heads.get(e.oid)
            customer = head.customer if head else None
            if customer is None:
                results[i].problems = [
                    Problem("oid", "customer", f"order {e.oid} has no customer, so personal data cannot be protected")
                ]
                del valid[i]
                continue
            key = self.store.customer_key(customer, create=True)
            assert key is not None
            valid[i] = _with_data(e, seal(e.data, etype.pii, key, customer))

    def _append(
        self, valid: dict[int, Event], results: list[ItemResult], atomic: bool, extra_claims: dict[str, str]
    ) -> None:
        # Placements go first so an order's other events in the same batch find it.
        pending = sorted(valid, key=lambda i: (valid[i].type != PLACED, i))
        while pending:
            events = [valid[i] for i in pending]
            expect = {e.oid: 0 for e in events if e.type == PLACED}
            claims = dict(extra_claims)
            claims.update(
                {ref_key(str(e.data["system"]), str(e.data["number"])): e.oid for e in events if e.type == REF_LINKED}
            )
            try:
                recorded = self.store.append(AppendRequest(events, expect=expect, claims=claims))
            except (DuplicateConflict, ConcurrencyConflict, ClaimConflict) as exc:
                culprit = _culprit(exc, pending, valid)
                results[culprit].problems = [_problem(exc)]
                if atomic:
                    _abandon(results)
                    return
                pending.remove(culprit)
                continue
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
