"""Orderloom's own options carried in a connection URL (`?schema=`, `?stream=`).

Drivers reject parameters they do not know, so these are taken out before the
URL reaches psycopg or nats-py.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from orderloom.core.errors import ConfigError


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


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL (ConfigError when missing)."""
    path = url.removeprefix("sqlite:").removeprefix("//")
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigError("ORDERLOOM_DB_URL sqlite:/// needs a file path, e.g. sqlite:///./orderloom.db")
    return path
