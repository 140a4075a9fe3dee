"""API keys, kept as events in a system stream so every issue and revocation is audited.

Only a key's SHA-256 digest is stored. Keys are 256-bit random tokens, so a
fast hash is enough: there is nothing to brute-force, unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, Unauthorized, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.status.intake import Intake

STREAM = "sys.apikeys"
REFRESH_S = 2.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    """Who a key belongs to: a role, and for consumers their customer id."""

    key_id: str
    role: str
    customer: str | None


def digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """Issues, revokes and checks API keys; other processes see changes within seconds."""

    def __init__(self, intake: Intake) -> None:
        self._intake = intake
        self._lock = threading.Lock()
        self._by_digest: dict[str, ApiKey] = {}
        self._revoked: set[str] = set()
        self._seq = 0
        self._loaded_at = 0.0

    def create(
        self, role: str, customer: str | None = None, note: str = "", actor: str = "admin"
    ) -> tuple[str, ApiKey]:
        """Issue a key and return its only readable copy."""
        if role not in self._intake.dictionary.roles:
            raise ValidationFailed(
                [Problem("role", "enum", f"role must be one of: {', '.join(self._intake.dictionary.roles)}")]
            )
        if role == "consumer" and not customer:
            raise ValidationFailed([Problem("customer", "required", "a consumer key needs the customer id it reads")])
        key = "olk_" + secrets.token_urlsafe(32)
        key_id = "K" + ulid()[-10:]
        data = {"key_id": key_id, "digest": digest(key), "role": role, "customer": customer, "note": note[:200]}
        self._write("apikey.created", data, actor)
        return key, ApiKey(key_id, role, customer)

    def revoke(self, key_id: str, reason: str = "", actor: str = "admin") -> None:
        """Stop a key from working anywhere."""
        self._write("apikey.revoked", {"key_id": key_id, "reason": reason[:200]}, actor)

    def authenticate(self, key: str) -> ApiKey:
        """The key's owner, or Unauthorized."""
        d = digest(key)
        found = self._lookup(d)
        if found is None and time.monotonic() - self._loaded_at > 0.05:
            self._refresh()
            found = self._lookup(d)
        elif time.monotonic() - self._loaded_at > REFRESH_S:
            self._refresh()  # pick up revocations made by other processes
            found = self._lookup(d)
        if found is None:
            raise Unauthorized("this API key is not valid (unknown or revoked)")
        return found

    def _lookup(self, d: str) -> ApiKey | None:
        with self._lock:
            k = self._by_digest.get(d)
            return None if k is None or k.key_id in self._revoked else k

    def _write(self, etype: str, data: Mapping[str, object], actor: str) -> None:
        raw = {
            "id": f"{etype}-{ulid()}",
            "type": etype,
            "source": "orderloom/keys",
            "oid": STREAM,
            "time": format_time(self._intake.clock.now()),
            "actor": actor,
            "data": data,
        }
        result = self._intake.record([raw], allow_internal=True)[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
        self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            for e in self._intake.store.read_stream(STREAM, after_seq=self._seq):
                if e.type == "apikey.created":
                    self._by_digest[e.data["digest"]] = ApiKey(e.data["key_id"], e.data["role"], e.data.get("customer"))
                elif e.type == "apikey.revoked":
                    self._revoked.add(e.data["key_id"])
                self._seq = e.seq
            self._loaded_at = time.monotonic()
