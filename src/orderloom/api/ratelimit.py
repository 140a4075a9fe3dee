"""Per-key rate limits: a token bucket per API key, so one runaway client cannot starve the others.

The buckets live in each API worker's memory: with N workers a key may send up
to N times the rate in total, which is why the default is generous and the
limit is a guard against runaway scripts, not a billing meter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`rate` requests per second per key on average, bursts of up to `burst`; rate 0 turns it off."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> float:
        """Spend one request of `key_id`: 0 if allowed, else the seconds until the next one is."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key_id)
            if b is None:
                b = self._buckets[key_id] = _Bucket(float(self.burst), now)
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
            b.at = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.rate
