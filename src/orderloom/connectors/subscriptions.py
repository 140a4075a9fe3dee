"""Outbound webhook subscriptions, kept as events in `sys.webhooks` so every change is audited.

A subscription's signing secret has to be readable to sign deliveries, so it
cannot be hashed like an API key. It is sealed instead, with a data key of
its own in the store's key table (the same AES-SIV sealing as personal
data): the log never holds it in clear, and deleting the subscription
destroys the key, which makes the sealed secret unreadable for good.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.core.pii import seal, unseal
from orderloom.status.intake import Intake

STREAM = "sys.webhooks"
SYSTEM_PREFIX = "sys."
_SECRET = ["secret"]


def delivery_stream(subscription: str) -> str:
    """The system stream holding one subscription's delivery log."""
    return f"sys.webhook.{subscription}"


def key_name(subscription: str) -> str:
    """The name of the data key sealing a subscription's secret."""
    return f"webhook:{subscription}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """Where to send which events, as which role sees them."""

    id: str
    url: str
    types: tuple[str, ...]
    role: str
    note: str
    state: str  # active | paused | deleted
    created_at: str
    created_by: str | None
    position: int  # the log position it was created at: it delivers what is recorded after it

    def wants(self, event_type: str) -> bool:
        """Whether an event type matches one of the patterns (`*`, `delivery.*` or an exact type)."""
        return any(_matches(p, event_type) for p in self.types)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "types": list(self.types),
            "role": self.role,
            "note": self.note,
            "state": self.state,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def _matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


class Subscriptions:
    """Creates, changes and lists subscriptions; reads them back from the log."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._lock = threading.Lock()
        self._seq = 0
        self._subs: dict[str, Subscription] = {}

    def create(
        self,
        url: Any,
        types: Any,
        role: Any,
        *,
        actor: str,
        secret: Any = None,
        note: Any = "",
    ) -> tuple[Subscription, str]:
        """Record a new subscription; return it and its secret (the only time the secret is shown)."""
        problems = self._check(url, types, role, secret, note)
        if problems:
            raise ValidationFailed(problems)
        sid = "WH" + ulid()
        plain = secret or "whsec_" + secrets.token_urlsafe(32)
        key = self.intake.store.customer_keys([key_name(sid)], create=True)[key_name(sid)]
        sealed = seal({"secret": plain}, _SECRET, key, key_name(sid))["secret"]
        data = {"subscription": sid, "url": url, "types": list(types), "role": role, "secret": sealed, "note": note}
        self._write("webhook.subscribed", sid, data, actor)
        return self.get(sid), str(plain)

    def pause(self, sid: str, *, actor: str, reason: str = "") -> Subscription:
        """Stop delivering (what is recorded meanwhile is delivered on resume)."""
        return self._change("webhook.paused", sid, actor, reason, expect=("active",))

    def resume(self, sid: str, *, actor: str, reason: str = "") -> Subscription:
        """Deliver again, from where it stopped."""
        return self._change("webhook.resumed", sid, actor, reason, expect=("paused",))

    def delete(self, sid: str, *, actor: str, reason: str = "") -> Subscription:
        """Stop for good and destroy the secret's key."""
        sub = self._change("webhook.unsubscribed", sid, actor, reason, expect=("active", "paused"))
        self.intake.store.forget_customer(key_name(sid))
        return sub

    def all(self) -> list[Subscription]:
        """Every subscription ever created, deleted ones included, oldest first."""
        self.refresh()
        with self._lock:
            return sorted(self._subs.values(), key=lambda s: s.position)

    def get(self, sid: str) -> Subscription:
        """One subscription, or NotFound."""
        self.refresh()
        with self._lock:
            sub = self._subs.get(sid)
        if sub is None:
            raise NotFound(f"no webhook subscription {sid}")
        return sub

    def secret(self, sid: str) -> bytes:
        """The subscription's signing secret, unsealed."""
        for e in self.intake.store.read_stream(STREAM):
            if e.type == "webhook.subscribed" and e.data["subscription"] == sid:
                key = self.intake.store.customer_keys([key_name(sid)], create=False).get(key_name(sid))
                plain = unseal({"secret": e.data["secret"]}, _SECRET, key, key_name(sid))["secret"]
                if key is None or not isinstance(plain, str) or plain.startswith("enc:") or plain == "[erased]":
                    raise NotFound(f"webhook subscription {sid} has no usable secret (it was deleted)")
                return plain.encode()
        raise NotFound(f"no webhook subscription {sid}")

    def refresh(self) -> None:
        """Fold what is new in the subscriptions stream."""
        with self._lock:
            for e in self.intake.store.read_stream(STREAM, after_seq=self._seq):
                self._apply(e)
                self._seq = e.seq

    def _apply(self, e: StoredEvent) -> None:
        sid = e.data.get("subscription")
        if not isinstance(sid, str):
            return
        if e.type == "webhook.subscribed":
            self._subs[sid] = Subscription(
                sid,
                e.data["url"],
                tuple(e.data["types"]),
                e.data["role"],
                e.data.get("note", ""),
                "active",
                e.time,
                e.actor,
                e.position,
            )
            return
        old = self._subs.get(sid)
        state = {"webhook.paused": "paused", "webhook.resumed": "active", "webhook.unsubscribed": "deleted"}
        if old is not None and e.type in state:
            self._subs[sid] = Subscription(
                old.id,
                old.url,
                old.types,
                old.role,
                old.note,
                state[e.type],
                old.created_at,
                old.created_by,
                old.position,
            )

    def _change(self, etype: str, sid: str, actor: str, reason: str, *, expect: tuple[str, ...]) -> Subscription:
        sub = self.get(sid)
        if sub.state not in expect:
            raise ValidationFailed(
                [
                    Problem(
                        "subscription",
                        "state",
                        f"subscription {sid} is {sub.state}; this needs it {' or '.join(expect)}",
                    )
                ]
            )
        self._write(etype, sid, {"subscription": sid, "reason": reason[:200]}, actor)
        return self.get(sid)

    def _write(self, etype: str, sid: str, data: dict[str, Any], actor: str) -> None:
        raw = {
            "id": f"{etype}-{sid}-{ulid()}",
            "type": etype,
            "source": "orderloom/webhooks",
            "oid": STREAM,
            "time": format_time(self.intake.clock.now()),
            "actor": actor,
            "data": data,
        }
        result = self.intake.record([raw], allow_internal=True)[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)

    def _check(self, url: Any, types: Any, role: Any, secret: Any, note: Any) -> list[Problem]:
        problems = []
        if not isinstance(url, str) or not url:
            problems.append(Problem("url", "required", "url is required: where should deliveries be sent?"))
        else:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
                problems.append(Problem("url", "format", f"url {url[:100]!r} must be an http:// or https:// address"))
        if not isinstance(types, list) or not types or len(types) > 100:
            problems.append(
                Problem("types", "required", 'types must list 1-100 event types or patterns, e.g. ["delivery.*"]')
            )
        else:
            known = self.intake.dictionary.types
            for i, t in enumerate(types):
                if not isinstance(t, str) or not any(_matches(t, k) for k in known):
                    problems.append(Problem(f"types[{i}]", "unknown", f"{t!r} matches no event type of the dictionary"))
        roles = self.intake.dictionary.roles
        if role not in roles:
            problems.append(Problem("role", "enum", f"role must be one of {', '.join(roles)}: whose view to deliver"))
        if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 200):
            problems.append(Problem("secret", "format", "secret must be 16-200 characters (or leave it out)"))
        if not isinstance(note, str) or len(note) > 200:
            problems.append(Problem("note", "format", "note must be text of at most 200 characters"))
        return problems
