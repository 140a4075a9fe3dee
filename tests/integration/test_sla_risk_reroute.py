"""Pre-emptive re-routing end to end: an SLA-risk finding -> the shipped playbook -> a reroute command -> the router."""

from __future__ import annotations

from orderloom.core.envelope import format_time
from orderloom.playbook.install import install_default_playbooks
from orderloom.playbook.runner import PlaybookRunner
from orderloom.routing.commands import RerouteCommands
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.router import Router
from orderloom.routing.signal_book import SignalBook, record_signals
from orderloom.routing.signals import load_registry
from tests.unit.test_playbook_rig import finding_data, place, services


def test_an_order_at_risk_of_missing_its_window_is_moved_before_it_fails() -> None:
    svc = services()
    assert "sla_risk_reroute" in install_default_playbooks(svc)
    network = load_network(CHINA_YAML)
    router = Router(network, SignalBook(svc.intake, load_registry(), network))
    place(svc, "OL-RISK-1")
    first = router.route(svc, "OL-RISK-1", "test")["node"]
    now = format_time(svc.clock.now())
    down = {"type": "node.down", "target": first, "value": {"down": True, "reason": "停电"}, "time": now}
    assert record_signals(svc.intake, [down], router.book.registry, network, actor="test")[0].status != "rejected"
    data = finding_data("OL-RISK-1", monitor="sla_risk") | {"kind": "sla_risk"}
    raw = {"id": "mf-risk-1", "type": "monitor.finding_opened", "source": "orderloom/monitors", "oid": "OL-RISK-1"}
    finding = raw | {"time": now, "actor": "system:monitor", "data": data}
    assert svc.intake.record([finding], allow_internal=True)[0].status != "rejected"

    PlaybookRunner(svc).drain()
    issued = [e for e in svc.reader.events("OL-RISK-1") if e.type == "command.issued"]
    assert [e.data["command"] for e in issued] == ["reroute"]
    [done] = RerouteCommands(svc, router).drain()
    assert done.moved and done.from_node == first
    last = svc.reader.events("OL-RISK-1")[-1]
    assert last.type == "routing.rerouted" and last.data["trigger"] == "sla_risk" and last.data["node"] != first
