"""A playbook is a policy: linted on save (problems name the step and field), golden-tested on publish."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orderloom.bootstrap import build_services
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.core.settings import Settings
from orderloom.playbook import COMMANDS, document_problems, parse
from orderloom.playbook.document import duration
from orderloom.policy import GoldenCase, PolicyVersion, lint, load_example, run_golden
from orderloom.policy.log import PolicyLog
from tests.unit._support import shipped


def shipped_doc() -> dict[str, Any]:
    return copy.deepcopy(load_example("coldchain_stall").document)


def step(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == sid)


def problems_of(doc: Any) -> list[Problem]:
    return document_problems(doc)


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


def test_the_shipped_cold_chain_playbook_is_clean_and_its_golden_tests_pass() -> None:
    v = load_example("coldchain_stall")
    assert lint(v) == []
    results = run_golden(v)
    assert len(results) == len(v.tests) >= 5 and all(r.passed for r in results), [r.problems for r in results]


def test_steps_inside_a_branch_know_which_side_they_belong_to() -> None:
    pb = parse(shipped_doc())
    guards = {s.id: s.guard for s in pb.steps}
    assert guards["reading"] is None and guards["too_warm"] is None
    assert guards["compensate"] == ("too_warm", "then") and guards["call_carrier"] == ("too_warm", "else")


def test_a_broken_condition_is_reported_with_its_step_and_field() -> None:
    doc = shipped_doc()
    step(doc, "too_warm")["if"] = "steps.reading.data.temperature_c >"
    [problem] = problems_of(doc)
    assert problem.field == "step too_warm / if" and problem.rule == "expression"


def test_a_broken_placeholder_in_a_message_is_reported_with_the_language() -> None:
    doc = shipped_doc()
    step(doc, "tell_cs")["message"]["en"] = "Order {{ trigger.oid + }} is too warm"
    assert fields(problems_of(doc)) == ["step tell_cs / message.en"]


@pytest.mark.parametrize(
    ("sid", "change", "field", "rule"),
    [
        ("contact_customer", {"due_in": "soon"}, "step contact_customer / due_in", "format"),
        ("contact_customer", {"team": "Customer Service"}, "step contact_customer / team", "format"),
        ("contact_customer", {"priority": "asap"}, "step contact_customer / priority", "enum"),
        ("contact_customer", {"title": {"zh": "联系客户"}}, "step contact_customer / title", "required"),
        ("contact_customer", {"assignee": "王芳"}, "step contact_customer / assignee", "unknown_field"),
        ("compensate", {"command": "refund_everything"}, "step compensate / command", "enum"),
        ("tell_cs", {"channel": "fax"}, "step tell_cs / channel", "enum"),
        ("reading", {"signal": "node.backlog"}, "step reading / event", "required"),
        ("too_warm", {"then": ["compensate", "nowhere"]}, "step too_warm / then", "reference"),
        ("too_warm", {"else": ["reading"]}, "step too_warm / else", "order"),
        ("too_warm", {"else": ["call_carrier", "compensate"]}, "step too_warm / else", "unique"),
        ("compensate", {"type": "send_fax"}, "step compensate / type", "enum"),
    ],
)
def test_each_mistake_names_the_step_and_the_field(sid: str, change: dict[str, Any], field: str, rule: str) -> None:
    doc = shipped_doc()
    step(doc, sid).update(change)
    problems = problems_of(doc)
    assert (field, rule) in [(p.field, p.rule) for p in problems], problems


def test_a_step_may_only_read_the_results_of_earlier_steps() -> None:
    doc = shipped_doc()
    step(doc, "reading")["where"] = "event.data.temperature_c > steps.too_warm.value"
    [problem] = problems_of(doc)
    assert problem.field == "step reading" and problem.rule == "reference" and "too_warm" in problem.message


def test_two_steps_with_one_id_and_a_missing_trigger_are_refused() -> None:
    doc = shipped_doc()
    doc["steps"].append(copy.deepcopy(step(doc, "tell_cs")))
    del doc["trigger"]
    assert {"step tell_cs / id", "trigger"} <= set(fields(problems_of(doc)))


def test_a_playbook_cannot_start_on_playbook_events_or_read_steps_in_its_trigger() -> None:
    doc = shipped_doc()
    doc["trigger"] = {"event": "playbook.run_finished", "when": ["steps.reading.found"]}
    assert [(p.field, p.rule) for p in problems_of(doc)] == [
        ("trigger / event", "loop"),
        ("trigger / when[0]", "reference"),
    ]


def test_a_document_that_is_not_a_playbook_gets_one_clear_problem() -> None:
    assert [p.field for p in problems_of(["not", "an", "object"])] == ["document"]
    assert [p.field for p in problems_of({"trigger": {"event": "monitor.finding_opened"}, "steps": []})] == ["steps"]


def test_durations_read_minutes_hours_and_days() -> None:
    assert duration("30m").total_seconds() == 1800 and duration("1.5h").total_seconds() == 5400
    assert duration("2d").days == 2
    with pytest.raises(ValueError, match="duration"):
        duration("4 hours")


def test_saving_a_broken_playbook_is_refused_and_nothing_is_stored() -> None:
    log = PolicyLog(build_services(Settings(db_url="memory://")).intake)
    v = load_example("coldchain_stall")
    doc = shipped_doc()
    step(doc, "compensate")["command"] = "refund_everything"
    with pytest.raises(ValidationFailed) as info:
        log.save(PolicyVersion(v.name, 0, v.kind, doc, v.input_schema, v.tests), actor="key:t")
    assert [p.field for p in info.value.problems] == ["step compensate / command"]
    assert log.state(v.name).versions == {}


def test_publishing_refuses_a_playbook_whose_golden_tests_fail() -> None:
    log = PolicyLog(build_services(Settings(db_url="memory://")).intake)
    v = load_example("coldchain_stall")
    doc = shipped_doc()
    step(doc, "too_warm")["then"] = ["contact_customer", "tell_cs"]  # forgets the compensation
    step(doc, "too_warm")["else"] = ["call_carrier", "compensate"]
    saved = log.save(PolicyVersion(v.name, 0, v.kind, doc, v.input_schema, v.tests), actor="key:t")
    with pytest.raises(ValidationFailed) as info:
        log.publish(v.name, saved.version, actor="key:t")
    assert any(p.field.endswith("/ commands") and "start_compensation" in p.message for p in info.value.problems)
    assert log.state(v.name).stable is None


def test_a_golden_case_that_expects_something_unknown_or_sends_a_bad_trigger_fails() -> None:
    v = load_example("coldchain_stall")
    bad = (
        GoldenCase("typo", {"trigger": {"data": {"monitor": "linehaul_stall"}}}, {"comands": []}),
        GoldenCase("no monitor", {"trigger": {"data": {"evidence": {"cold_chain": True}}}}, {"starts": True}),
    )
    results = run_golden(PolicyVersion(v.name, 1, v.kind, v.document, v.input_schema, bad))
    assert [r.passed for r in results] == [False, False]
    assert results[0].problems[0].field == "test 'typo' / expect.comands"
    assert results[1].problems[0].field == "test 'no monitor' / trigger.data"
    assert "monitor" in results[1].problems[0].message


def test_the_dictionary_offers_exactly_the_commands_a_playbook_may_issue() -> None:
    schema = shipped().types["command.issued"].data_schema
    assert tuple(schema["properties"]["command"]["enum"]) == COMMANDS
    assert "playbook" in shipped().types["policy.version_saved"].data_schema["properties"]["kind"]["enum"]
