"""Orderloom's own options carried in a connection URL (`?schema=`, `?stream=`).

Drivers reject parameters they do not know, so these are taken out before the
URL reaches psycopg or nats-py.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def take_options(url: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The URL without the named query parameters, and their values."""
    if "?" not in url:
        return url, {}
    parts = urlsplit(url)
    kept, taken = [], {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in names:
            taken[key] = value
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), taken
