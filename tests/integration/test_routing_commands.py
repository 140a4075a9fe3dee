"""Re-route commands from playbooks: an order at risk moves before it fails, once, and only to a better node."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from orderloom.bootstrap import Services, build_services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import format_time
from orderloom.core.settings import Settings
from orderloom.routing.commands import RerouteCommands
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.router import Router
from orderloom.routing.signal_book import SignalBook, record_signals
from orderloom.routing.signals import load_registry

NOW = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


@pytest.fixture
def rig() -> Iterator[tuple[Services, Router, RerouteCommands]]:
    svc = build_services(Settings(db_url="memory://"), clock=ManualClock(NOW))
    network = load_network(CHINA_YAML)
    router = Router(network, SignalBook(svc.intake, load_registry(), network))
    yield svc, router, RerouteCommands(svc, router)
    svc.close()


def place(svc: Services, oid: str) -> None:
    raw = copy.deepcopy(dict(svc.dictionary.types["order.placed"].example))
    data: dict[str, Any] = raw.pop("data")
    data.pop("source_refs", None)
    data["window"] = {"start": format_time(NOW), "end": "2026-11-12T20:00:00Z"}
    event = {"id": f"{oid}-0", "type": "order.placed", "source": "test", "oid": oid, "time": format_time(NOW)}
    assert svc.intake.record([{**event, **raw, "data": data}])[0].status == "accepted"


def command(svc: Services, oid: str, n: int) -> None:
    raw = {
        "id": f"cmd-{oid}-{n}",
        "type": "command.issued",
        "source": "test",
        "oid": oid,
        "time": format_time(NOW),
        "actor": "playbook:sla_risk_reroute",
        "data": {"command_id": f"c{n}", "command": "reroute", "target": oid, "args": {"reason": "sla_risk"}},
    }
    assert svc.intake.record([raw], allow_internal=True)[0].status == "accepted"


def test_an_order_whose_node_became_worse_moves_once_with_the_sla_risk_trigger(
    rig: tuple[Services, Router, RerouteCommands],
) -> None:
    svc, router, commands = rig
    place(svc, "OL-SLA-1")
    first = router.route(svc, "OL-SLA-1", "test")["node"]
    signal = {"type": "node.down", "target": first, "value": {"down": True, "reason": "停电"}, "time": format_time(NOW)}
    assert (
        record_signals(svc.intake, [signal], router.book.registry, router.network, actor="test")[0].status != "rejected"
    )
    command(svc, "OL-SLA-1", 1)
    [done] = commands.drain()
    assert done.moved and done.from_node == first and done.to_node != first
    moved = svc.reader.events("OL-SLA-1")[-1]
    assert moved.type == "routing.rerouted" and moved.data["trigger"] == "sla_risk" and moved.data["from_node"] == first
    assert commands.drain() == []  # the checkpoint moved: nothing is handled twice


def test_an_order_already_on_its_best_node_is_left_alone(rig: tuple[Services, Router, RerouteCommands]) -> None:
    svc, router, commands = rig
    place(svc, "OL-SLA-2")
    router.route(svc, "OL-SLA-2", "test")
    before = len(svc.reader.events("OL-SLA-2"))
    command(svc, "OL-SLA-2", 1)
    [done] = commands.drain()
    assert not done.moved and "still the best node" in done.why
    assert len(svc.reader.events("OL-SLA-2")) == before + 1  # only the command itself
