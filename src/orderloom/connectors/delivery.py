"""One signed delivery attempt, what its answer means, and how long to wait before the next.

Only answers that may heal by themselves are retried: 5xx, timeouts and
connection errors. A 4xx says the receiver understood and refused, so
sending the same thing again would be refused again: it is dead-lettered
at once, where someone can look at it and replay it after a fix.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx2

from orderloom import __version__
from orderloom.connectors import signing
from orderloom.core.errors import ConfigError
from orderloom.core.ids import ulid

OK, RETRY, DEAD = "ok", "retry", "dead"


@dataclass(frozen=True)
class Backoff:
    """Retry policy: exponential from `base_s`, capped, with jitter; a dead letter after `max_attempts`."""

    base_s: float = 1.0
    cap_s: float = 300.0
    max_attempts: int = 8
    timeout_s: float = 10.0
    jitter: float = 0.5  # up to this share of each delay is random, so retries of many orders spread out

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        full = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        share: float = (rng or random).random()
        return float(full * (1 - self.jitter * share))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Backoff:
        """ORDERLOOM_WEBHOOK_BASE_S, _CAP_S, _ATTEMPTS, _TIMEOUT_S (defaults above)."""
        return cls(
            base_s=_number(env, "ORDERLOOM_WEBHOOK_BASE_S", cls.base_s, 0.001, 3600),
            cap_s=_number(env, "ORDERLOOM_WEBHOOK_CAP_S", cls.cap_s, 0.001, 86400),
            max_attempts=int(_number(env, "ORDERLOOM_WEBHOOK_ATTEMPTS", cls.max_attempts, 1, 100)),
            timeout_s=_number(env, "ORDERLOOM_WEBHOOK_TIMEOUT_S", cls.timeout_s, 0.01, 300),
        )


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt came to."""

    verdict: str  # ok | retry | dead
    status: int | None
    error: str
    ms: float


def judge(status: int, text: str) -> Answer:
    """The verdict on an HTTP status (milliseconds filled in by the caller)."""
    snippet = " ".join(text.split())[:200]
    if 200 <= status < 300:
        return Answer(OK, status, "", 0.0)
    if status >= 500:
        return Answer(RETRY, status, f"receiver answered {status}: {snippet}".rstrip(": "), 0.0)
    if 300 <= status < 400:
        why = "a redirect is not followed; point the subscription at the final URL"
        return Answer(DEAD, status, f"receiver answered {status}: {why}", 0.0)
    return Answer(DEAD, status, f"receiver answered {status}: {snippet}".rstrip(": "), 0.0)


async def attempt(
    client: httpx2.AsyncClient,
    url: str,
    secret: bytes,
    body: bytes,
    *,
    now: datetime,
    delivery: str,
    event_type: str,
    number: int,
    timeout_s: float,
) -> Answer:
    """POST one signed delivery and judge the answer."""
    headers = signing.signed_headers(secret, body, now=now, nonce=ulid())
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": f"orderloom-webhooks/{__version__}",
            "X-Orderloom-Delivery": delivery,
            "X-Orderloom-Event-Type": event_type,
            "X-Orderloom-Attempt": str(number),
        }
    )
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout_s)
        answer = judge(response.status_code, response.text)
    except httpx2.TimeoutException:
        answer = Answer(RETRY, None, f"no answer within {timeout_s:g} s", 0.0)
    except httpx2.TransportError as exc:
        answer = Answer(RETRY, None, f"could not reach the receiver: {type(exc).__name__}: {exc}"[:300], 0.0)
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        answer = Answer(DEAD, None, f"the delivery could not be sent: {type(exc).__name__}: {exc}"[:300], 0.0)
    ms = (time.perf_counter() - started) * 1000
    return Answer(answer.verdict, answer.status, answer.error, round(ms, 1))
