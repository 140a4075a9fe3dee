"""Policy health: invocations, rules hit and never hit, and decisions not executed downstream."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.log import PolicyLog, stream_of
from orderloom.policy.runtime import PolicyRuntime, policy_health, record_decision

NAME = "douyin_first_order"
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def test_a_rule_worked_around_downstream_raises_a_deviation_alert_once() -> None:
    svc = build_services(Settings(db_url="memory://"), clock=ManualClock(T0 + timedelta(days=3)))
    log = PolicyLog(svc.intake)
    ex = load_example(NAME)
    doc = copy.deepcopy(ex.document)
    doc["orderloom"] = {"execution": [{"output": "carrier", "event": "outbound.scanned", "field": "carrier"}]}
    v = log.save(PolicyVersion(NAME, 0, ex.kind, doc, ex.input_schema, ex.tests), actor="a")
    log.publish(NAME, v.version, actor="a")
    runtime = PolicyRuntime(log)
    placed = dict(svc.dictionary.types["order.placed"].example)
    scan = copy.deepcopy(dict(svc.dictionary.types["outbound.scanned"].example))
    scan["data"].pop("shipment", None)
    data = {"channel": "douyin", "customer": {"first_order": True}, "order_total": 350.0}
    for i in range(40):
        oid = f"OL-H-{i}"
        body = {**copy.deepcopy(placed["data"]), "customer": {"id": f"C-{i}", "tier": "gold"}}
        svc.intake.record(
            [
                {
                    "id": f"{oid}-p",
                    "type": "order.placed",
                    "source": "t",
                    "oid": oid,
                    "time": T0.isoformat(),
                    **{**placed, "data": body},
                }
            ]
        )
        record_decision(svc, oid, oid, runtime.decide(NAME, oid, data, trace=True), data)
        carrier = "SF" if i % 10 >= 3 else "jd_logistics"  # 30% shipped with another carrier
        svc.intake.record(
            [
                {
                    "id": f"{oid}-s",
                    "type": "outbound.scanned",
                    "source": "wms",
                    "oid": oid,
                    "time": (T0 + timedelta(days=3, minutes=5)).isoformat(),
                    **{**scan, "data": {**scan["data"], "carrier": carrier}},
                }
            ]
        )
    report = policy_health(svc, NAME, threshold=0.1)
    row = report["versions"][0]
    assert row["invocations"] == 40 and row["eval_us_p50"] is not None
    assert row["execution_checked"] == 40 and row["execution_deviated"] == 12
    assert abs(row["deviation_rate"] - 0.3) < 1e-9 and row["alert"] is True
    assert sum(row["rule_hits"].values()) == 40 and len(row["rule_hits"]) == 1
    assert row["rules_never_hit"]  # the default rule was never needed by these orders
    policy_health(svc, NAME, threshold=0.1)  # asking again the same day adds no second alert
    alerts = [e for e in svc.store.read_stream(stream_of(NAME)) if e.type == "policy.deviation_alert"]
    assert len(alerts) == 1 and alerts[0].data["deviated"] == 12
