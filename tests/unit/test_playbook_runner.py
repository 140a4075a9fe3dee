"""The runner acts on stall findings: both branches, once only, resumable, by the version the rollout serves."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from orderloom.bootstrap import Services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import format_time
from orderloom.playbook import PlaybookRunner, install_default_playbooks, list_tasks
from orderloom.playbook.ids import run_id
from orderloom.playbook.runs import health, recent_runs, runs_on_stream
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.log import PolicyLog
from orderloom.store import iter_log
from tests.unit.test_playbook_rig import open_finding, place, publish, reading, services

ACTS = ("task.created", "notification.sent", "command.issued")


def log_types(svc: Services) -> Counter[str]:
    return Counter(e.type for e in iter_log(svc.store))


def acts(svc: Services) -> list[Any]:
    return [e for e in iter_log(svc.store) if e.type in ACTS]


def cold_order(svc: Services, oid: str, temperature_c: float | None) -> str:
    place(svc, oid)
    if temperature_c is not None:
        reading(svc, oid, temperature_c)
    return open_finding(svc, oid)


def edited(changes: dict[str, Any], note: str = "edited") -> PolicyVersion:
    """The shipped playbook with some steps' fields changed (golden tests dropped: they describe the original)."""
    v = load_example("coldchain_stall")
    doc = copy.deepcopy(v.document)
    for step in doc["steps"]:
        step.update(changes.get(step["id"], {}))
    return PolicyVersion(v.name, 0, v.kind, doc, v.input_schema, (), note)


def test_a_too_warm_stalled_cold_chain_order_gets_compensation_a_cs_task_and_a_notice() -> None:
    svc = services()
    install_default_playbooks(svc)
    cold_order(svc, "OL-PB-HOT", 9.4)
    PlaybookRunner(svc).drain()
    [cmd] = [e for e in acts(svc) if e.type == "command.issued"]
    assert cmd.oid == "OL-PB-HOT" and cmd.data["command"] == "start_compensation"
    assert cmd.data["args"]["temperature_c"] == 9.4 and cmd.data["args"]["limit_c"] == 6
    [task] = list_tasks(svc.views, svc.clock.now())
    assert task["team"] == "cs" and task["priority"] == "high" and task["oid"] == "OL-PB-HOT"
    assert "9.4" in task["title"]["en"] and task["due"] > task["created_at"]
    [note] = [e for e in acts(svc) if e.type == "notification.sent"]
    assert note.data["audience"] == "cs" and "OL-PB-HOT" in note.data["message"]["zh"]
    [run] = runs_on_stream(svc.store, "OL-PB-HOT")
    assert run["outcome"] == "done"
    steps = {s["step"]: s for s in run["steps"]}
    assert steps["too_warm"]["branch"] == "then" and steps["call_carrier"]["status"] == "skipped"


def test_a_stalled_cold_chain_order_in_range_gets_an_ops_task_and_no_compensation() -> None:
    svc = services()
    install_default_playbooks(svc)
    cold_order(svc, "OL-PB-OK", 4.2)
    PlaybookRunner(svc).drain()
    assert not [e for e in acts(svc) if e.type in ("command.issued", "notification.sent")]
    [task] = list_tasks(svc.views, svc.clock.now(), team="ops")
    assert task["state"] == "open" and task["evidence"]["temperature_c"] == 4.2
    assert list_tasks(svc.views, svc.clock.now(), team="cs") == []


def test_findings_the_trigger_does_not_match_start_nothing() -> None:
    svc = services()
    install_default_playbooks(svc)
    place(svc, "OL-PB-N1")
    reading(svc, "OL-PB-N1", 12.0)
    open_finding(svc, "OL-PB-N1", cold_chain=False)
    open_finding(svc, "OL-PB-N1", monitor="linehaul_departure_overdue")
    PlaybookRunner(svc).drain()
    assert log_types(svc)["playbook.run_started"] == 0 and not acts(svc)


def test_findings_from_before_the_playbook_was_published_are_not_acted_on() -> None:
    svc = services()
    cold_order(svc, "OL-PB-OLD", 9.4)
    install_default_playbooks(svc)
    cold_order(svc, "OL-PB-NEW", 9.4)
    PlaybookRunner(svc).drain()
    assert {e.oid for e in acts(svc) if e.type == "command.issued"} == {"OL-PB-NEW"}
    # Re-reading the log from the start (checkpoint lost) knows the playbook from the outset, and still waits.
    with svc.views.transaction() as tx:
        tx.set_checkpoint("playbooks", 0)
    PlaybookRunner(svc).drain()
    assert {e.oid for e in acts(svc) if e.type == "command.issued"} == {"OL-PB-NEW"}


def test_draining_again_or_with_a_second_runner_adds_nothing() -> None:
    svc = services()
    install_default_playbooks(svc)
    cold_order(svc, "OL-PB-TWICE", 9.4)
    PlaybookRunner(svc).drain()
    before = svc.store.last_position()
    assert PlaybookRunner(svc).drain() == 0
    # A second runner that starts from the beginning (say its checkpoint was lost) re-reads everything...
    with svc.views.transaction() as tx:
        tx.set_checkpoint("playbooks", 0)
    PlaybookRunner(svc).drain()
    # ...and finds every step already done: the log does not grow.
    assert svc.store.last_position() == before
    assert len(list_tasks(svc.views, svc.clock.now())) == 1


class Crash(Exception):
    """The process died here."""


def crash_after(svc: Services, appends: int) -> None:
    """Make the intake die on the append after `appends` successful ones."""
    real = svc.intake.record
    left = [appends]

    def record(*args: Any, **kw: Any) -> Any:
        if left[0] == 0:
            raise Crash
        left[0] -= 1
        return real(*args, **kw)

    svc.intake.record = record  # type: ignore[method-assign]


@pytest.mark.parametrize("survived", [1, 2, 3, 4, 5])
def test_a_run_that_crashed_midway_finishes_on_restart_without_doing_anything_twice(survived: int) -> None:
    reference = services()
    install_default_playbooks(reference)
    cold_order(reference, "OL-PB-CRASH", 9.4)
    PlaybookRunner(reference).drain()

    svc = services()
    install_default_playbooks(svc)
    cold_order(svc, "OL-PB-CRASH", 9.4)
    real = svc.intake.record
    crash_after(svc, survived)  # run started, then `survived - 1` steps written
    with pytest.raises(Crash):
        PlaybookRunner(svc).drain()
    svc.intake.record = real  # type: ignore[method-assign]
    assert svc.views.checkpoint("playbooks") == 0  # nothing was marked handled
    assert isinstance(svc.clock, ManualClock)
    svc.clock.advance(timedelta(minutes=7))  # re-written events would now differ in time
    PlaybookRunner(svc).drain()
    assert log_types(svc) == log_types(reference)
    assert sorted(e.id for e in acts(svc)) == sorted(e.id for e in acts(reference))
    [run] = runs_on_stream(svc.store, "OL-PB-CRASH")
    assert run["outcome"] == "done" and len(run["steps"]) == 6


def test_a_gray_release_runs_each_order_on_its_bucket_s_version_and_rollback_serves_the_old_one() -> None:
    svc = services()
    install_default_playbooks(svc)
    log = PolicyLog(svc.intake)
    v2 = log.save(edited({"call_carrier": {"priority": "urgent"}}, "urgent carrier calls"), actor="key:test")
    log.publish("coldchain_stall", v2.version, actor="key:test", percent=50)
    state = log.state("coldchain_stall")
    oids = [f"OL-PB-GR-{i:02d}" for i in range(24)]
    for oid in oids:
        open_finding(svc, oid)
    PlaybookRunner(svc).drain()
    ran = {r["stream"]: r["version"] for r in recent_runs(svc.views, limit=50)}
    assert ran == {oid: state.serving(oid, {}) for oid in oids}
    assert set(ran.values()) == {1, 2}
    urgent = {t["oid"] for t in list_tasks(svc.views, svc.clock.now()) if t["priority"] == "urgent"}
    assert urgent == {oid for oid, v in ran.items() if v == 2}

    log.rollback("coldchain_stall", 1, actor="key:test")
    for oid in oids:
        open_finding(svc, oid, fid=f"again-{oid}")
    PlaybookRunner(svc).drain()
    again = [r for r in recent_runs(svc.views, limit=100) if r["trigger"]["id"].startswith("mf-again-")]
    assert len(again) == len(oids) and {r["version"] for r in again} == {1}


def test_a_run_resumed_after_a_rollback_keeps_the_version_it_started_with() -> None:
    svc = services()
    install_default_playbooks(svc)
    log = PolicyLog(svc.intake)
    v2 = log.save(edited({"call_carrier": {"priority": "urgent"}}), actor="key:test")
    log.publish("coldchain_stall", v2.version, actor="key:test")
    open_finding(svc, "OL-PB-STICKY")
    real = svc.intake.record
    crash_after(svc, 2)
    with pytest.raises(Crash):
        PlaybookRunner(svc).drain()
    svc.intake.record = real  # type: ignore[method-assign]
    log.rollback("coldchain_stall", 1, actor="key:test")
    PlaybookRunner(svc).drain()
    [run] = runs_on_stream(svc.store, "OL-PB-STICKY")
    assert run["version"] == 2 and run["outcome"] == "done"
    [task] = list_tasks(svc.views, svc.clock.now())
    assert task["priority"] == "urgent"


def test_a_step_that_cannot_be_computed_fails_the_run_and_counts_against_the_success_rate() -> None:
    svc = services()
    # Comparing a missing reading with a number is an error in zen, not "false": the run must say so.
    publish(svc, edited({"too_warm": {"if": "steps.reading.data.temperature_c > 8"}}))
    cold_order(svc, "OL-PB-GOOD", 9.4)
    cold_order(svc, "OL-PB-NOREAD", None)
    PlaybookRunner(svc).drain()
    [failed] = runs_on_stream(svc.store, "OL-PB-NOREAD")
    assert failed["outcome"] == "failed" and failed["failed_step"] == "too_warm"
    assert "too_warm" in failed["error"] and "could not be evaluated" in failed["error"]
    failed_run = run_id(failed["trigger"]["id"], "coldchain_stall")
    assert failed["run"] == failed_run and not [e for e in acts(svc) if e.data["source"]["run"] == failed_run]
    doc = health(svc.views)
    assert (doc["started"], doc["done"], doc["failed"], doc["success_rate"]) == (2, 1, 1, 0.5)


def test_a_playbook_never_starts_on_its_own_events() -> None:
    svc = services()
    loop = edited({})
    loop.document["trigger"] = {"event": "task.created", "when": []}
    publish(svc, PolicyVersion("task_echo", 0, "playbook", loop.document, loop.input_schema))
    install_default_playbooks(svc)
    cold_order(svc, "OL-PB-ECHO", 9.4)
    PlaybookRunner(svc).drain()
    # task_echo starts once on coldchain_stall's task, and not on the tasks it creates itself.
    runs = Counter(r["playbook"] for r in recent_runs(svc.views, limit=50))
    assert runs == {"coldchain_stall": 1, "task_echo": 1}


def test_task_and_run_views_match_a_fold_of_the_log() -> None:
    svc = services()
    install_default_playbooks(svc)
    for i, t in enumerate((9.4, 4.2, 11.0)):
        cold_order(svc, f"OL-PB-V{i}", t)
    runner = PlaybookRunner(svc, batch=3)  # small batches: views are folded across many transactions
    runner.drain()
    runs = [r for i in range(3) for r in runs_on_stream(svc.store, f"OL-PB-V{i}")]
    assert sorted(recent_runs(svc.views, limit=10), key=lambda r: r["run"]) == sorted(runs, key=lambda r: r["run"])
    assert Counter(t["team"] for t in list_tasks(svc.views, svc.clock.now())) == {"cs": 2, "ops": 1}


def test_a_command_the_dictionary_refuses_fails_its_step_with_the_reason_and_acts_on_nothing() -> None:
    svc = services()
    publish(svc, edited({"compensate": {"target": "{{ 'not a valid order id' }}"}}))
    cold_order(svc, "OL-PB-BADTARGET", 9.4)
    PlaybookRunner(svc).drain()
    [run] = runs_on_stream(svc.store, "OL-PB-BADTARGET")
    assert run["outcome"] == "failed" and run["failed_step"] == "compensate"
    assert "refused" in run["error"] and "oid" in run["error"]
    assert not acts(svc)


def test_a_query_step_reads_the_latest_signal_and_whether_it_is_still_in_force() -> None:
    svc = services()
    doc = copy.deepcopy(load_example("coldchain_stall").document)
    doc["steps"] = [
        {"id": "backlog", "type": "query", "signal": "node.backlog", "where": "event.data.target == 'SH-CWH'"},
        {"id": "busy", "type": "branch", "if": "steps.backlog.found and steps.backlog.in_force", "then": ["pause"]},
        {"id": "pause", "type": "emit_command", "command": "pause_intake", "args": {"node": "SH-CWH"}},
    ]
    publish(svc, PolicyVersion("backlog_pause", 0, "playbook", doc, {"type": "object", "properties": {}}))
    now = svc.clock.now()
    signals = [
        ("SH-CWH", now - timedelta(minutes=10), 12),
        ("SH-CWH", now - timedelta(hours=3), 40),  # older: not the latest
        ("GZ-CWH", now - timedelta(minutes=1), 90),  # another node
    ]
    for i, (target, when, hours) in enumerate(signals):
        data = {"type": "node.backlog", "target": target, "value": {"hours": hours}, "time": format_time(when)}
        raw = {"id": f"sig-{i}", "type": "signal.reported", "source": "t", "oid": "sig.node.backlog"}
        raw.update(time=format_time(when), data={**data, "ttl_s": 1800})
        assert svc.intake.record([raw], allow_internal=True)[0].status == "accepted"
    open_finding(svc, "OL-PB-SIG")
    PlaybookRunner(svc).drain()
    [run] = runs_on_stream(svc.store, "OL-PB-SIG")
    backlog = run["steps"][0]["output"]
    assert backlog["in_force"] is True and backlog["data"]["value"] == {"hours": 12}
    assert [e.data["command"] for e in acts(svc)] == ["pause_intake"]
