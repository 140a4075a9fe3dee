"""Builders shared by the unit tests: events from dictionary examples, fresh in-memory services."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

from orderloom.core.clock import ManualClock
from orderloom.dictionary import Dictionary, load_dictionary
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.orders import place_order
from orderloom.status.reading import OrderReader
from orderloom.store.memory import MemoryEventStore

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=CST)
# "Now" for every test: a day after T0, so T0 plus a few hours is never in the future.
NOW = datetime(2026, 5, 2, 0, 0, tzinfo=UTC)
CUSTOMER = "C-20231187"
ROLES = ("consumer", "cs", "finance", "ops", "admin")


@cache
def shipped() -> Dictionary:
    """The shipped dictionary, loaded once per test session (loading takes a few hundred ms)."""
    return load_dictionary()


def at(minutes: float = 0) -> str:
    """RFC 3339 text for T0 plus `minutes`, in +08:00 like a Chinese warehouse would send it."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def raw_event(
    dictionary: Dictionary,
    type_id: str,
    *,
    oid: str = "OL-TEST-1",
    eid: str | None = None,
    minutes: float = 0,
    data: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A complete raw CloudEvent for `type_id`, built from the dictionary's example.

    `data` entries replace or add example data fields; `drop` removes data fields.
    """
    example = copy.deepcopy(dict(dictionary.types[type_id].example))
    body = dict(example.get("data", {}))
    body.update(data or {})
    for key in drop:
        body.pop(key, None)
    example["data"] = body
    return {
        "id": eid or f"{type_id}-{oid}",
        "type": type_id,
        "source": "tests/unit",
        "oid": oid,
        "time": at(minutes),
        **example,
    }


def order_body(oid: str, *, customer: str = CUSTOMER, minutes: float = 0) -> dict[str, Any]:
    """A body for `place_order` from the order.placed example (without source refs, so orders never collide)."""
    data = copy.deepcopy(dict(shipped().types["order.placed"].example["data"]))
    data.pop("source_refs", None)
    data["customer"]["id"] = customer
    return {"oid": oid, "time": at(minutes), **data}


@dataclass
class Rig:
    """Fresh in-memory services sharing the (read-only) shipped dictionary."""

    store: MemoryEventStore
    dictionary: Dictionary
    clock: ManualClock
    directory: OrderDirectory
    intake: Intake
    reader: OrderReader

    def place(self, oid: str, *, customer: str = CUSTOMER, minutes: float = 0) -> str:
        placed = place_order(self.intake, order_body(oid, customer=customer, minutes=minutes), source="t", actor=None)
        assert placed.created, placed
        return placed.oid

    def record(self, *raws: dict[str, Any]) -> None:
        """Record events one batch; every one must be accepted or a duplicate."""
        results = self.intake.record(list(raws))
        bad = [r.as_dict() for r in results if r.status == "rejected"]
        assert not bad, bad


def rig(dictionary: Dictionary | None = None) -> Rig:
    d = dictionary or shipped()
    store = MemoryEventStore()
    clock = ManualClock(NOW)
    directory = OrderDirectory(store)
    intake = Intake(store, d, clock, directory)
    return Rig(store, d, clock, directory, intake, OrderReader(store, d, directory))
