"""Gray release: sticky percentage buckets that only ever move units toward the candidate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

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

    def choose(self, unit_id: str) -> int:
        """The version this unit gets; the same unit always lands in the same arm."""
        # A fixed range [0, threshold) means raising the percent only adds buckets to the candidate.
        return self.candidate if bucket(unit_id, self.seed) < self.threshold else self.stable

    def with_percent(self, percent: float) -> Rollout:
        """The same rollout (same seed, so same buckets) at a new percentage."""
        return replace(self, percent=percent)
