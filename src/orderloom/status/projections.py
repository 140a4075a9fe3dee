"""The status views as projections: pure folds of (state, event) that a consumer keeps up to date.

A projection names the view it writes, the document an event touches (its
key, or None to ignore the event) and how that document changes. `apply`
never mutates the state it is given; it returns a new one. States are JSON
values, because the view store keeps them as JSON documents.

`apply_many` is the same fold over several events of one document, done in
one step: the consumer applies a whole batch per document, and for
`order_status` that saves recomputing the status after every event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.dictionary.model import Dictionary, EventType

# The chain's own status rules, reused so the view and the chain can never disagree.
from orderloom.status.chain import _order_status, _shipments
from orderloom.status.directory import PLACED, customer_of
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


def order_key(event: StoredEvent) -> str | None:
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


ORDER_CHAIN = Projection("order_chain", "order_chain", order_key, apply_chain, apply_chain_many)


# -- order_status --------------------------------------------------------------
#
# A mark is what the status rules need of one event, as a JSON array:
# [time, position, status, shipment, declared shipments or None]. Only events
# that set a status, name a shipment or split the order leave a mark.


def _mark(e: StoredEvent, t: EventType | None) -> list[Any] | None:
    data = t.upcast(dict(e.data), e.schemaver) if t and e.schemaver < t.version else e.data
    shipment = data.get("shipment") if isinstance(data.get("shipment"), str) else None
    declared = None
    if e.type == SPLIT:
        declared = [str(s.get("shipment")) for s in data.get("shipments", []) if s.get("shipment")]
    status = t.status if t else None
    if status is None and shipment is None and declared is None:
        return None
    return [e.time, e.position, status, shipment, declared]


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

    def apply_many(state: Doc | None, events: Sequence[StoredEvent]) -> Doc:
        doc: Doc = (
            dict(state)
            if state
            else {
                "oid": events[0].oid,
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
        for e in events:
            doc["event_count"] += 1
            at = [e.time, e.position]
            if doc["latest"] is None or at > doc["latest"]:
                doc["latest"], doc["type"], doc["last_event_at"] = at, e.type, e.time
            if doc["first_event_at"] is None or e.time < doc["first_event_at"]:
                doc["first_event_at"] = e.time
            if e.type == PLACED:
                doc["customer"] = customer_of(e.type, e.data) or doc["customer"]
            if e.type not in types:
                types[e.type] = dictionary.get(e.type)
            mark = _mark(e, types[e.type])
            if mark is not None:
                marks.append(mark)
        marks.sort(key=lambda m: (m[0], m[1]))
        status = _status_of(marks, dictionary)
        doc.update(marks=marks, status=status["id"], kind=status["kind"])
        return doc

    def apply(state: Doc | None, event: StoredEvent) -> Doc:
        return apply_many(state, (event,))

    return Projection("order_status", "order_status", order_key, apply, apply_many)


def status_projections(dictionary: Dictionary) -> list[Projection]:
    """The status capability's views, in the order a consumer should run them."""
    return [ORDER_CHAIN, order_status(dictionary)]
