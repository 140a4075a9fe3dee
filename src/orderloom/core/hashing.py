"""The per-order hash chain.

hash = SHA-256(prevhash | oid | seq | canonical body). The body is what the
store keeps (personal data already encrypted), so destroying a customer's
key never breaks a chain.
"""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64


def link_hash(prevhash: str, oid: str, seq: int, body: bytes) -> str:
    """The hash of one link of an order's chain."""
    # One buffer, one call: this runs once per appended event.
    return hashlib.sha256(f"{prevhash}|{oid}|{seq}|".encode() + body).hexdigest()
