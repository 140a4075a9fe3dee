"""A subscription's delivery state, folded from its delivery log (`sys.webhook.<id>`).

Pure functions of (state, event): the dispatcher keeps the state up to date
as it records outcomes, and the API folds the same log to answer "which
deliveries are dead-lettered?" in any process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orderloom.core.envelope import StoredEvent

DELIVERED = "webhook.delivered"
FAILED = "webhook.attempt_failed"
DEAD = "webhook.dead_lettered"
REPLAY = "webhook.replay_requested"
OUTCOMES = (DELIVERED, FAILED, DEAD)

State = dict[str, Any]


def empty() -> State:
    """No deliveries yet: `dead` by event id, `replay` = dead letters waiting to be sent again."""
    return {"seq": 0, "dead": {}, "replay": [], "delivered": 0, "dead_lettered": 0, "failed_attempts": 0}


def fold(state: State, events: Iterable[StoredEvent]) -> State:
    """The state after the delivery-log events (in seq order)."""
    dead: dict[str, Any] = dict(state["dead"])
    replay: list[str] = list(state["replay"])
    out = dict(state)
    for e in events:
        d = e.data
        if e.type == DELIVERED:
            out["delivered"] += 1
            dead.pop(d["event_id"], None)
            if d["event_id"] in replay:
                replay.remove(d["event_id"])
        elif e.type == DEAD:
            out["dead_lettered"] += 1
            dead[d["event_id"]] = {
                "event_id": d["event_id"],
                "oid": d["oid"],
                "position": d["position"],
                "attempt": d["attempt"],
                "status": d.get("status"),
                "error": d["error"],
                "at": e.time,
            }
            if d["event_id"] in replay:
                replay.remove(d["event_id"])
        elif e.type == FAILED:
            out["failed_attempts"] += 1
        elif e.type == REPLAY:
            replay.extend(i for i in d["event_ids"] if i in dead and i not in replay)
        out["seq"] = e.seq
    out["dead"], out["replay"] = dead, replay
    return out


def entry(e: StoredEvent) -> dict[str, Any]:
    """One delivery-log line for the API and the CLI."""
    d = e.data
    outcome = {DELIVERED: "delivered", FAILED: "retrying", DEAD: "dead_lettered", REPLAY: "replay_requested"}
    return {
        "at": e.time,
        "outcome": outcome.get(e.type, e.type),
        "event_id": d.get("event_id"),
        "event_ids": d.get("event_ids"),
        "oid": d.get("oid"),
        "attempt": d.get("attempt"),
        "status": d.get("status"),
        "error": d.get("error"),
        "retry_in_s": d.get("retry_in_s"),
        "ms": d.get("ms"),
        "actor": e.actor,
    }
