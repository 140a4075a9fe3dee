"""Role views: what each audience may see of a chain, exactly as the dictionary grants.

The view is built by whitelisting (copy only what is granted), never by
deleting what is forbidden, so a field added to an event later stays hidden
until the dictionary grants it.
"""

from __future__ import annotations

from typing import Any

from orderloom.core.envelope import StoredEvent, parse_time
from orderloom.dictionary.model import Dictionary


def role_view(chain: dict[str, Any], role: str, dictionary: Dictionary) -> dict[str, Any]:
    """The chain as `role` may see it."""
    steps = []
    prev_time: str | None = None
    prev_at = None
    for s in chain["steps"]:
        t = dictionary.get(s["type"])
        if t is None:
            continue
        view = t.view(role)
        if not view.visible:
            continue
        step: dict[str, Any] = {
            "seq": s["seq"],
            "id": s["id"],
            "type": s["type"],
            "label": dict(view.label) if view.label else s["label"],
            "stage": s["stage"],
            "leg": s["leg"],
            "shipment": s["shipment"],
            "time": s["time"],
            "data": {k: v for k, v in s["data"].items() if view.grants(k)},
        }
        at = parse_time(s["time"])
        step["since_previous_s"] = (at - prev_at).total_seconds() if prev_at is not None else None
        prev_at, prev_time = at, s["time"]
        if view.details:
            step.update(
                actor=s["actor"],
                deviceid=s["deviceid"],
                proof=s["proof"],
                position=s["position"],
                recorded=s["recorded"],
                arrived_late=s["arrived_late"],
                source=s["source"],
            )
        steps.append(step)
    # Each leg shows the latest step this role may see, so a hidden event never hides the leg.
    shipments = []
    for sh in chain["shipments"]:
        legs: dict[str, dict[str, Any]] = {}
        for step in steps:
            if step["leg"] and step["shipment"] in (None, sh["shipment"]):
                legs[step["leg"]] = {
                    "type": step["type"],
                    "label": step["label"],
                    "time": step["time"],
                    "seq": step["seq"],
                }
        shipments.append(
            {
                "shipment": sh["shipment"],
                "status": sh["status"],
                "legs": [
                    {"leg": leg, "label": _leg_label(dictionary, leg), "current": cur} for leg, cur in legs.items()
                ],
            }
        )
    return {
        "oid": chain["oid"],
        "role": role,
        "status": chain["status"],
        "shipments": shipments,
        "steps": steps,
        "placed_at": chain["placed_at"],
        "last_visible_at": prev_time,
    }


def event_for_role(e: StoredEvent, role: str, dictionary: Dictionary) -> dict[str, Any] | None:
    """One live event as `role` may see it, or None when the role does not see this type."""
    t = dictionary.get(e.type)
    if t is None:
        return None
    view = t.view(role)
    if not view.visible:
        return None
    out: dict[str, Any] = {
        "oid": e.oid,
        "seq": e.seq,
        "id": e.id,
        "type": e.type,
        "label": dict(view.label or t.label),
        "stage": t.stage,
        "leg": t.leg,
        "status": t.status,
        "time": e.time,
        "data": {k: v for k, v in e.data.items() if view.grants(k)},
    }
    if view.details:
        out.update(actor=e.actor, deviceid=e.deviceid, proof=e.proof, position=e.position, recorded=e.recorded)
    return out


def _leg_label(dictionary: Dictionary, leg: str) -> dict[str, str]:
    term = dictionary.legs.get(leg)
    return dict(term.label) if term else {"zh": leg, "en": leg}
