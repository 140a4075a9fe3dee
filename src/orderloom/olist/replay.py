"""Replaying the sample through the public API: batches of events to `POST /v1/events`.

The same code drives a remote server (`--url`) and the app in this process (a
Starlette TestClient over the real ASGI app and store), so every event passes
authentication, body limits, validation and the batch answer exactly as an
outside system's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from orderloom.core.errors import OrderloomError
from orderloom.olist.mapping import order_events
from orderloom.olist.source import OlistData

EVENTS_PATH = "/v1/events"
RETRIES = 5


class Response(Protocol):
    """What the replay reads of an HTTP response (httpx2 and Starlette's TestClient both fit)."""

    status_code: int
    headers: Any

    def json(self) -> Any: ...


class Client(Protocol):
    """An HTTP client with a base URL."""

    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Any: ...


class ReplayFailed(OrderloomError):
    """The API refused a whole batch (not one event of it): wrong key, batch too large, server down."""


@dataclass(slots=True)
class Counts:
    """How the replay went: events per outcome, and the first refusals with their reasons."""

    orders: int = 0
    events: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    requests: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        rate = self.events / self.seconds if self.seconds else None
        return {
            "orders": self.orders,
            "events": self.events,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "events_per_s": None if rate is None else round(rate, 1),
        }


def batches(data: OlistData, size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(orders completed, events) per batch; an order's events never start before its placement's batch."""
    batch: list[dict[str, Any]] = []
    done = 0
    for order in data.orders:
        batch.extend(order_events(order, data))
        done += 1
        if len(batch) >= size:
            yield done, batch[:size]
            batch = batch[size:]
            done = 0
    while batch:
        yield done, batch[:size]
        batch = batch[size:]
        done = 0


def post_batch(client: Client, key: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send one batch; the per-event results, retrying while the API asks to slow down."""
    headers = {"Authorization": f"Bearer {key}"}
    for attempt in range(RETRIES):
        response: Response = client.post(EVENTS_PATH, json={"events": events}, headers=headers)
        if response.status_code == 429 and attempt + 1 < RETRIES:
            time.sleep(float(response.headers.get("retry-after") or 1.0))
            continue
        body = _json(response)
        if response.status_code in (200, 207, 422) and isinstance(body, dict) and "results" in body:
            results: list[dict[str, Any]] = body["results"]
            return results
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise ReplayFailed(f"the API answered {response.status_code} to a batch: {message or body!r}")
    raise ReplayFailed("the API kept answering 429 (rate limited); raise ORDERLOOM_RATE_PER_KEY or retry later")


def _json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def replay(
    data: OlistData,
    client: Client,
    key: str,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    shown: int = 20,
) -> Counts:
    """Post every order's events in batches of `batch`; `progress` gets the orders each batch completed."""
    counts = Counts()
    started = time.perf_counter()
    for done, events in batches(data, batch):
        results = post_batch(client, key, events)
        counts.requests += 1
        counts.events += len(events)
        counts.orders += done
        _tally(counts, results, shown)
        if progress is not None:
            progress(done)
    counts.seconds = time.perf_counter() - started
    return counts


def _tally(counts: Counts, results: Iterable[dict[str, Any]], shown: int) -> None:
    for r in results:
        status = r.get("status")
        if status == "accepted":
            counts.accepted += 1
        elif status == "duplicate":
            counts.duplicate += 1
        else:
            counts.rejected += 1
            if len(counts.problems) < shown:
                why = "; ".join(f"{p.get('field')}: {p.get('message')}" for p in r.get("problems", []))
                counts.problems.append(f"event {r.get('id')}: {why}")
