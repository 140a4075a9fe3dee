"""The analytics port: read-only dwell analytics over the event log (DuckDB in memory by default)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from orderloom.core.envelope import StoredEvent
from orderloom.status.analytics.query import DwellQuery
from orderloom.status.analytics.typical import TypicalBook

FORMATS = ("parquet", "csv")
EXPORT_ROWS = ("dwell", "steps")


@dataclass(frozen=True, slots=True)
class Mask:
    """What one role may see: its visible chain types, and the types whose site fields it is granted."""

    types: frozenset[str]
    node: frozenset[str]
    from_node: frozenset[str]
    to_node: frozenset[str]


@dataclass(frozen=True, slots=True)
class Step:
    """The time one order (or one shipment) spent after an event until the next; open when nothing followed yet."""

    oid: str
    shipment: str | None
    from_id: str
    to_id: str | None
    from_type: str
    to_type: str | None
    node: str | None
    stage: str
    leg: str
    started_at: datetime  # naive UTC, like every time the model holds
    ended_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class Cell:
    """Dwell percentiles of one node x stage in one bucket (hour 0-23 or a day), or over all buckets (None)."""

    node: str | None
    stage: str
    bucket: int | date | None
    count: int
    p50_s: float
    p90_s: float
    p99_s: float


@dataclass(frozen=True, slots=True)
class Loaded:
    """What one refresh did: log positions read, chain events loaded, orders recomputed."""

    position: int
    read: int
    events: int
    orders: int
    seconds: float


class DwellAnalytics(ABC):
    """Dwell times of order steps, derived from the log and refreshed incrementally by position."""

    @abstractmethod
    def refresh(self) -> Loaded:
        """Load the events appended since the last refresh and recompute the steps of the orders they touch."""

    @abstractmethod
    def dwell(self, query: DwellQuery, types: Collection[str] | None = None) -> list[Cell]:
        """Percentiles per node x stage x bucket (and per node x stage), over steps between `types` only if given."""

    @abstractmethod
    def export(
        self, query: DwellQuery, path: Path, *, fmt: str, rows: str, types: Collection[str] | None = None
    ) -> int:
        """Write the aggregates (`rows="dwell"`) or the steps themselves to a Parquet or CSV file; returns rows."""

    @abstractmethod
    def order_steps(self, events: Sequence[StoredEvent], mask: Mask) -> list[Step]:
        """One order's steps from its events, as a role with `mask` may see them (open steps included)."""

    @abstractmethod
    def steps_of(self, oid: str) -> list[Step]:
        """The stored steps of one order, every event seen (for drill-down and checks)."""

    @abstractmethod
    def typical(self, mask: Mask) -> TypicalBook:
        """Typical step durations over every order, derived from what a role with `mask` may see."""

    @abstractmethod
    def summary(self) -> dict[str, int]:
        """How much is loaded: log position, chain events, orders, closed and open steps."""

    @abstractmethod
    def close(self) -> None:
        """Release the database."""
