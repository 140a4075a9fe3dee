"""How long orders still took to be delivered from each step: learned online from delivered orders.

Per event type, a histogram of "time from this event to delivery" over every
order already delivered, on log-spaced bins (1 minute to about 180 days, ~7%
wide), so it is small, exact to merge and the same however often it is saved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_FIRST_S = 60.0
_RATIO = 1.07
_BINS = 200  # the last bin ends near 60 s * 1.07**199 ≈ 254 days


def _bin(seconds: float) -> int:
    if seconds < _FIRST_S:
        return 0
    return min(_BINS - 1, 1 + int(math.log(seconds / _FIRST_S) / math.log(_RATIO)))


def _edges(i: int) -> tuple[float, float]:
    if i == 0:
        return 0.0, _FIRST_S
    return _FIRST_S * _RATIO ** (i - 1), _FIRST_S * _RATIO**i


class RemainingTimes:
    """Histograms of remaining time to delivery, per event type; a JSON document in the view store."""

    def __init__(self, doc: Mapping[str, Any] | None = None) -> None:
        self.counts: dict[str, dict[int, int]] = {}
        self.total: dict[str, int] = {}
        self._cache: dict[str, list[int]] = {}
        for t, bins in (doc or {}).get("types", {}).items():
            self.counts[t] = {int(k): int(v) for k, v in bins.items()}
            self.total[t] = sum(self.counts[t].values())

    def document(self) -> dict[str, Any]:
        """The histograms as JSON."""
        return {"types": {t: {str(k): v for k, v in sorted(b.items())} for t, b in sorted(self.counts.items())}}

    def add(self, event_type: str, seconds: float) -> None:
        """One delivered order's remaining time from an event of this type."""
        b = self.counts.setdefault(event_type, {})
        i = _bin(max(0.0, seconds))
        b[i] = b.get(i, 0) + 1
        self.total[event_type] = self.total.get(event_type, 0) + 1
        self._cache.pop(event_type, None)

    def samples(self, event_type: str) -> int:
        """How many delivered orders taught us about this step."""
        return self.total.get(event_type, 0)

    def _above(self, event_type: str) -> list[int]:
        """above[i]: how many samples lie in bins after i (cached: a scan asks once per open order)."""
        cached = self._cache.get(event_type)
        if cached is None:
            bins = self.counts.get(event_type, {})
            cached = [0] * _BINS
            running = 0
            for i in range(_BINS - 1, -1, -1):
                cached[i] = running
                running += bins.get(i, 0)
            self._cache[event_type] = cached
        return cached

    def survival(self, event_type: str, seconds: float) -> float:
        """P(remaining > seconds) for orders at this step (linear within a bin)."""
        n = self.total.get(event_type, 0)
        if n == 0:
            return 0.0
        if seconds <= 0:
            return 1.0
        k = _bin(seconds)
        lo, hi = _edges(k)
        inside = self.counts[event_type].get(k, 0) * max(0.0, min(1.0, (hi - seconds) / (hi - lo)))
        return (self._above(event_type)[k] + inside) / n

    def quantile(self, event_type: str, q: float) -> float | None:
        """The remaining time (seconds) that a share q of orders at this step stayed within."""
        n = self.total.get(event_type, 0)
        if n == 0:
            return None
        target = q * n
        seen = 0.0
        for i in sorted(self.counts[event_type]):
            c = self.counts[event_type][i]
            if seen + c >= target:
                lo, hi = _edges(i)
                return lo + (hi - lo) * ((target - seen) / c if c else 0.0)
            seen += c
        return _edges(max(self.counts[event_type]))[1]

    def p_late(self, event_type: str, dwell_s: float, left_s: float) -> float:
        """P(not delivered within `left_s` more seconds | already `dwell_s` at this step).

        An order that already waited longer than every delivered order did is
        judged as if it had just arrived at the step: the estimate has nothing
        to condition on, and the stall monitors flag the wait itself.
        """
        if left_s <= 0:
            return 1.0
        alive = self.survival(event_type, dwell_s)
        if alive <= 0:
            return self.survival(event_type, left_s)
        return min(1.0, self.survival(event_type, dwell_s + left_s) / alive)
