"""Settings are read once from the environment into typed values.

Tests build `Settings(...)` directly instead of patching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from orderloom.core.errors import ConfigError


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = env.get(name) or default
    scheme = value.split(":", 1)[0]
    if scheme not in schemes:
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)}; got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every setting Orderloom reads, with its default."""

    db_url: str = "sqlite:///./orderloom.db"
    bus_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = 8000
    dictionary_paths: tuple[str, ...] = field(default_factory=tuple)
    max_batch: int = 1000
    max_body_bytes: int = 8 * 1024 * 1024
    network_path: str = ""  # the fulfilment network YAML; empty: the shipped China network
    rate_per_key: float = 1000.0  # requests per second per API key and worker; 0: no limit
    rate_burst: int = 2000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from environment variables (ORDERLOOM_*)."""
        e = os.environ if env is None else env
        paths = tuple(p for p in (e.get("ORDERLOOM_DICTIONARY") or "").split(os.pathsep) if p)
        return cls(
            db_url=_url(e, "ORDERLOOM_DB_URL", cls.db_url, ("sqlite", "postgresql", "postgres", "memory")),
            bus_url=_url(e, "ORDERLOOM_BUS_URL", cls.bus_url, ("memory", "nats", "kafka")),
            host=e.get("ORDERLOOM_HOST") or cls.host,
            port=_int(e, "ORDERLOOM_PORT", cls.port, 1, 65535),
            dictionary_paths=paths,
            max_batch=_int(e, "ORDERLOOM_MAX_BATCH", cls.max_batch, 1, 100_000),
            max_body_bytes=_int(e, "ORDERLOOM_MAX_BODY_BYTES", cls.max_body_bytes, 1024, 1 << 30),
            network_path=e.get("ORDERLOOM_NETWORK") or "",
            rate_per_key=float(_int(e, "ORDERLOOM_RATE_PER_KEY", int(cls.rate_per_key), 0, 1_000_000)),
            rate_burst=_int(e, "ORDERLOOM_RATE_BURST", cls.rate_burst, 1, 1_000_000),
        )


__all__ = ["Settings", "_bool"]
