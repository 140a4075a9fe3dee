"""Identifiers: time-ordered ULIDs for events and orders.

Time ordering matters: ids inserted into a B-tree index land at its right edge,
which keeps appends cheap and keeps ids sortable by creation time.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
OID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{2,63}$")


def ulid(now_ms: int | None = None) -> str:
    """A 26-character ULID: 48-bit millisecond time + 80 random bits."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_oid() -> str:
    """A new globally unique order id."""
    return "OL" + ulid()


def new_event_id() -> str:
    """A new globally unique event id."""
    return ulid()


def is_valid_oid(value: str) -> bool:
    """Whether a string can be used as an order id (letters, digits, . _ : -)."""
    return bool(OID_PATTERN.match(value))
