"""Tasks move open -> in progress -> done/cancelled; every change is an event, bad changes name the field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderloom.bootstrap import Services
from orderloom.core.clock import ManualClock
from orderloom.core.errors import NotFound, ValidationFailed
from orderloom.playbook import PlaybookRunner, install_default_playbooks, list_tasks, read_task, update_task
from orderloom.playbook.ids import task_stream
from tests.unit.test_playbook_rig import open_finding, place, reading, services


def with_tasks(*temperatures: float) -> tuple[Services, list[str]]:
    """Services with one stalled cold-chain order per temperature, handled by the runner; the task ids."""
    svc = services()
    install_default_playbooks(svc)
    for i, t in enumerate(temperatures):
        oid = f"OL-TK-{i}"
        place(svc, oid)
        reading(svc, oid, t)
        open_finding(svc, oid)
    PlaybookRunner(svc).drain()
    return svc, [t["task_id"] for t in list_tasks(svc.views, svc.clock.now())]


def test_a_task_is_taken_commented_and_closed_and_its_stream_tells_the_story() -> None:
    svc, [tid] = with_tasks(9.4)
    taken = update_task(svc.intake, tid, {"state": "in_progress", "owner": "王芳"}, actor="key:cs1")
    assert (taken["state"], taken["owner"]) == ("in_progress", "王芳")
    done = update_task(svc.intake, tid, {"state": "done", "comment": "已致电客户，同意补发"}, actor="key:cs1")
    assert done["state"] == "done" and done["comments"][-1]["text"] == "已致电客户，同意补发"
    types = [e.type for e in svc.store.read_stream(task_stream(tid))]
    assert types == ["task.created", "task.updated", "task.updated"]
    PlaybookRunner(svc).drain()
    [in_view] = list_tasks(svc.views, svc.clock.now(), state="done")
    assert in_view == read_task(svc.intake, tid)


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"state": "finished"}, "state", "enum"),
        ({"owner": ""}, "owner", "format"),
        ({"comment": "x" * 2001}, "comment", "format"),
        ({"priority": "low"}, "priority", "unknown_field"),
        ({}, "state", "required"),
    ],
)
def test_a_bad_change_is_refused_naming_the_field(body: dict[str, object], field: str, rule: str) -> None:
    svc, [tid] = with_tasks(4.2)
    with pytest.raises(ValidationFailed) as info:
        update_task(svc.intake, tid, body, actor="key:ops1")
    assert (field, rule) in [(p.field, p.rule) for p in info.value.problems]
    assert [e.type for e in svc.store.read_stream(task_stream(tid))] == ["task.created"]


def test_a_closed_task_takes_comments_but_no_new_state_or_owner() -> None:
    svc, [tid] = with_tasks(4.2)
    update_task(svc.intake, tid, {"state": "cancelled", "comment": "driver called in: GPS unit failed"}, actor="k")
    with pytest.raises(ValidationFailed) as info:
        update_task(svc.intake, tid, {"state": "in_progress"}, actor="k")
    assert info.value.problems[0].rule == "transition" and "cancelled" in info.value.problems[0].message
    with pytest.raises(ValidationFailed):
        update_task(svc.intake, tid, {"owner": "李雷"}, actor="k")
    assert len(update_task(svc.intake, tid, {"comment": "carrier confirmed"}, actor="k")["comments"]) == 2


def test_an_unknown_task_is_not_found() -> None:
    svc, _ = with_tasks()
    for tid in ("T0000000000000000", "../../etc", ""):
        with pytest.raises(NotFound):
            update_task(svc.intake, tid, {"state": "done"}, actor="k")


def test_tasks_past_their_due_time_are_overdue_until_closed() -> None:
    svc, tids = with_tasks(9.4, 4.2)  # a cs task due in 30 minutes, an ops task due in an hour
    now = svc.clock.now()
    assert not any(t["overdue"] for t in list_tasks(svc.views, now))
    assert isinstance(svc.clock, ManualClock)
    svc.clock.advance(timedelta(minutes=45))
    late = list_tasks(svc.views, svc.clock.now(), overdue=True)
    assert [t["team"] for t in late] == ["cs"]
    update_task(svc.intake, late[0]["task_id"], {"state": "done"}, actor="k")
    PlaybookRunner(svc).drain()
    assert list_tasks(svc.views, svc.clock.now(), overdue=True) == []
    assert {t["team"] for t in list_tasks(svc.views, svc.clock.now(), state="open")} == {"ops"}
    assert len(tids) == 2


def test_a_team_s_list_holds_only_its_own_tasks_earliest_due_first() -> None:
    svc, _ = with_tasks(9.4, 4.2, 11.0, 3.0)
    cs = list_tasks(svc.views, svc.clock.now(), team="cs")
    assert [t["team"] for t in cs] == ["cs", "cs"]
    assert [t["due"] for t in cs] == sorted(t["due"] for t in cs)
    assert len(list_tasks(svc.views, svc.clock.now(), team="ops")) == 2
    assert list_tasks(svc.views, svc.clock.now(), team="c") == []  # a prefix of a team is not that team
