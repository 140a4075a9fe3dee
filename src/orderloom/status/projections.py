"""The status views as projections: pure folds of (state, event) that a consumer keeps up to date.

A projection names the view it writes, the document an event touches (its
key, or None to ignore the event) and how that document changes. `apply`
never mutates the state it is given; it returns a new one. States are JSON
values, because the view store keeps them as JSON documents.

`apply_many` is the same fold over several events of one document, done in
one step: the consumer applies a whole batch per document, and for
`order_status` that saves recomputing the status after every event.

`raw_key` and `fresh_json` are the same again for rebuilds, which read the
log as undecoded rows (`RawEvent`): the encoded document a fold from nothing
produces, built from the columns and decoding a body only when the document
needs something in it. A rebuild spends most of its time there, so both
status views have one; the consumer checks they agree with `apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson

from orderloom.core.envelope import SPECVERSION, StoredEvent
from orderloom.dictionary.model import Dictionary, EventType

# The chain's own status rules, reused so the view and the chain can never disagree.
from orderloom.status.chain import _order_status, _shipments
from orderloom.status.directory import PLACED, customer_of
from orderloom.store.port import RawEvent
from orderloom.views.port import Doc

SYSTEM_PREFIX = "sys."
SPLIT = "order.split"


@dataclass(frozen=True, slots=True)
class Projection:
    """A read model as a pure fold over the log."""

    name: str
    view: str
    key: Callable[[StoredEvent], str | None]
    apply: Callable[[Doc | None, StoredEvent], Doc]
    apply_many: Callable[[Doc | None, Sequence[StoredEvent]], Doc] | None = None
    # Optional rebuild path: both or neither. `fresh_json(rows)`, given one document's rows in
    # log order, must equal orjson.dumps(fold(None, [r.decode() for r in rows])) once decoded.
    raw_key: Callable[[RawEvent], str | None] | None = None
    fresh_json: Callable[[Sequence[RawEvent]], bytes] | None = None

    def fold(self, state: Doc | None, events: Sequence[StoredEvent]) -> Doc | None:
        """The state after `events` (in the order given), in one step when the projection can."""
        if not events:
            return state
        if self.apply_many is not None:
            return self.apply_many(state, events)
        for e in events:
            state = self.apply(state, e)
        return state


def project_all(events: Iterable[StoredEvent], projection: Projection) -> dict[str, Doc]:
    """The reference fold: every log event once, in position order, one `apply` at a time."""
    states: dict[str, Doc] = {}
    for e in sorted({e.position: e for e in events}.values(), key=lambda e: e.position):
        key = projection.key(e)
        if key is not None:
            states[key] = projection.apply(states.get(key), e)
    return states


def order_key(event: StoredEvent | RawEvent) -> str | None:
    """The order id, or None for system streams (API keys, erasure records), which are not orders."""
    return None if event.oid.startswith(SYSTEM_PREFIX) else event.oid


# -- order_chain ---------------------------------------------------------------


def _compact(e: StoredEvent) -> Doc:
    return {
        "id": e.id,
        "type": e.type,
        "source": e.source,
        "oid": e.oid,
        "time": e.time,
        "data": e.data,
        "actor": e.actor,
        "deviceid": e.deviceid,
        "proof": e.proof,
        "schemaver": e.schemaver,
        "seq": e.seq,
        "position": e.position,
        "prevhash": e.prevhash,
        "hash": e.hash,
        "recorded": e.recorded,
    }


def _occurrence(d: Doc) -> tuple[str, int]:
    return (d["time"], d["position"])


def apply_chain_many(state: Doc | None, events: Sequence[StoredEvent]) -> Doc:
    """The order's events, each once by id, in occurrence order (time, then position)."""
    known: list[Doc] = state["events"] if state else []
    seen = {d["id"] for d in known}
    added = []
    for e in events:
        if e.id not in seen:
            seen.add(e.id)
            added.append(_compact(e))
    merged = known + added
    if added:
        merged.sort(key=_occurrence)
    oid = state["oid"] if state else events[0].oid
    return {"oid": oid, "events": merged}


def apply_chain(state: Doc | None, event: StoredEvent) -> Doc:
    """One event into the order's chain of events."""
    return apply_chain_many(state, (event,))


def chain_events(doc: Doc) -> list[StoredEvent]:
    """The stored events an `order_chain` document holds, in occurrence order (the input to build_chain)."""
    return [StoredEvent(**d) for d in doc["events"]]


# A canonical body (Event.body(): sorted keys, no spaces) is the `_compact` entry
# plus "specversion" and minus the store's columns. The top-level "specversion"
# is its last occurrence: only "time" and "type" follow it, and their values are
# JSON strings, which cannot hold an unescaped quote.
_SPEC = b',"specversion":' + orjson.dumps(SPECVERSION) + b","
_CANONICAL_START = b'{"actor":'
_time_of = attrgetter("time")


def _chain_entry(row: RawEvent) -> bytes:
    """The encoded `_compact` of a row, cut from its body instead of decoded and encoded again."""
    body = row.body if isinstance(row.body, bytes) else row.body.encode()
    cut = body.rfind(_SPEC)
    if cut < 0 or not body.startswith(_CANONICAL_START) or not body.endswith(b"}"):
        return orjson.dumps(_compact(row.decode()))  # not a canonical body: take the long way
    store = orjson.dumps(
        {"seq": row.seq, "position": row.position, "prevhash": row.prevhash, "hash": row.hash, "recorded": row.recorded}
    )
    # body without "specversion" and its closing brace, then the store's fields without their opening one.
    return b"".join((body[:cut], b",", body[cut + len(_SPEC) : -1], b",", store[1:]))


def chain_json(rows: Sequence[RawEvent]) -> bytes:
    """The encoded `order_chain` document of one order's rows (in log order), folded from nothing."""
    # The log holds each event id once, so there is nothing to de-duplicate; rows come in
    # position order and the sort is stable, so sorting by time alone orders by (time, position).
    entries = b",".join([_chain_entry(r) for r in sorted(rows, key=_time_of)])
    return b'{"oid":%s,"events":[%s]}' % (orjson.dumps(rows[0].oid), entries)


ORDER_CHAIN = Projection(
    "order_chain", "order_chain", order_key, apply_chain, apply_chain_many, raw_key=order_key, fresh_json=chain_json
)


# -- order_status --------------------------------------------------------------
#
# A mark is what the status rules need of one event, as a JSON array:
# [time, position, status, shipment, declared shipments or None]. Only events
# that set a status, name a shipment or split the order leave a mark.


# What the status fold reads of an event: (type, time, position, data, schemaver).
# `data` is None when the event holds nothing the fold reads in it (see `_fact`).
_Fact = tuple[str, str, int, "dict[str, Any] | None", int]


def _mark(fact: _Fact, t: EventType | None) -> list[Any] | None:
    etype, time, position, data, schemaver = fact
    shipment = declared = None
    if data is not None:
        if t and schemaver < t.version:
            data = t.upcast(dict(data), schemaver)
        shipment = data.get("shipment") if isinstance(data.get("shipment"), str) else None
        if etype == SPLIT:
            declared = [str(s.get("shipment")) for s in data.get("shipments", []) if s.get("shipment")]
    status = t.status if t else None
    if status is None and shipment is None and declared is None:
        return None
    return [time, position, status, shipment, declared]


def _payload(body: bytes) -> dict[str, Any] | None:
    """The `data` object of a canonical body, decoded without the rest; None if it cannot be cut out.

    In a canonical body `data` follows "actor" (null or a string, which cannot
    hold an unescaped quote) and is followed by "deviceid". The first `},"deviceid":`
    after its start either closes `data` or lies inside it, and then the cut is
    unbalanced JSON that orjson refuses, so a wrong cut is never taken for the payload.
    """
    start = body.find(b',"data":{')
    end = body.find(b'},"deviceid":', start)
    if start < 0 or end < 0 or not body.startswith(_CANONICAL_START):
        return None
    try:
        data = orjson.loads(body[start + 8 : end + 1])
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _mark_order(mark: list[Any]) -> tuple[str, int]:
    return (mark[0], mark[1])


def _status_of(marks: list[list[Any]], dictionary: Dictionary) -> dict[str, Any]:
    if all(m[3] is None and m[4] is None for m in marks):
        # One shipment (the usual case): the chain rules come down to "the latest status set".
        status = next((m[2] for m in reversed(marks) if m[2] is not None), None)
        term = dictionary.statuses.get(status or "")
        return {"id": status, "kind": term.kind if term else "open"}
    declared: list[str] = []
    steps = []
    for _time, _position, status, shipment, split in marks:
        if split is not None:
            declared = split
        steps.append({"status": status, "shipment": shipment, "leg": None})
    if not steps:
        # An order whose events carry no status yet is open, as build_chain says.
        steps.append({"status": None, "shipment": None, "leg": None})
    doc = _order_status(steps, _shipments(steps, declared, dictionary), dictionary)
    return {"id": doc["id"], "kind": doc["kind"]}


def order_status(dictionary: Dictionary) -> Projection:
    """One summary per order: status, current event type, customer, event count, last event time.

    `event_count` is a plain counter, deliberately not de-duplicated here: it
    is exactly right only if every event is applied exactly once, which is
    the consumer's job (and what its tests check).
    """

    # Looked up once per type: a rebuild asks millions of times.
    types: dict[str, EventType | None] = {}

    def type_of(name: str) -> EventType | None:
        if name not in types:
            types[name] = dictionary.get(name)
        return types[name]

    # Per type: does the fold always read the payload (customer, declared shipments), and can it
    # be upcast (then the whole body is decoded, for its schemaver)?
    reads: dict[str, tuple[bool, bool]] = {}

    def fact(row: RawEvent) -> _Fact:
        """A row's fact, decoding its body (or just its payload) only if the fold reads something in it."""
        etype, body = row.type, row.body
        if etype not in reads:
            t = type_of(etype)
            reads[etype] = (etype in (PLACED, SPLIT), t is not None and bool(t.upcasts))
        always, upcast = reads[etype]
        if isinstance(body, str):
            body = body.encode()
        # orjson never escapes ASCII, so a "shipment" key anywhere in the body shows as these bytes.
        if not (always or upcast or b'"shipment"' in body):
            return (etype, row.time, row.position, None, 1)
        if not upcast:
            data = _payload(body)
            if data is not None:
                return (etype, row.time, row.position, data, 1)  # no upcasts: schemaver is not read
        d = orjson.loads(body)
        return (etype, row.time, row.position, d["data"], d["schemaver"])

    def fold(state: Doc | None, oid: str, facts: Iterable[_Fact]) -> Doc:
        doc: Doc = (
            dict(state)
            if state
            else {
                "oid": oid,
                "status": None,
                "kind": None,
                "type": None,
                "customer": None,
                "first_event_at": None,
                "last_event_at": None,
                "event_count": 0,
                "latest": None,
                "marks": [],
            }
        )
        marks = list(doc["marks"])
        # Locals, written back once: a rebuild runs this loop for every event of the log.
        count, latest, first, customer = doc["event_count"], doc["latest"], doc["first_event_at"], doc["customer"]
        for f in facts:
            etype, time, position, data, _ = f
            count += 1
            if latest is None or [time, position] > latest:
                latest = [time, position]
                doc["type"], doc["last_event_at"] = etype, time
            if first is None or time < first:
                first = time
            if etype == PLACED and data is not None:
                customer = customer_of(etype, data) or customer
            t = type_of(etype)
            if data is not None or (t is not None and t.status is not None):
                mark = _mark(f, t)
                if mark is not None:
                    marks.append(mark)
        marks.sort(key=_mark_order)
        status = _status_of(marks, dictionary)
        doc.update(
            event_count=count,
            latest=latest,
            first_event_at=first,
            customer=customer,
            marks=marks,
            status=status["id"],
            kind=status["kind"],
        )
        return doc

    def apply_many(state: Doc | None, events: Sequence[StoredEvent]) -> Doc:
        return fold(state, events[0].oid, [(e.type, e.time, e.position, e.data, e.schemaver) for e in events])

    def apply(state: Doc | None, event: StoredEvent) -> Doc:
        return apply_many(state, (event,))

    def fresh_json(rows: Sequence[RawEvent]) -> bytes:
        return orjson.dumps(fold(None, rows[0].oid, map(fact, rows)))

    return Projection(
        "order_status", "order_status", order_key, apply, apply_many, raw_key=order_key, fresh_json=fresh_json
    )


def status_projections(dictionary: Dictionary) -> list[Projection]:
    """The status capability's views, in the order a consumer should run them."""
    return [ORDER_CHAIN, order_status(dictionary)]
