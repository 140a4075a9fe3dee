"""Reading a subscription's delivery log and dead letters, and asking for a replay (from any process)."""

from __future__ import annotations

from typing import Any

from orderloom.connectors import outcomes
from orderloom.connectors.dispatcher import STATE_VIEW
from orderloom.connectors.subscriptions import Subscriptions, delivery_stream
from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.store.port import EventStore
from orderloom.views.port import ViewStore

MAX_REPLAY = 10_000


def state(store: EventStore, views: ViewStore, sid: str) -> outcomes.State:
    """The subscription's delivery state: the dispatcher's last save plus what was logged since."""
    doc = views.read(STATE_VIEW, sid)
    base = doc["outcomes"] if doc is not None else outcomes.empty()
    return outcomes.fold(base, store.read_stream(delivery_stream(sid), after_seq=base["seq"]))


def deliveries(store: EventStore, views: ViewStore, sid: str, limit: int = 100) -> list[dict[str, Any]]:
    """The newest `limit` lines of the delivery log, newest first."""
    doc = views.read(STATE_VIEW, sid)
    seq = doc["outcomes"]["seq"] if doc is not None else 0
    # Reading from a little before the last save keeps this a short, indexed read on a long log.
    events = store.read_stream(delivery_stream(sid), after_seq=max(0, seq - limit))
    return [outcomes.entry(e) for e in reversed(events[-limit:])]


def dead_letters(store: EventStore, views: ViewStore, sid: str) -> list[dict[str, Any]]:
    """Dead-lettered deliveries not yet delivered by a replay, oldest first."""
    s = state(store, views, sid)
    pending = set(s["replay"])
    return [
        {**d, "replay_requested": d["event_id"] in pending}
        for d in sorted(s["dead"].values(), key=lambda d: d["position"])
    ]


def request_replay(
    subs: Subscriptions, views: ViewStore, sid: str, event_ids: Any, *, actor: str, reason: str = ""
) -> list[str]:
    """Record a replay request for the given dead letters (all when None); the dispatcher sends them again."""
    subs.get(sid)
    store = subs.intake.store
    dead = {d["event_id"] for d in dead_letters(store, views, sid)}
    if event_ids is None:
        chosen = sorted(dead)
    elif not isinstance(event_ids, list) or not all(isinstance(i, str) for i in event_ids):
        raise ValidationFailed([Problem("event_ids", "type", "event_ids must be a list of event ids")])
    else:
        problems = [
            Problem(f"event_ids[{n}]", "dead_letter", f"event {i} is not a dead letter of subscription {sid}")
            for n, i in enumerate(event_ids)
            if i not in dead
        ]
        if problems:
            raise ValidationFailed(problems)
        chosen = list(dict.fromkeys(event_ids))
    if not chosen:
        return []
    intake = subs.intake
    for start in range(0, len(chosen), MAX_REPLAY):
        raw = {
            "id": f"replay-{sid}-{ulid()}",
            "type": outcomes.REPLAY,
            "source": "orderloom/webhooks",
            "oid": delivery_stream(sid),
            "time": format_time(intake.clock.now()),
            "actor": actor,
            "data": {"subscription": sid, "event_ids": chosen[start : start + MAX_REPLAY], "reason": reason[:200]},
        }
        result = intake.record([raw], allow_internal=True)[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
    return chosen
