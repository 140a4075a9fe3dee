"""Live signals in the log: recorded as `signal.reported` events, folded into the scorer's snapshot.

One stream per signal type (`sig.<type>`). Each process keeps a small book of
the signals still inside their time-to-live, topped up from the streams before
every snapshot (an indexed read of what is new), so a signal reported through
any API worker is seen by every router within one decision.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from orderloom.core.envelope import format_time, parse_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.ids import ulid
from orderloom.routing.network import Network
from orderloom.routing.scoring import Signals
from orderloom.routing.signals import Registry, signals_used, snapshot, validate_signal
from orderloom.status.intake import Intake, ItemResult

KEEP = timedelta(days=1)  # longer than any TTL in the registry, so nothing still in force is dropped


def stream_of(signal_type: str) -> str:
    """The log stream of one signal type."""
    return f"sig.{signal_type}"


def record_signals(
    intake: Intake, raws: Sequence[Any], registry: Registry, network: Network, *, actor: str
) -> list[ItemResult]:
    """Check each signal against the registry and append the valid ones; per-signal results."""
    now = intake.clock.now()
    results: list[ItemResult] = []
    events = []
    for i, raw in enumerate(raws):
        try:
            signal = validate_signal(raw, registry, now, network=network)
        except ValidationFailed as exc:
            results.append(ItemResult(i, None, "rejected", problems=exc.problems))
            continue
        events.append(
            (
                i,
                {
                    "id": f"sig-{ulid()}",
                    "type": "signal.reported",
                    "source": "orderloom/signals",
                    "oid": stream_of(signal["type"]),
                    "time": signal["time"],
                    "actor": actor,
                    "data": signal,
                },
            )
        )
        results.append(ItemResult(i, None, "pending"))
    recorded = intake.record([e for _, e in events], allow_internal=True) if events else []
    for (i, _), r in zip(events, recorded, strict=True):
        r.index = i
        results[i] = r
    return results


class SignalBook:
    """The signals in force, kept per process and topped up from the log."""

    def __init__(self, intake: Intake, registry: Registry, network: Network) -> None:
        self.intake = intake
        self.registry = registry
        self.network = network
        self._seq = dict.fromkeys(registry, 0)
        self._signals: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def current(self, now: datetime | None = None) -> tuple[Signals, list[dict[str, str]]]:
        """The scorer's snapshot at `now` (default: the clock) and the signals that shaped it."""
        at = now or self.intake.clock.now()
        with self._lock:
            for t in self.registry:
                for e in self.intake.store.read_stream(stream_of(t), after_seq=self._seq[t]):
                    self._signals.append(e.data)
                    self._seq[t] = e.seq
            horizon = format_time(at - KEEP)
            self._signals = [s for s in self._signals if s["time"] >= horizon]
            signals = list(self._signals)
        return (
            snapshot(signals, at, self.registry, network=self.network),
            signals_used(signals, at, self.registry, network=self.network),
        )


def parse_when(text: str | None) -> datetime | None:
    """An optional `at` time for replaying a snapshot; ValidationFailed when unreadable."""
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ValidationFailed([Problem("at", "format", "at must be a time like 2026-05-01T08:00:00Z")]) from None
