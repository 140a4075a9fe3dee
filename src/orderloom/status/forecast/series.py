"""Fold CloudEvents into hourly per-node series: arrivals, throughput, backlog, and the signals reported.

An hour bucket `b` (hours since 1970-01-01T00:00Z) holds the events whose time
is in (b, b+1]: a scan stamped exactly 09:00:00 belongs to the hour that ends
at 09:00. So the state at the end of bucket `b` is everything known at the
instant b+1, which is the instant a forecast made "at b+1" may use.

Only three kinds of event matter: `routing.decided`/`routing.rerouted` (an
order arrives at a node; a re-routed order leaves its old node), and
`outbound.scanned` (it leaves the node). Signals (`signal.reported`) are kept
as they were reported, with the bucket they became known in. The fold is
order-independent within what it counts, so events read from a store in
position order and the twin's hourly batches give the same series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from orderloom.core.envelope import normalise_time

ARRIVED = ("routing.decided", "routing.rerouted")
SHIPPED = "outbound.scanned"
SIGNAL = "signal.reported"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ON_THE_HOUR = ":00:00.000000Z"


def hour_of(moment: datetime) -> int:
    """The hour bucket that ends at or after `moment` (a bucket holds times in (b, b+1])."""
    seconds = (moment - EPOCH).total_seconds()
    return int(-(-seconds // 3600)) - 1


def instant(bucket: int) -> datetime:
    """The instant a bucket ends: the time a forecast made from it is made."""
    return EPOCH + timedelta(hours=bucket + 1)


@dataclass(frozen=True, slots=True)
class ReportedSignal:
    """A `signal.reported` event as the fold keeps it: known from the end of `bucket` on."""

    bucket: int
    type: str
    target: str
    value: Mapping[str, Any]
    time: str


@dataclass(frozen=True, slots=True)
class Series:
    """Hourly per-node counts from `origin` (a bucket) for `hours` buckets; index i is bucket origin+i."""

    origin: int
    hours: int
    arrivals: Mapping[str, np.ndarray]
    shipped: Mapping[str, np.ndarray]
    left: Mapping[str, np.ndarray]  # re-routed away from the node
    backlog: Mapping[str, np.ndarray]  # orders waiting at the end of the bucket: arrived - left - shipped
    signals: tuple[ReportedSignal, ...] = ()

    @property
    def nodes(self) -> list[str]:
        """The nodes that have a series, sorted."""
        return sorted(self.backlog)

    def time_of(self, index: int) -> datetime:
        """The instant index `index` ends."""
        return instant(self.origin + index)


@dataclass(slots=True)
class SeriesFold:
    """Accumulates events (raw CloudEvent dicts or stored events) into per-node hourly counts."""

    arrived: dict[str, dict[int, int]] = field(default_factory=dict)
    shipped: dict[str, dict[int, int]] = field(default_factory=dict)
    left: dict[str, dict[int, int]] = field(default_factory=dict)
    signals: list[ReportedSignal] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # open order -> the node it waits at
    used: int = 0  # events that changed a series or added a signal
    _hours: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DDTHH" -> bucket that starts then

    def add_all(self, events: Iterable[Any]) -> SeriesFold:
        """Fold many events; returns the fold so calls chain."""
        for e in events:
            self.add(e)
        return self

    def add(self, event: Any) -> None:
        """Fold one event; types the forecast does not use are ignored."""
        etype, oid, time, data = _fields(event)
        if etype in ARRIVED:
            node = data.get("node")
            if not isinstance(node, str):
                return
            b = self.bucket(time)
            before = self.where.get(oid)
            if before is not None and before != node:
                _bump(self.left, before, b)
            if before != node:
                _bump(self.arrived, node, b)
            self.where[oid] = node
            self.used += 1
        elif etype == SHIPPED:
            node = data.get("node")
            if not isinstance(node, str):
                return
            _bump(self.shipped, node, self.bucket(time))
            self.where.pop(oid, None)
            self.used += 1
        elif etype == SIGNAL:
            value = data.get("value")
            self.signals.append(
                ReportedSignal(
                    self.bucket(time),
                    str(data.get("type", "")),
                    str(data.get("target", "")),
                    value if isinstance(value, dict) else {},
                    time,
                )
            )
            self.used += 1

    def bucket(self, time: str) -> int:
        """The hour bucket of an event time (normalised UTC text, or any RFC 3339 text)."""
        if len(time) != 27 or not time.endswith("Z"):
            time = normalise_time(time)
        key = time[:13]
        start = self._hours.get(key)
        if start is None:
            start = hour_of(datetime.fromisoformat(key + ":00:00+00:00")) + 1
            self._hours[key] = start
        # A time exactly on the hour closes the previous bucket.
        return start - 1 if time.endswith(_ON_THE_HOUR) else start

    def series(self, *, origin: int | None = None, until: int | None = None, nodes: Iterable[str] = ()) -> Series:
        """The per-node arrays from `origin` to `until` (buckets, inclusive; default: the events' span)."""
        buckets = [b for d in (self.arrived, self.shipped) for per in d.values() for b in per]
        lo = min(buckets, default=0) if origin is None else origin
        hi = max(buckets, default=lo) if until is None else until
        n = max(0, hi - lo + 1)
        names = set(nodes) | set(self.arrived) | set(self.shipped)
        arrivals, shipped, left, backlog = {}, {}, {}, {}
        for node in names:
            a = _array(self.arrived.get(node, {}), lo, n)
            s = _array(self.shipped.get(node, {}), lo, n)
            g = _array(self.left.get(node, {}), lo, n)
            # What happened before the window still counts towards the backlog at its start.
            carried = _before(self.arrived.get(node, {}), lo) - _before(self.left.get(node, {}), lo)
            carried -= _before(self.shipped.get(node, {}), lo)
            arrivals[node], shipped[node], left[node] = a, s, g
            backlog[node] = carried + np.cumsum(a - g - s)
        known = tuple(sorted((s for s in self.signals if s.bucket <= hi), key=lambda s: (s.bucket, s.time)))
        return Series(lo, n, arrivals, shipped, left, backlog, known)


def fold_events(events: Iterable[Any], **window: Any) -> Series:
    """The hourly series of a batch of events (see `SeriesFold.series` for the window)."""
    return SeriesFold().add_all(events).series(**window)


def _fields(event: Any) -> tuple[str, str, str, Mapping[str, Any]]:
    if isinstance(event, Mapping):
        data = event.get("data")
        return (
            str(event.get("type", "")),
            str(event.get("oid", "")),
            str(event.get("time", "")),
            data if isinstance(data, Mapping) else {},
        )
    return event.type, event.oid, event.time, event.data


def _bump(counts: dict[str, dict[int, int]], node: str, bucket: int) -> None:
    per = counts.setdefault(node, {})
    per[bucket] = per.get(bucket, 0) + 1


def _array(per: Mapping[int, int], lo: int, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    for b, c in per.items():
        if lo <= b < lo + n:
            out[b - lo] += c
    return out


def _before(per: Mapping[int, int], lo: int) -> int:
    return sum(c for b, c in per.items() if b < lo)
