"""Turns append requests into rows: dedupe, concurrency checks, seq and hashes.

Shared by every adapter so they agree exactly on the semantics the contract
tests pin down. Adapters supply the current state (existing ids, stream heads,
claims); the planner works on an overlay so several requests can be planned
into one transaction (group commit) and a failing one leaves no trace.

This is the per-event hot path of every append, so rows, results and known
ids are tuples (a frozen dataclass costs ~1 µs to build, a tuple ~0.3 µs) and
`Row` is already in the adapters' INSERT column order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from orderloom.core.errors import ClaimConflict, ConcurrencyConflict, DuplicateConflict, KeyConflict
from orderloom.core.hashing import GENESIS, link_hash
from orderloom.store.port import AppendRequest, Recorded


class Row(NamedTuple):
    """One event row ready to insert, fields in the column order of the adapters' INSERT."""

    position: int
    id: str
    oid: str
    seq: int
    type: str
    time: str
    body: bytes
    prevhash: str
    hash: str
    recorded: str


# A stored event's canonical body and where it landed: enough to answer a duplicate.
Known = tuple[bytes, Recorded]


@dataclass(slots=True)
class GroupState:
    """What the transaction has seen and planned so far.

    `recorded` is the transaction's commit stamp, taken once the write lock is held.
    """

    next_position: int
    recorded: str
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    known: dict[str, Known] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)
    keys: dict[str, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    """The outcome of planning one request."""

    rows: list[Row]
    results: list[Recorded]
    new_heads: dict[str, tuple[int, str]]
    new_claims: dict[str, str]
    new_keys: dict[str, bytes] = field(default_factory=dict)
    written: dict[str, Known] = field(default_factory=dict)


_new = tuple.__new__


def _no_key(_: str) -> bytes | None:
    return None


def plan_request(
    request: AppendRequest,
    state: GroupState,
    head_of: Callable[[str], tuple[int, str]],
    claim_of: Callable[[str], str | None],
    key_of: Callable[[str], bytes | None] = _no_key,
    *,
    bodies: Sequence[bytes] | None = None,
) -> Plan:
    """Plan one request against `state`; raise without touching `state` on conflict.

    `bodies` are the events' canonical bodies (`Event.body()`) when the caller
    has computed them already, e.g. in its own thread before queueing.
    """
    events = request.events
    if bodies is None:
        bodies = [e.body() for e in events]
    results: list[Recorded] = []
    rows: list[Row] = []
    heads: dict[str, tuple[int, str]] = {}
    written: dict[str, Known] = {}
    position = state.next_position
    recorded = state.recorded
    known, state_heads, expect = state.known, state.heads, request.expect
    # The hot loop of every append: locals and one lookup per dict, on purpose.
    for event, body in zip(events, bodies, strict=True):
        eid = event.id
        prior = written.get(eid) or known.get(eid)
        if prior is not None:
            if prior[0] != body:
                raise DuplicateConflict(eid)
            results.append(prior[1]._replace(duplicate=True))
            continue
        oid = event.oid
        head = heads.get(oid)
        if head is None:
            head = state_heads.get(oid) or head_of(oid)
            if oid in expect and expect[oid] != head[0]:
                raise ConcurrencyConflict(oid, expect[oid], head[0])
        seq = head[0] + 1
        prev = head[1]
        digest = link_hash(prev, oid, seq, body)
        position += 1
        # tuple.__new__ skips the named tuples' Python-level __new__: half the cost per event.
        rows.append(_new(Row, (position, eid, oid, seq, event.type, event.time, body, prev, digest, recorded)))
        rec = _new(Recorded, (eid, oid, seq, position, digest, False))
        results.append(rec)
        written[eid] = (body, rec)
        heads[oid] = (seq, digest)
    for oid, expected in expect.items():
        if oid not in heads:
            # Only duplicates (a retry) or nothing for this order: check anyway
            # unless the retry already landed, so a retry stays harmless.
            if any(r.oid == oid for r in results):
                continue
            seq = (state_heads.get(oid) or head_of(oid))[0]
            if seq != expected:
                raise ConcurrencyConflict(oid, expected, seq)
    new_claims: dict[str, str] = {}
    for key, oid in request.claims.items():
        owner = state.claims.get(key) or claim_of(key)
        if owner is not None and owner != oid:
            raise ClaimConflict(key, owner)
        if owner is None:
            new_claims[key] = oid
    new_keys: dict[str, bytes] = {}
    for customer, data_key in request.keys.items():
        existing = state.keys.get(customer) or key_of(customer)
        if existing is None:
            new_keys[customer] = data_key
        elif existing != data_key:
            raise KeyConflict(customer)
    return Plan(rows, results, heads, new_claims, new_keys, written)


def commit_plan(plan: Plan, state: GroupState) -> None:
    """Fold a successfully planned request into the transaction's state."""
    state.heads.update(plan.new_heads)
    state.claims.update(plan.new_claims)
    state.keys.update(plan.new_keys)
    state.known.update(plan.written)
    if plan.rows:
        state.next_position = plan.rows[-1].position


def genesis_head() -> tuple[int, str]:
    """The head of a stream that has no events yet."""
    return (0, GENESIS)


def event_ids(requests: Iterable[AppendRequest]) -> list[str]:
    """Every event id in a group of requests."""
    return [e.id for r in requests for e in r.events]


__all__ = ["GroupState", "Known", "Plan", "Row", "commit_plan", "event_ids", "genesis_head", "plan_request"]
