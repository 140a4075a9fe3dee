"""Findings as events: the `monitor.finding_opened` / `monitor.finding_resolved` an engine appends to an order.

Ids are deterministic (`mf:<finding id>`, `mr:<finding id>`, the finding id
being `<monitor>:<oid>:<n>`), so appending the same decision twice stores it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.status.monitors.model import Monitor
from orderloom.status.monitors.state import OPENED, RESOLVED

SOURCE = "orderloom/monitors"
ACTOR = "system:monitor"


def finding_id(monitor: str, oid: str, n: int) -> str:
    """The id of a monitor's n-th finding on an order."""
    return f"{monitor}:{oid}:{n}"


def opened_event(oid: str, monitor: Monitor, n: int, at: datetime, evidence: dict[str, Any]) -> dict[str, Any]:
    """The raw `monitor.finding_opened` event for a new finding."""
    fid = finding_id(monitor.id, oid, n)
    return {
        "id": f"mf:{fid}",
        "type": OPENED,
        "source": SOURCE,
        "oid": oid,
        "time": format_time(at),
        "actor": ACTOR,
        "data": {
            "finding_id": fid,
            "monitor": monitor.id,
            "kind": monitor.kind,
            "severity": monitor.severity,
            "label": dict(monitor.label),
            "evidence": evidence,
        },
    }


def resolved_event(
    oid: str, fid: str, record: dict[str, Any], monitor: Monitor, *, at: datetime, by: dict[str, Any], open_s: float
) -> dict[str, Any]:
    """The raw `monitor.finding_resolved` event closing a finding (`by`: the event that settled it)."""
    return {
        "id": f"mr:{fid}",
        "type": RESOLVED,
        "source": SOURCE,
        "oid": oid,
        "time": format_time(at),
        "actor": ACTOR,
        "data": {
            "finding_id": fid,
            "monitor": monitor.id,
            "kind": monitor.kind,
            "severity": monitor.severity,
            "label": dict(monitor.label),
            "evidence": record.get("evidence") or {},
            "resolved_by": by,
            "open_s": max(0.0, round(open_s, 3)),
        },
    }
