"""Policy health: how often each version and rule is used, and whether what it decided was done.

A decision version may declare execution checks in its document under
`orderloom.execution`: `[{"output": "carrier", "event": "outbound.scanned",
"field": "carrier"}]` reads "the decided carrier should be the carrier of the
order's next outbound scan". The deviation rate is the share of checked orders
where it was not (the WMS shipped from another node, the carrier was changed by
hand...), which says a rule is being worked around.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.policy.jdm import tables
from orderloom.policy.log import PolicyState

DECIDED = "policy.decided"


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(pct / 100 * len(ordered)))]


def health(
    log: Iterable[StoredEvent], streams: Callable[[str], list[StoredEvent]], state: PolicyState
) -> dict[str, Any]:
    """Per version: invocations, latency, rule hits and rules never hit, execution checks and deviations."""
    decided: dict[int, list[StoredEvent]] = {}
    for e in log:
        if e.type == DECIDED and e.data.get("policy") == state.name:
            decided.setdefault(int(e.data["version"]), []).append(e)
    versions = []
    for number, version in sorted(state.versions.items()):
        events = decided.get(number, [])
        hits = Counter(r for e in events for r in e.data.get("rules", []))
        every_rule = [f"{t.node_id}/{rule.get('_id')}" for t in tables(version.document) for rule in t.rules]
        latencies = [float(e.data["eval_us"]) for e in events if "eval_us" in e.data]
        checks = (version.document.get("orderloom") or {}).get("execution") or []
        checked, deviated = _executions(events, streams, checks)
        versions.append(
            {
                "version": number,
                "invocations": len(events),
                "eval_us_p50": _percentile(latencies, 50),
                "eval_us_p99": _percentile(latencies, 99),
                "rule_hits": dict(hits),
                "rules_never_hit": [r for r in every_rule if hits[r] == 0] if events else every_rule,
                "execution_checked": checked,
                "execution_deviated": deviated,
                "deviation_rate": deviated / checked if checked else None,
            }
        )
    return {"policy": state.name, "stable": state.stable, "versions": versions}


def _executions(
    events: list[StoredEvent], streams: Callable[[str], list[StoredEvent]], checks: list[dict[str, Any]]
) -> tuple[int, int]:
    checked = deviated = 0
    for decision in events:
        later = [e for e in streams(decision.oid) if e.time >= decision.time and e.position > decision.position]
        for check in checks:
            done = next(
                (e for e in sorted(later, key=lambda e: (e.time, e.position)) if e.type == check["event"]), None
            )
            if done is None:
                continue  # not executed yet: neither kept nor broken
            checked += 1
            if done.data.get(check["field"]) != decision.data["result"].get(check["output"]):
                deviated += 1
    return checked, deviated
