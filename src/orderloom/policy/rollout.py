"""Gray release: sticky percentage buckets that only ever move units toward the candidate."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from orderloom.core.errors import Problem, ValidationFailed

BUCKETS = 10_000


def bucket(unit_id: str, seed: str) -> int:
    """The unit's fixed bucket in 0..9999 for this rollout's seed."""
    digest = hashlib.sha256(f"{seed}\x1f{unit_id}".encode()).digest()
    # 64 bits modulo 10,000: the bias is below one part in 10^15.
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class Rollout:
    """Send `percent`% of units to the candidate version, the rest to the stable one."""

    policy: str
    stable: int
    candidate: int
    percent: float
    seed: str
    # Only units whose decision input matches every listed field take part, e.g.
    # {"channel": ["douyin"], "customer.tier": ["gold", "platinum"]}; the rest get stable.
    segment: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise ValidationFailed(
                [Problem("percent", "range", f"percent must be between 0 and 100, not {self.percent}")]
            )
        if not self.seed:
            raise ValidationFailed([Problem("seed", "required", "a rollout needs a seed so buckets stay fixed")])

    @property
    def threshold(self) -> int:
        """Buckets below this go to the candidate."""
        return round(self.percent * BUCKETS / 100)

    def choose(self, unit_id: str, attributes: Mapping[str, Any] | None = None) -> int:
        """The version this unit gets; the same unit always lands in the same arm."""
        if self.segment and not self.in_segment(attributes or {}):
            return self.stable
        # A fixed range [0, threshold) means raising the percent only adds buckets to the candidate.
        return self.candidate if bucket(unit_id, self.seed) < self.threshold else self.stable

    def in_segment(self, attributes: Mapping[str, Any]) -> bool:
        """Whether a decision input falls inside the rollout's segment (dotted field paths)."""
        for path, allowed in self.segment:
            value: Any = attributes
            for part in path.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            if value not in allowed:
                return False
        return True

    def with_percent(self, percent: float) -> Rollout:
        """The same rollout (same seed, so same buckets) at a new percentage."""
        return replace(self, percent=percent)
