"""The monitor engine: stalls, missing steps, delivery-window risk and signal rules, opened and resolved as events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orderloom.core.envelope import format_time
from orderloom.status.monitors import list_findings
from orderloom.status.monitors.engine import MonitorEngine
from tests.unit.test_monitor_rig import engine, findings_on, minutes, place, record, services

OID = "OL-MON-1"


def test_a_line_haul_silent_for_four_hours_opens_a_stall_finding_on_the_order() -> None:
    svc = services()
    place(svc, OID)
    trigger = record(svc, OID, "linehaul.in_transit", 60)
    eng = engine(svc)
    assert eng.scan(minutes(60 + 239)).opened == []
    report = eng.scan(minutes(60 + 241))
    [opened] = [f for f in report.opened if f["monitor"] == "linehaul_stall"]
    assert opened["finding_id"] == f"linehaul_stall:{OID}:1"
    [event] = findings_on(svc, OID)
    assert event.id == f"mf:linehaul_stall:{OID}:1" and event.type == "monitor.finding_opened"
    assert event.actor == "system:monitor" and event.occurred_at == minutes(301)
    ev = event.data["evidence"]
    assert (ev["event_id"], ev["event_type"], ev["event_time"]) == (
        trigger,
        "linehaul.in_transit",
        format_time(minutes(60)),
    )
    assert ev["expected"] == ["linehaul.in_transit", "linehaul.arrived"]
    assert ev["deadline"] == format_time(minutes(300)) and ev["elapsed_s"] == 241 * 60
    assert ev["cold_chain"] is True and event.data["kind"] == "stall" and event.data["severity"] == "warning"
    assert event.data["label"]["en"] == "Line-haul not updated for 4 hours"


def test_the_stall_resolves_when_the_next_report_arrives_late_and_out_of_order() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    eng = engine(svc)
    eng.scan(minutes(330))
    # The report was taken at +3h but only reaches us now: it proves the truck was not silent.
    late = record(svc, OID, "linehaul.in_transit", 180, eid="late-report")
    report = eng.scan(minutes(340))
    [resolved] = report.resolved
    assert resolved["finding_id"] == f"linehaul_stall:{OID}:1"
    assert resolved["resolved_by"] == {"id": late, "type": "linehaul.in_transit", "time": format_time(minutes(180))}
    opened, closed = findings_on(svc, OID)
    assert closed.type == "monitor.finding_resolved" and closed.occurred_at >= opened.occurred_at
    assert closed.data["resolved_by"]["id"] == late
    [doc] = list_findings(svc.views, oid=OID)
    assert doc["state"] == "resolved" and doc["resolved_by"]["id"] == late
    assert list_findings(svc.views, state="open") == []


def test_a_late_report_that_arrives_before_the_scan_means_no_finding() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    record(svc, OID, "linehaul.in_transit", 200)
    record(svc, OID, "linehaul.in_transit", 100, eid="uploaded-late")
    assert engine(svc).scan(minutes(400)).opened == []
    assert findings_on(svc, OID) == []


def test_running_the_engine_again_or_rebuilding_its_views_appends_nothing_new() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    record(svc, OID, "forward_wh.received", 700)
    engine(svc).scan(minutes(330))
    record(svc, OID, "linehaul.in_transit", 180, eid="late-report")
    engine(svc).scan(minutes(340))
    head = svc.store.last_position()
    before = list_findings(svc.views)
    assert engine(svc).scan(minutes(340)).opened == []
    rebuilt = engine(svc).rebuild(minutes(340))
    assert (rebuilt.opened, rebuilt.resolved) == ([], [])
    assert svc.store.last_position() == head
    assert list_findings(svc.views) == before


def test_a_new_silence_after_a_resolved_stall_is_a_second_finding() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    eng = engine(svc)
    eng.scan(minutes(310))
    record(svc, OID, "linehaul.in_transit", 320)
    eng.scan(minutes(330))
    report = eng.scan(minutes(320 + 250))
    assert [f["finding_id"] for f in report.opened] == [f"linehaul_stall:{OID}:2"]
    assert [f["state"] for f in list_findings(svc.views, monitor="linehaul_stall")] == ["open", "resolved"]


def test_an_order_that_moved_on_to_a_later_step_is_not_stalled() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    record(svc, OID, "forward_wh.received", 120)
    report = engine(svc).scan(minutes(600))
    assert "linehaul_stall" not in {f["monitor"] for f in report.opened}


def test_the_orders_own_later_events_prove_a_stall_without_waiting_for_a_scan() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    record(svc, OID, "coldchain.temperature_recorded", 60 + 300, temperature_c=4.0, limit_c=6.0)
    eng = engine(svc)
    eng.catch_up()
    [event] = [e for e in findings_on(svc, OID) if e.data["monitor"] == "linehaul_stall"]
    assert event.occurred_at == minutes(300)  # stalled since the deadline, known from the log alone


def test_a_stall_of_an_ambient_order_says_it_is_not_cold_chain() -> None:
    svc = services()
    place(svc, OID, cold=False)
    record(svc, OID, "linehaul.in_transit", 60)
    engine(svc).scan(minutes(400))
    [event] = findings_on(svc, OID)
    assert event.data["evidence"]["cold_chain"] is False


def test_the_line_haul_says_whether_a_shipment_travels_chilled() -> None:
    svc = services()
    place(svc, OID, cold=False)
    record(svc, OID, "linehaul.departed", 30, shipment="S1", cold_chain=True)
    record(svc, OID, "linehaul.in_transit", 60, shipment="S1")
    engine(svc).scan(minutes(400))
    [event] = [e for e in findings_on(svc, OID) if e.data["monitor"] == "linehaul_stall"]
    assert event.data["evidence"]["cold_chain"] is True and event.data["evidence"]["shipment"] == "S1"


def test_a_check_missing_on_a_forward_warehouse_order_opens_a_missing_step_finding() -> None:
    svc = services()
    place(svc, OID)
    place(svc, "OL-MON-DIRECT")
    record(svc, OID, "forward_wh.received", 60)
    dispatched = record(svc, OID, "lastmile.dispatched", 150)
    record(svc, "OL-MON-DIRECT", "lastmile.dispatched", 150)  # never went through a forward warehouse
    eng = engine(svc)
    assert [f for f in eng.scan(minutes(179)).opened if f["monitor"] == "forward_wh_check_missing"] == []
    report = eng.scan(minutes(181))
    [opened] = [f for f in report.opened if f["monitor"] == "forward_wh_check_missing"]
    assert opened["oid"] == OID and opened["kind"] == "missing_step"
    ev = opened["evidence"]
    assert ev["event_id"] == dispatched and ev["missing"] == ["forward_wh.check_passed"]
    assert ev["only_if"] == ["forward_wh.received"]
    # The PDA's scan arrives late, stamped before the dispatch: the missing fact is there after all.
    check = record(svc, OID, "forward_wh.check_passed", 80)
    [resolved] = [f for f in eng.scan(minutes(200)).resolved if f["monitor"] == "forward_wh_check_missing"]
    assert resolved["resolved_by"]["id"] == check


def _delivered_history(svc: object, n: int) -> None:
    for i in range(n):
        oid = f"OL-HIST-{i:03d}"
        place(svc, oid)  # type: ignore[arg-type]
        record(svc, oid, "linehaul.departed", 10)  # type: ignore[arg-type]
        record(svc, oid, "delivery.delivered", 10 + 600 + i)  # type: ignore[arg-type]


def test_an_order_that_will_probably_miss_its_promise_opens_an_sla_risk_finding() -> None:
    svc = services()
    _delivered_history(svc, 25)  # from departure, delivered after 10 hours
    place(svc, "OL-MON-TIGHT")
    place(svc, "OL-MON-LOOSE")
    for oid, hours in (("OL-MON-TIGHT", 4), ("OL-MON-LOOSE", 20)):
        record(svc, oid, "routing.decided", 5, promised_by=format_time(minutes(30 + 60 * hours)))
        record(svc, oid, "linehaul.departed", 30)
    eng = engine(svc)
    report = eng.scan(minutes(60))
    [risk] = [f for f in report.opened if f["monitor"] == "delivery_window_risk"]
    assert risk["oid"] == "OL-MON-TIGHT" and risk["kind"] == "sla_risk"
    ev = risk["evidence"]
    assert ev["step"] == "linehaul.departed" and ev["time_left_s"] == 3.5 * 3600
    assert 9.5 * 3600 <= ev["typical_remaining_p50_s"] <= 10.5 * 3600
    assert ev["typical_remaining_p90_s"] >= ev["typical_remaining_p50_s"]
    assert ev["probability_late"] > 0.5 and ev["samples"] == 25
    assert ev["deadline_source"]["type"] == "routing.decided"
    delivered = record(svc, "OL-MON-TIGHT", "delivery.delivered", 500)
    [resolved] = [f for f in eng.scan(minutes(510)).resolved if f["monitor"] == "delivery_window_risk"]
    assert resolved["oid"] == "OL-MON-TIGHT" and resolved["resolved_by"]["id"] == delivered


def test_no_sla_risk_is_judged_before_enough_orders_were_delivered() -> None:
    svc = services()
    _delivered_history(svc, 5)
    place(svc, OID)
    record(svc, OID, "routing.decided", 5, promised_by=format_time(minutes(60)))
    record(svc, OID, "linehaul.departed", 30)
    assert [f for f in engine(svc).scan(minutes(50)).opened if f["monitor"] == "delivery_window_risk"] == []


def test_a_reading_above_its_limit_opens_a_signal_finding_and_a_later_good_one_resolves_it() -> None:
    svc = services()
    place(svc, OID)
    hot = record(svc, OID, "coldchain.temperature_recorded", 60, temperature_c=9.4, limit_c=6.0)
    eng = engine(svc)
    [opened] = [f for f in eng.scan(minutes(61)).opened if f["monitor"] == "coldchain_too_warm"]
    ev = opened["evidence"]
    assert (ev["event_id"], ev["value"], ev["limit"], ev["limit_source"]) == (hot, 9.4, 6.0, "event")
    assert opened["severity"] == "critical" and opened["time"] == format_time(minutes(60))
    record(svc, OID, "coldchain.temperature_recorded", 30, temperature_c=3.0, limit_c=6.0)  # older: changes nothing
    assert eng.scan(minutes(70)).resolved == []
    cool = record(svc, OID, "coldchain.temperature_recorded", 90, temperature_c=4.0, limit_c=6.0)
    [resolved] = eng.scan(minutes(95)).resolved
    assert resolved["resolved_by"]["id"] == cool


def test_a_user_rule_with_a_fixed_limit_reads_another_event(tmp_path: Path) -> None:
    rules = tmp_path / "mine.yaml"
    rules.write_text(
        "monitors:\n"
        "  truck_too_warm:\n"
        "    kind: signal_rule\n"
        "    label: {zh: 车厢温度高, en: Truck too warm}\n"
        "    when: linehaul.in_transit\n"
        "    value: temperature_c\n"
        "    above: 7\n",
        encoding="utf-8",
    )
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60, temperature_c=7.5)
    [opened] = [f for f in engine(svc, rules).scan(minutes(61)).opened if f["monitor"] == "truck_too_warm"]
    assert opened["evidence"]["limit"] == 7.0 and opened["evidence"]["limit_source"] == "config"


def test_the_runner_follows_the_log_and_scans_until_stopped() -> None:
    svc = services()
    place(svc, OID)
    record(svc, OID, "linehaul.in_transit", 60)
    eng = MonitorEngine(svc, interval_s=0.01, idle_s=0.01)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(eng.run(stop))
        for _ in range(500):
            if findings_on(svc, OID):
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(go())
    # The services' clock stands a day after the report: the stall is due and the runner opened it by itself.
    assert [e.data["monitor"] for e in findings_on(svc, OID)] == ["linehaul_stall"]
