"""Personal data sealed with a per-customer key (crypto-shredding).

AES-SIV is deterministic: the same value under the same key seals to the same
text, so re-sending an event stays a harmless duplicate instead of looking like
new content. Destroying the key makes every sealed field unreadable at once,
while the hash chain (computed over the sealed text) still verifies.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from copy import deepcopy
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

PREFIX = "enc:v1:"
ERASED = "[erased]"


def _walk(data: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str] | None:
    parts = dotted.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get(parts[-1]), str):
        return node, parts[-1]
    return None


def _copy_paths(data: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of `data` sharing everything except the dicts along `paths` (much cheaper than deepcopy)."""
    out = dict(data)
    for path in paths:
        node = out
        for part in path.split(".")[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node[part] = child = dict(child)
            node = child
    return out


def seal(data: dict[str, Any], paths: Iterable[str], key: bytes, customer: str) -> dict[str, Any]:
    """A copy of `data` with each personal field encrypted."""
    paths = list(paths)
    if not paths:
        return data
    out = _copy_paths(data, paths)
    aead = AESSIV(key)
    for path in paths:
        spot = _walk(out, path)
        if spot is None or spot[0][spot[1]].startswith(PREFIX):
            continue
        node, leaf = spot
        token = aead.encrypt(node[leaf].encode(), [customer.encode(), path.encode()])
        node[leaf] = PREFIX + base64.urlsafe_b64encode(token).decode()
    return out


def unseal(data: dict[str, Any], paths: Iterable[str], key: bytes | None, customer: str) -> dict[str, Any]:
    """A copy of `data` with personal fields readable again, or `[erased]` once the key is gone."""
    paths = list(paths)
    if not paths:
        return data
    out = deepcopy(data)
    aead = AESSIV(key) if key else None
    for path in paths:
        spot = _walk(out, path)
        if spot is None or not spot[0][spot[1]].startswith(PREFIX):
            continue
        node, leaf = spot
        if aead is None:
            node[leaf] = ERASED
            continue
        try:
            raw = base64.urlsafe_b64decode(node[leaf][len(PREFIX) :])
            node[leaf] = aead.decrypt(raw, [customer.encode(), path.encode()]).decode()
        except (InvalidTag, ValueError):
            node[leaf] = ERASED
    return out
