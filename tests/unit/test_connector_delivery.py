"""Outbound delivery rules: what is retried, how long to wait, and the delivery state folded from the log."""

from __future__ import annotations

import random
from typing import Any

import pytest

from orderloom.connectors import outcomes
from orderloom.connectors.delivery import DEAD, OK, RETRY, Backoff, judge
from orderloom.connectors.subscriptions import Subscriptions
from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import ConfigError, ValidationFailed
from tests.unit._support import rig


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, OK), (204, OK), (500, RETRY), (503, RETRY), (400, DEAD), (404, DEAD), (410, DEAD), (301, DEAD)],
)
def test_only_server_errors_are_retried_and_client_errors_go_straight_to_dead_letters(
    status: int, verdict: str
) -> None:
    assert judge(status, "body").verdict == verdict


def test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens_it() -> None:
    b = Backoff(base_s=1, cap_s=10, jitter=0.5)
    rng = random.Random(7)
    for attempt, full in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        wait = b.delay(attempt, rng)
        assert full * 0.5 <= wait <= full
    assert Backoff(base_s=1, jitter=0).delay(3) == 4


def test_backoff_settings_are_read_strictly_and_named_when_wrong() -> None:
    b = Backoff.from_env({"ORDERLOOM_WEBHOOK_BASE_S": "0.5", "ORDERLOOM_WEBHOOK_ATTEMPTS": "3"})
    assert (b.base_s, b.max_attempts, b.timeout_s) == (0.5, 3, 10.0)
    with pytest.raises(ConfigError) as caught:
        Backoff.from_env({"ORDERLOOM_WEBHOOK_TIMEOUT_S": "soon"})
    assert "ORDERLOOM_WEBHOOK_TIMEOUT_S" in str(caught.value)


def _e(seq: int, etype: str, **data: Any) -> StoredEvent:
    at = f"2026-05-01T00:00:0{seq}.000000Z"
    return StoredEvent(
        id=f"x{seq}",
        type=etype,
        source="t",
        oid="sys.webhook.W",
        time=at,
        data=data,
        actor=None,
        deviceid=None,
        proof={},
        schemaver=1,
        seq=seq,
        position=seq,
        prevhash="",
        hash="",
        recorded=at,
    )


def test_the_delivery_state_tracks_dead_letters_until_a_replay_delivers_them() -> None:
    base = {"subscription": "W", "oid": "OL-1", "attempt": 1}
    log = [
        _e(1, outcomes.DEAD, event_id="e1", position=10, status=400, error="no", **base),
        _e(2, outcomes.DEAD, event_id="e2", position=11, status=None, error="down", **base),
        _e(3, outcomes.REPLAY, subscription="W", event_ids=["e1", "e9"]),
    ]
    s = outcomes.fold(outcomes.empty(), log)
    assert sorted(s["dead"]) == ["e1", "e2"] and s["replay"] == ["e1"] and s["seq"] == 3
    s = outcomes.fold(s, [_e(4, outcomes.DELIVERED, event_id="e1", position=10, status=200, **base)])
    assert sorted(s["dead"]) == ["e2"] and s["replay"] == [] and s["delivered"] == 1


def test_a_subscription_is_audited_and_its_secret_is_sealed_and_destroyed_on_delete() -> None:
    r = rig()
    subs = Subscriptions(r.intake)
    sub, secret = subs.create("https://erp.example.com/hook", ["delivery.*"], "cs", actor="key:K1", note="erp")
    assert secret.startswith("whsec_") and subs.secret(sub.id) == secret.encode()
    stored = r.store.read_stream("sys.webhooks")[0]
    assert stored.type == "webhook.subscribed" and secret not in str(stored.data)
    assert sub.wants("delivery.delivered") and not sub.wants("order.placed")
    subs.pause(sub.id, actor="key:K1")
    assert subs.get(sub.id).state == "paused"
    with pytest.raises(ValidationFailed):
        subs.pause(sub.id, actor="key:K1")
    subs.delete(sub.id, actor="key:K1", reason="gone")
    assert subs.get(sub.id).state == "deleted"
    assert [e.type for e in r.store.read_stream("sys.webhooks")] == [
        "webhook.subscribed",
        "webhook.paused",
        "webhook.unsubscribed",
    ]
    with pytest.raises(Exception, match="no usable secret"):
        subs.secret(sub.id)


def test_a_subscription_request_with_mistakes_names_each_field() -> None:
    subs = Subscriptions(rig().intake)
    with pytest.raises(ValidationFailed) as caught:
        subs.create("ftp://x", ["delivery.*", "parcel.teleported"], "boss", actor="k", secret="short")
    fields = {p.field for p in caught.value.problems}
    assert fields == {"url", "types[1]", "role", "secret"}
