"""Per-order monitor state: what the monitors need of an order's events, folded from the log.

One JSON document per order (view `monitor_state`). It keeps a compact row per
business event ([time, position, type, id, shipment], in occurrence order),
whether the goods travel chilled, the promised time, the latest reading per
signal rule and the order's findings, which are folded from the order's own
`monitor.finding_*` events: the log, not the engine's memory, says which
findings exist, so a rebuilt state never opens a finding twice.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orderloom.core.envelope import StoredEvent, normalise_time
from orderloom.dictionary.model import Dictionary
from orderloom.status.monitors.model import SIGNAL_RULE, SLA_RISK, Monitor, MonitorSet
from orderloom.views.port import Doc

OPENED = "monitor.finding_opened"
RESOLVED = "monitor.finding_resolved"
FINDING_TYPES = (OPENED, RESOLVED)
NO_SHIPMENT = "-"

# Row fields.
T, POS, TYPE, ID, SHIP = range(5)


@dataclass(frozen=True, slots=True)
class Context:
    """What the fold and the rules look up, computed once from the dictionary and the monitors."""

    monitors: MonitorSet
    internal: frozenset[str]
    rank: Mapping[str, int]  # status rank of each type that sets a status
    closing: frozenset[str]  # types that close an order (cancelled, returned)
    signal_on: Mapping[str, tuple[Monitor, ...]] = field(default_factory=dict)
    deadline_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, dictionary: Dictionary, monitors: MonitorSet) -> Context:
        """The lookups for these monitors over this dictionary."""
        rank: dict[str, int] = {}
        closing = set()
        for t in dictionary.types.values():
            if t.status and t.status in dictionary.statuses:
                term = dictionary.statuses[t.status]
                rank[t.id] = term.rank
                if term.kind == "closed":
                    closing.add(t.id)
        signal_on: dict[str, list[Monitor]] = {}
        for m in monitors.of_kind(SIGNAL_RULE):
            for type_id in m.when:
                signal_on.setdefault(type_id, []).append(m)
        deadline_fields: dict[str, list[str]] = {}
        for m in monitors.of_kind(SLA_RISK):
            for d in m.deadlines:
                if d.field not in deadline_fields.setdefault(d.event, []):
                    deadline_fields[d.event].append(d.field)
        return cls(
            monitors=monitors,
            internal=frozenset(t.id for t in dictionary.types.values() if t.internal),
            rank=rank,
            closing=frozenset(closing),
            signal_on={k: tuple(v) for k, v in signal_on.items()},
            deadline_fields={k: tuple(v) for k, v in deadline_fields.items()},
        )


def touches(e: StoredEvent, ctx: Context) -> bool:
    """Whether the event changes an order's monitor state (business events and findings do; others do not)."""
    if e.oid.startswith("sys."):
        return False
    return e.type in FINDING_TYPES or e.type not in ctx.internal


def blank(oid: str) -> Doc:
    """The state of an order no event has touched yet."""
    return {
        "oid": oid,
        "rows": [],
        "cold": {"lines": False, "ship": {}},
        "shipments": [],
        "deadline": None,
        "readings": {},
        "findings": {},
        "counts": {},
        "learned": [],
        "next_due": None,
        "sla": None,
    }


def ship_key(shipment: str | None) -> str:
    """The key a shipment's facts are kept under (orders without shipments use one key)."""
    return shipment or NO_SHIPMENT


def add_event(doc: Doc, e: StoredEvent, ctx: Context) -> None:
    """Fold one log event into the order's state (in place)."""
    if e.type == OPENED:
        _opened(doc, e.data, e.time)
        return
    if e.type == RESOLVED:
        _resolved(doc, e.data, e.time)
        return
    data = e.data
    shipment = data.get("shipment") if isinstance(data.get("shipment"), str) else None
    row = [e.time, e.position, e.type, e.id, shipment]
    rows: list[list[Any]] = doc["rows"]
    # Late events are normal: keep rows in occurrence order (time, then position).
    bisect.insort(rows, row, key=lambda r: (r[T], r[POS]))
    if shipment and shipment not in doc["shipments"]:
        doc["shipments"].append(shipment)
    _cold_chain(doc, e)
    for path in ctx.deadline_fields.get(e.type, ()):
        _deadline(doc, e, path)
    for m in ctx.signal_on.get(e.type, ()):
        _reading(doc, m, e, shipment)


def _cold_chain(doc: Doc, e: StoredEvent) -> None:
    if e.type == "order.placed":
        lines = e.data.get("lines")
        if isinstance(lines, list) and any(isinstance(x, dict) and x.get("cold_chain") is True for x in lines):
            doc["cold"]["lines"] = True
    elif isinstance(e.data.get("cold_chain"), bool):
        doc["cold"]["ship"][ship_key(e.data.get("shipment"))] = e.data["cold_chain"]


def _deadline(doc: Doc, e: StoredEvent, path: str) -> None:
    value: Any = e.data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str):
        return
    try:
        at = normalise_time(value)
    except ValueError:
        return
    current = doc["deadline"]
    # The latest promise (by when it was made) is the one the order is held to.
    if current is None or (e.time, e.position) >= (current["set_at"], current["position"]):
        doc["deadline"] = {"at": at, "set_at": e.time, "position": e.position, "event_id": e.id, "event_type": e.type}


def _reading(doc: Doc, m: Monitor, e: StoredEvent, shipment: str | None) -> None:
    value = _number(e.data, m.value)
    if value is None:
        return
    limit, source = None, "config"
    if m.limit_field:
        limit = _number(e.data, m.limit_field)
        source = "event" if limit is not None else "config"
    if limit is None:
        limit = m.limit
    if limit is None:
        return
    violating = value > limit if m.rule == "above" else value < limit
    per = doc["readings"].setdefault(m.id, {})
    key = ship_key(shipment)
    old = per.get(key)
    if old is None or (e.time, e.position) > (old["time"], old["position"]):
        per[key] = {
            "time": e.time,
            "position": e.position,
            "id": e.id,
            "type": e.type,
            "value": value,
            "limit": limit,
            "limit_source": source,
            "violating": violating,
            "shipment": shipment,
        }


def _number(data: Mapping[str, Any], path: str) -> float | None:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def finding_number(finding_id: str) -> int | None:
    """n of a finding id `<monitor>:<oid>:<n>`, or None for an id of another shape."""
    tail = finding_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _opened(doc: Doc, data: Mapping[str, Any], time: str) -> None:
    fid = data.get("finding_id")
    monitor = data.get("monitor")
    if not isinstance(fid, str) or not isinstance(monitor, str):
        return
    raw = data.get("evidence")
    evidence: dict[str, Any] = raw if isinstance(raw, dict) else {}
    known = doc["findings"].get(fid, {})
    doc["findings"][fid] = {
        "monitor": monitor,
        "kind": data.get("kind"),
        "instance": evidence.get("instance"),
        "scope": evidence.get("scope"),
        "state": known.get("state", "open"),
        "opened_at": time,
        "evidence": evidence,
    }
    if "resolved_at" in known:
        doc["findings"][fid]["resolved_at"] = known["resolved_at"]
    n = finding_number(fid)
    if n is not None and n > doc["counts"].get(monitor, 0):
        doc["counts"][monitor] = n


def _resolved(doc: Doc, data: Mapping[str, Any], time: str) -> None:
    fid = data.get("finding_id")
    if not isinstance(fid, str):
        return
    if fid not in doc["findings"]:
        _opened(doc, data, time)
    doc["findings"][fid]["state"] = "resolved"
    doc["findings"][fid]["resolved_at"] = time


def apply_finding(doc: Doc, raw: Mapping[str, Any]) -> None:
    """Fold a finding event the engine is about to append (the same as folding it from the log later)."""
    if raw["type"] == OPENED:
        _opened(doc, raw["data"], normalise_time(raw["time"]))
    else:
        _resolved(doc, raw["data"], normalise_time(raw["time"]))


def cold_chain(doc: Doc, shipment: str | None) -> bool:
    """Whether the goods travel chilled: the line-haul's word for this shipment, else the order's lines."""
    ship = doc["cold"]["ship"]
    for key in (ship_key(shipment), NO_SHIPMENT):
        if key in ship:
            return bool(ship[key])
    if shipment is None and ship:
        return any(ship.values())
    return bool(doc["cold"]["lines"])


def known_shipment(doc: Doc, shipment: str | None) -> str | None:
    """The shipment an event names, or the order's only shipment."""
    if shipment:
        return shipment
    ships: list[str] = doc["shipments"]
    return ships[0] if len(ships) == 1 else None
