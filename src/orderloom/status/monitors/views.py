"""The monitors' read models: one document per finding, the open ones at a glance, and the due index.

All of them are folds of the log kept by the engine in the same view-store
transaction as its checkpoint, so they can be dropped and rebuilt.
"""

from __future__ import annotations

from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.status.monitors.state import OPENED
from orderloom.views.port import Doc, ViewStore

CHECKPOINT = "monitor_state"
STATE_VIEW = "monitor_state"
FINDINGS_VIEW = "monitor_findings"
OPEN_VIEW = "monitor_open"
INDEX_VIEW = "monitor_index"
LEARN_VIEW = "monitor_learning"
ALL_VIEWS = (STATE_VIEW, FINDINGS_VIEW, OPEN_VIEW, INDEX_VIEW, LEARN_VIEW)
OPEN_KEY = "open"
_PAGE = 1000


def apply_finding_doc(doc: Doc | None, e: StoredEvent) -> Doc:
    """A finding's document after one of its events."""
    d = e.data
    out: Doc = dict(doc or {"finding_id": d["finding_id"], "oid": e.oid, "state": "open"})
    out.update(
        monitor=d.get("monitor"),
        kind=d.get("kind"),
        severity=d.get("severity"),
        label=d.get("label"),
    )
    if e.type == OPENED:
        out.update(evidence=d.get("evidence"), opened_at=e.time, opened_event=e.id)
    else:
        out.setdefault("evidence", d.get("evidence"))
        out.update(state="resolved", resolved_at=e.time, resolved_by=d.get("resolved_by"), open_s=d.get("open_s"))
    return out


def apply_open_index(index: Doc | None, finding: Doc) -> Doc:
    """The open-findings index after a finding changed: {finding id: [opened_at, monitor, oid]}."""
    entries: dict[str, Any] = dict((index or {}).get("findings", {}))
    fid = finding["finding_id"]
    if finding["state"] == "open":
        entries[fid] = [finding.get("opened_at"), finding.get("monitor"), finding["oid"]]
    else:
        entries.pop(fid, None)
    return {"findings": entries}


def list_findings(
    views: ViewStore,
    *,
    state: str | None = None,
    monitor: str | None = None,
    oid: str | None = None,
    limit: int = 100,
) -> list[Doc]:
    """Findings, newest first, filtered by state (open|resolved), monitor and order."""
    if oid is not None:
        order = views.read(STATE_VIEW, oid) or {}
        docs = [views.read(FINDINGS_VIEW, fid) for fid in order.get("findings", {})]
        found = [d for d in docs if d is not None]
    elif state == "open":
        entries = (views.read(OPEN_VIEW, OPEN_KEY) or {}).get("findings", {})
        chosen = [fid for fid, (_at, mon, _oid) in entries.items() if monitor is None or mon == monitor]
        found = [d for d in (views.read(FINDINGS_VIEW, fid) for fid in chosen) if d is not None]
    else:
        found = []
        # Finding ids start with the monitor id, so one monitor's findings are one key range.
        after = f"{monitor}:" if monitor else None
        while True:
            page = views.scan(FINDINGS_VIEW, _PAGE, after)
            if not page:
                break
            for key, doc in page:
                if monitor is not None and not key.startswith(f"{monitor}:"):
                    break
                found.append(doc)
            else:
                after = page[-1][0]
                continue
            break
    found = [
        d
        for d in found
        if (state is None or d.get("state") == state) and (monitor is None or d.get("monitor") == monitor)
    ]
    found.sort(key=lambda d: (d.get("opened_at") or "", d["finding_id"]), reverse=True)
    return found[:limit]
