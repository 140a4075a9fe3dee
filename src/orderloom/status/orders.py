"""Placing orders: one `order.placed` event, its source order numbers claimed with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.ids import is_valid_oid, new_oid
from orderloom.status.directory import PLACED
from orderloom.status.intake import Intake, ref_key

_ENVELOPE_KEYS = {"oid", "time", "actor", "deviceid", "source"}


@dataclass(frozen=True, slots=True)
class Placed:
    """The answer to placing an order."""

    oid: str
    created: bool
    position: int | None


def place_order(intake: Intake, body: Any, *, source: str, actor: str | None) -> Placed:
    """Create an order from a request body; idempotent by OID and by source order number."""
    if not isinstance(body, dict):
        raise ValidationFailed([Problem("(body)", "type", "the order must be a JSON object")])
    refs = body.get("source_refs") or []
    keys = []
    if isinstance(refs, list):
        keys = [
            ref_key(str(r["system"]), str(r["number"]))
            for r in refs
            if isinstance(r, dict) and isinstance(r.get("system"), str) and isinstance(r.get("number"), str)
        ]
    for key in keys:
        owner = intake.store.resolve(key)
        if owner is not None:
            return Placed(owner, created=False, position=None)
    oid = body.get("oid") or new_oid()
    if not isinstance(oid, str) or not is_valid_oid(oid):
        raise ValidationFailed([Problem("oid", "format", "oid must be 3-64 letters, digits or . _ : -")])
    raw = {
        "id": f"placed-{oid}",
        "type": PLACED,
        "source": body.get("source") or source,
        "oid": oid,
        "time": body.get("time") or format_time(intake.clock.now()),
        "actor": body.get("actor") or actor,
        "data": {k: v for k, v in body.items() if k not in _ENVELOPE_KEYS},
    }
    if body.get("deviceid"):
        raw["deviceid"] = body["deviceid"]
    result = intake.record([raw], claims={key: oid for key in keys})[0]
    if result.status == "rejected":
        owner = next((o for o in (intake.store.resolve(k) for k in keys) if o), None)
        if owner is not None:
            return Placed(owner, created=False, position=None)
        raise ValidationFailed(result.problems)
    return Placed(oid, created=result.status == "accepted", position=result.position)
