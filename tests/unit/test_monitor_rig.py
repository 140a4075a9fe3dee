"""Builders for the monitor tests: in-memory services on a manual clock, orders and their events at T0 + minutes."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orderloom.api.keys import KeyRing
from orderloom.bootstrap import Services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import StoredEvent
from orderloom.core.settings import Settings
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.monitors import load_monitors
from orderloom.status.monitors.engine import MonitorEngine
from orderloom.status.orders import place_order
from orderloom.status.reading import OrderReader
from orderloom.store.memory import MemoryEventStore
from orderloom.views.memory import MemoryViewStore
from tests.unit._support import NOW, T0, at, order_body, shipped


def services() -> Services:
    """Fresh in-memory services; intake's clock stands at NOW (a day after T0), scans pass their own time."""
    d = shipped()
    store = MemoryEventStore()
    clock = ManualClock(NOW)
    directory = OrderDirectory(store)
    intake = Intake(store, d, clock, directory)
    return Services(
        settings=Settings(db_url="memory://"),
        store=store,
        dictionary=d,
        clock=clock,
        directory=directory,
        intake=intake,
        reader=OrderReader(store, d, directory),
        keys=KeyRing(intake),
        views=MemoryViewStore(),
    )


def engine(svc: Services, *files: Path) -> MonitorEngine:
    """An engine over the shipped monitors (plus files)."""
    return MonitorEngine(svc, load_monitors(svc.dictionary, files))


def minutes(m: float) -> datetime:
    """T0 plus m minutes."""
    return T0 + timedelta(minutes=m)


def place(svc: Services, oid: str, *, cold: bool = True, **data: Any) -> None:
    """A placed order (cold chain by default: the example's yoghurt line)."""
    body = order_body(oid)
    if not cold:
        body["lines"] = [line for line in body["lines"] if not line.get("cold_chain")]
    body.update(data)
    assert place_order(svc.intake, body, source="t", actor=None).created


def record(svc: Services, oid: str, etype: str, m: float, *, eid: str | None = None, **data: Any) -> str:
    """One event of the order at T0 + m minutes, from the dictionary example; its id."""
    ex = copy.deepcopy(dict(svc.dictionary.types[etype].example))
    payload = dict(ex.pop("data", {}))
    payload.pop("shipment", None)
    payload.update(data)
    event_id = eid or f"{oid}-{etype}-{m:g}"
    raw = {"id": event_id, "type": etype, "source": "t", "oid": oid, "time": at(m), **ex, "data": payload}
    [result] = svc.intake.record([raw])
    assert result.status == "accepted", result.as_dict()
    return event_id


def findings_on(svc: Services, oid: str) -> list[StoredEvent]:
    """The monitor events on an order's stream, in append order."""
    return [e for e in svc.store.read_stream(oid) if e.type.startswith("monitor.")]


def test_the_rig_records_events_at_the_given_minutes() -> None:
    svc = services()
    place(svc, "OL-RIG-M1")
    eid = record(svc, "OL-RIG-M1", "linehaul.in_transit", 60)
    stored = svc.store.get(eid)
    assert stored is not None and stored.occurred_at == minutes(60)
