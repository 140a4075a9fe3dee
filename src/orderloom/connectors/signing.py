"""HMAC signatures on webhooks, both ways: `sha256=<hex HMAC of timestamp + "." + body>`.

The timestamp is inside the signed text, so an old message cannot be given
a fresh timestamp; the nonce makes each message usable once (see inbound).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime

from orderloom.core.errors import Unauthorized

SIGNATURE = "X-Orderloom-Signature"
TIMESTAMP = "X-Orderloom-Timestamp"
NONCE = "X-Orderloom-Nonce"
WINDOW_S = 300
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (Unix seconds as text)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: bytes, body: bytes, *, now: datetime, nonce: str) -> dict[str, str]:
    """The three headers a signed message carries."""
    timestamp = str(int(now.timestamp()))
    return {SIGNATURE: signature(secret, timestamp, body), TIMESTAMP: timestamp, NONCE: nonce}


def check(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: datetime) -> tuple[int, str]:
    """(timestamp, nonce) of a correctly signed, fresh message; Unauthorized saying what is wrong otherwise."""
    sent = _header(headers, SIGNATURE)
    timestamp = _header(headers, TIMESTAMP)
    nonce = _header(headers, NONCE)
    if not timestamp.isdigit():
        raise Unauthorized(f"{TIMESTAMP} must be the Unix time in seconds when the message was signed")
    moment = int(timestamp)
    skew = moment - now.timestamp()
    if abs(skew) > WINDOW_S:
        when = "old" if skew < 0 else "far in the future"
        raise Unauthorized(
            f"{TIMESTAMP} is {abs(skew):.0f} s {when}; messages are accepted for {WINDOW_S // 60} minutes "
            "either side of the server's clock (check the sender's clock, then sign and send again)"
        )
    if not NONCE_PATTERN.match(nonce):
        raise Unauthorized(f"{NONCE} must be 8-64 letters, digits or . _ : - and new for every message")
    expected = signature(secret, timestamp, body)
    # compare_digest: the time taken must not tell an attacker how many leading characters were right.
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Unauthorized(
            f"{SIGNATURE} does not match: sign the exact body bytes as sha256=HMAC(secret, timestamp + '.' + body)"
        )
    return moment, nonce


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.lower())
    if not value:
        raise Unauthorized(f"the {name} header is missing; every message must be signed")
    return value.strip()
