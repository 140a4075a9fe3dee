"""The status-chain projection: a pure function of an order's events.

Steps are ordered by occurrence (`time`), with the store position as the
tie-breaker, so late and out-of-order arrivals land where they happened.
A split order has several shipments; the order is only "delivered" when every
shipment is, so a delivered parcel never hides one still on the road.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.dictionary.model import Dictionary, Term

MAIN = "main"


def _seconds_between(earlier: StoredEvent, later: StoredEvent) -> float:
    return (later.occurred_at - earlier.occurred_at).total_seconds()


def order_events(events: Sequence[StoredEvent]) -> list[StoredEvent]:
    """Events in occurrence order, position breaking ties."""
    return sorted(events, key=lambda e: (e.time, e.position))


def build_chain(events: Sequence[StoredEvent], dictionary: Dictionary) -> dict[str, Any]:
    """The full chain of one order (every step, every field): the input to role views."""
    ordered = order_events(events)
    declared: list[str] = []
    steps: list[dict[str, Any]] = []
    prev: StoredEvent | None = None
    for e in ordered:
        t = dictionary.get(e.type)
        data = t.upcast(dict(e.data), e.schemaver) if t and e.schemaver < t.version else e.data
        if e.type == "order.split":
            declared = [str(s.get("shipment")) for s in data.get("shipments", []) if s.get("shipment")]
        steps.append(
            {
                "seq": e.seq,
                "position": e.position,
                "id": e.id,
                "type": e.type,
                "label": dict(t.label) if t else {"zh": e.type, "en": e.type},
                "stage": t.stage if t else None,
                "leg": t.leg if t else None,
                "status": t.status if t else None,
                "shipment": data.get("shipment") if isinstance(data.get("shipment"), str) else None,
                "time": e.time,
                "recorded": e.recorded,
                "since_previous_s": _seconds_between(prev, e) if prev else None,
                "arrived_late": False,
                "actor": e.actor,
                "deviceid": e.deviceid,
                "proof": e.proof,
                "data": data,
                "source": e.source,
            }
        )
        prev = e
    # An event arrived late when something that happened after it was stored before it.
    earliest_after = None
    for step in reversed(steps):
        step["arrived_late"] = earliest_after is not None and step["position"] > earliest_after
        earliest_after = step["position"] if earliest_after is None else min(earliest_after, step["position"])
    shipments = _shipments(steps, declared, dictionary)
    return {
        "oid": ordered[0].oid if ordered else None,
        "status": _order_status(steps, shipments, dictionary),
        "shipments": shipments,
        "steps": steps,
        "placed_at": ordered[0].time if ordered else None,
        "last_event_at": ordered[-1].time if ordered else None,
        "event_count": len(ordered),
    }


def _shipments(steps: list[dict[str, Any]], declared: list[str], dictionary: Dictionary) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(declared + [s["shipment"] for s in steps if s["shipment"]])) or [MAIN]
    out = []
    for name in names:
        mine = [s for s in steps if s["shipment"] in (None, name) or (name == MAIN and s["shipment"] is None)]
        status: str | None = None
        legs: dict[str, dict[str, Any]] = {}
        for s in mine:
            if s["status"]:
                status = s["status"]
            if s["leg"]:
                legs[s["leg"]] = {"type": s["type"], "label": s["label"], "time": s["time"], "seq": s["seq"]}
        term = dictionary.statuses.get(status or "")
        out.append(
            {
                "shipment": name,
                "status": _status_doc(term, status),
                "legs": [
                    {"leg": leg, "label": _label(dictionary.legs.get(leg), leg), "current": cur}
                    for leg, cur in legs.items()
                ],
            }
        )
    return out


def _order_status(
    steps: list[dict[str, Any]], shipments: list[dict[str, Any]], dictionary: Dictionary
) -> dict[str, Any]:
    if not steps:
        return {"id": None, "label": None, "kind": None}
    order_level = [s["status"] for s in steps if s["status"] and s["shipment"] is None]
    if order_level and dictionary.statuses.get(order_level[-1], Term("", {})).kind == "closed":
        return _status_doc(dictionary.statuses.get(order_level[-1]), order_level[-1])
    kinds = [sh["status"]["kind"] for sh in shipments]
    if all(k == "delivered" for k in kinds):
        return dict(shipments[0]["status"])
    open_ones = [sh for sh in shipments if sh["status"]["kind"] != "delivered"]
    slowest = min(open_ones, key=lambda sh: sh["status"]["rank"] or 0)
    doc = dict(slowest["status"])
    if any(k == "delivered" for k in kinds):
        doc["partially_delivered"] = True
        doc["open_shipments"] = [sh["shipment"] for sh in open_ones]
    return doc


def _status_doc(term: Term | None, status: str | None) -> dict[str, Any]:
    if term is None:
        return {"id": status, "label": None, "kind": "open", "rank": 0}
    return {"id": term.id, "label": dict(term.label), "kind": term.kind, "rank": term.rank}


def _label(term: Term | None, fallback: str) -> dict[str, str]:
    return dict(term.label) if term else {"zh": fallback, "en": fallback}
