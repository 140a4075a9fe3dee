"""Builders for the playbook tests: services, a cold-chain order, its temperature readings and stall findings.

The monitors that open findings are built elsewhere; until their dictionary
file defines `monitor.finding_opened`, these tests register a stand-in type
with the same fields from a file of their own.
"""

from __future__ import annotations

import copy
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from orderloom.api.keys import KeyRing
from orderloom.bootstrap import Services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.dictionary import Dictionary, load_dictionary
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.log import PolicyLog
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.orders import place_order
from orderloom.status.reading import OrderReader
from orderloom.store import open_store
from orderloom.views.factory import open_view_store
from tests.unit._support import NOW, at, order_body, shipped

STAND_IN = """
dictionary: playbook_test_monitors
types:
  monitor.finding_opened:
    version: 1
    label: {zh: 监控发现问题, en: Monitor finding opened}
    stage: system
    leg: system
    internal: true
    data:
      type: object
      required: [finding_id, monitor, kind, severity]
      properties:
        finding_id: {type: string}
        monitor: {type: string}
        kind: {type: string, enum: [stall, missing_step, sla_risk, signal_rule]}
        severity: {type: string}
        label: {type: object}
        evidence: {type: object}
    visibility: {consumer: false, ops: {fields: "*"}, admin: {fields: "*", details: true}}
    example:
      data: {finding_id: F-1, monitor: linehaul_stall, kind: stall, severity: warning}
"""


@cache
def extra_dictionary() -> tuple[str, ...]:
    """The stand-in monitor file, only while the shipped dictionary lacks the real one."""
    if "monitor.finding_opened" in shipped().types:
        return ()
    path = Path(tempfile.mkdtemp(prefix="playbook-test-")) / "monitors.yaml"
    path.write_text(STAND_IN, encoding="utf-8")
    return (str(path),)


@cache
def dictionary() -> Dictionary:
    """The dictionary the tests use, loaded once (loading takes about a second)."""
    return load_dictionary(extra_dictionary())


def services(db_url: str = "memory://") -> Services:
    """Fresh services on a manual clock, with the monitor finding type available.

    Wired like `build_services`, but sharing one loaded (read-only) dictionary so each test starts in milliseconds.
    """
    d = dictionary()
    store = open_store(db_url)
    clock = ManualClock(NOW)
    directory = OrderDirectory(store)
    intake = Intake(store, d, clock, directory)
    return Services(
        settings=Settings(db_url=db_url, dictionary_paths=extra_dictionary()),
        store=store,
        dictionary=d,
        clock=clock,
        directory=directory,
        intake=intake,
        reader=OrderReader(store, d, directory),
        keys=KeyRing(intake),
        views=open_view_store("memory://" if db_url.startswith("memory:") else db_url),
    )


def publish(svc: Services, version: PolicyVersion | None = None, percent: float = 100) -> int:
    """Save and publish a playbook version (the shipped cold-chain one by default); its number."""
    log = PolicyLog(svc.intake)
    saved = log.save(version or load_example("coldchain_stall"), actor="key:test")
    log.publish(saved.name, saved.version, actor="key:test", percent=percent)
    return saved.version


def place(svc: Services, oid: str) -> None:
    """A placed order (readings of an unknown order are refused)."""
    assert place_order(svc.intake, order_body(oid), source="t", actor=None).created


def reading(svc: Services, oid: str, temperature_c: float, *, limit_c: float = 6.0, minutes: float = 60) -> None:
    """A cold-chain temperature reading on the order."""
    example = copy.deepcopy(dict(svc.dictionary.types["coldchain.temperature_recorded"].example))
    example["data"] = {"shipment": f"{oid}-S1", "temperature_c": temperature_c, "limit_c": limit_c}
    raw = {"id": f"temp-{oid}-{minutes}", "type": "coldchain.temperature_recorded", "source": "t", "oid": oid}
    raw.update(time=at(minutes), **example)
    result = svc.intake.record([raw])[0]
    assert result.status != "rejected", result.as_dict()


def finding_data(
    oid: str, *, monitor: str = "linehaul_stall", cold_chain: bool = True, fid: str | None = None
) -> dict[str, Any]:
    """What a monitor records when an order's line-haul went quiet."""
    return {
        "finding_id": fid or f"F-{oid}-{monitor}",
        "monitor": monitor,
        "kind": "stall",
        "severity": "warning",
        "label": {"zh": "干线在途超4小时未更新", "en": "Line-haul not updated for 4 hours"},
        "evidence": {
            "cold_chain": cold_chain,
            "shipment": f"{oid}-S1",
            "event_id": f"lh-{oid}",
            "event_type": "linehaul.in_transit",
            "event_time": at(60),
            "elapsed_s": 4 * 3600 + 600,
        },
    }


def open_finding(svc: Services, oid: str, *, minutes: float = 310, **kw: Any) -> str:
    """Append a `monitor.finding_opened` event to the order's stream; its id."""
    data = finding_data(oid, **kw)
    eid = f"mf-{data['finding_id']}"
    raw = {
        "id": eid,
        "type": "monitor.finding_opened",
        "source": "orderloom/monitors",
        "oid": oid,
        "time": at(minutes),
        "actor": "system:monitor",
        "data": data,
    }
    result = svc.intake.record([raw], allow_internal=True)[0]
    assert result.status != "rejected", result.as_dict()
    return eid


def test_the_stand_in_finding_is_a_valid_event_in_whichever_dictionary_is_loaded() -> None:
    svc = services()
    place(svc, "OL-RIG-1")
    eid = open_finding(svc, "OL-RIG-1")
    stored = svc.store.get(eid)
    assert stored is not None and stored.data["evidence"]["cold_chain"] is True


def test_a_reading_is_recorded_on_the_order() -> None:
    svc = services()
    place(svc, "OL-RIG-2")
    reading(svc, "OL-RIG-2", 9.4)
    types = [e.type for e in svc.store.read_stream("OL-RIG-2")]
    assert "coldchain.temperature_recorded" in types
