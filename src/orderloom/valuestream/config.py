"""The value-stream settings, read once from the environment into typed values (tests pass them in).

- ORDERLOOM_CONTRACTS: extra contract files or folders (ODCS YAML), separated like PATH
- ORDERLOOM_QUERY_SOURCES: the YAML file listing external query sources (see `sources.py`)
- ORDERLOOM_QUERY_MAX_ROWS (default 10000), ORDERLOOM_QUERY_MAX_SECONDS (default 10),
  ORDERLOOM_QUERY_MEMORY (DuckDB memory limit per role database, default 1GB)
- ORDERLOOM_DETECTORS_EVERY_S: seconds between the detector schedule's ticks (default 900; see `schedule.py`)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from orderloom.core.errors import ConfigError

_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


@dataclass(frozen=True)
class ValueStreamConfig:
    """Where the user's contracts and query sources are, and the query limits."""

    contract_paths: tuple[str, ...] = field(default_factory=tuple)
    sources_path: str = ""
    max_rows: int = 10_000
    max_seconds: float = 10.0
    memory_limit: str = "1GB"
    threads: int = 2
    detectors_every_s: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ValueStreamConfig:
        """Read the ORDERLOOM_CONTRACTS and ORDERLOOM_QUERY_* variables."""
        e = os.environ if env is None else env
        memory = e.get("ORDERLOOM_QUERY_MEMORY") or cls.memory_limit
        if not _MEMORY.match(memory):
            raise ConfigError(f"ORDERLOOM_QUERY_MEMORY must be a size like 512MB or 2GB, got {memory!r}")
        return cls(
            contract_paths=tuple(p for p in (e.get("ORDERLOOM_CONTRACTS") or "").split(os.pathsep) if p),
            sources_path=e.get("ORDERLOOM_QUERY_SOURCES") or "",
            max_rows=int(_number(e, "ORDERLOOM_QUERY_MAX_ROWS", cls.max_rows, 1, 1_000_000)),
            max_seconds=_number(e, "ORDERLOOM_QUERY_MAX_SECONDS", cls.max_seconds, 0.1, 3600),
            memory_limit=memory,
            detectors_every_s=_number(e, "ORDERLOOM_DETECTORS_EVERY_S", cls.detectors_every_s, 1, 86_400),
        )
