"""Monitors as configuration: the dictionary's timers, the shipped file, user files, and errors that say where."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from orderloom.cli import main
from orderloom.status.monitors import MonitorConfigError, load_monitors
from tests.unit._support import shipped


def _file(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(*files: Path) -> list[str]:
    with pytest.raises(MonitorConfigError) as caught:
        load_monitors(shipped(), files)
    return caught.value.problems


def test_every_dictionary_timer_is_a_stall_monitor_and_the_shipped_file_adds_the_other_kinds() -> None:
    monitors = load_monitors(shipped())
    stall = monitors.get("linehaul_stall")
    assert stall is not None and stall.kind == "stall"
    assert (stall.when, stall.within) == (("linehaul.in_transit",), timedelta(hours=4))
    assert stall.expect == ("linehaul.in_transit", "linehaul.arrived")
    assert "timers/linehaul_stall" in stall.origin
    timers = {tm.id for t in shipped().types.values() for tm in t.timers}
    assert timers <= {m.id for m in monitors.of_kind("stall")}
    kinds = {m.id: m.kind for m in monitors}
    assert kinds["forward_wh_check_missing"] == "missing_step"
    assert kinds["delivery_window_risk"] == "sla_risk"
    assert kinds["coldchain_too_warm"] == "signal_rule"


def test_a_user_file_adds_changes_and_switches_off_monitors(tmp_path: Path) -> None:
    mine = _file(
        tmp_path,
        """
monitors:
  linehaul_stall: {within: 2h, severity: critical}
  pickup_overdue: {enabled: false}
  pack_overdue:
    kind: stall
    label: {zh: 拣货后未打包, en: Not packed after picking}
    when: pick.completed
    within: 45m
    expect: [pack.completed]
""",
    )
    monitors = load_monitors(shipped(), [mine])
    stall = monitors.get("linehaul_stall")
    assert stall is not None and stall.within == timedelta(hours=2) and stall.severity == "critical"
    assert stall.expect == ("linehaul.in_transit", "linehaul.arrived")  # what was not overridden stays
    assert monitors.get("pickup_overdue") is None
    added = monitors.get("pack_overdue")
    assert added is not None and added.within == timedelta(minutes=45) and str(mine) in added.origin


def test_every_mistake_is_reported_at_once_with_file_monitor_and_field(tmp_path: Path) -> None:
    mine = _file(
        tmp_path,
        """
monitors:
  bad_stall:
    kind: stall
    label: {zh: 坏, en: Bad}
    when: linehaul.teleported
    within: soon
    expect: [linehaul.arrived]
    colour: red
  bad_rule:
    kind: signal_rule
    label: {en: Only English}
    on: coldchain.temperature_recorded
    value: temperature_c
    above: limit_c
  bad_sla:
    kind: sla_risk
    label: {zh: 风险, en: Risk}
    deadline: [{event: order.placed, field: window.finish}]
    done: [delivery.delivered]
    threshold: 1.5
  linehaul_stall: {kind: missing_step}
""",
    )
    problems = _problems(mine)
    where = f"{mine}: monitors/"

    def has(fragment: str, *words: str) -> bool:
        return any(p.startswith(where + fragment) and all(w in p for w in words) for p in problems)

    assert has("bad_stall/when", "linehaul.teleported", "not an event type")
    assert has("bad_stall/within", "soon", "duration like 30m")
    assert has("bad_stall/colour", "not a setting")
    assert has("bad_rule/label", "both languages")
    assert has("bad_rule/on", "YAML reads a bare `on:`", "when:")
    assert has("bad_rule/when", "is required")
    assert has("bad_sla/deadline/0/field", "window.finish")
    assert has("bad_sla/threshold", "between 0 and 1")
    assert has("linehaul_stall/kind", "already a stall monitor")


def test_a_missing_or_malformed_file_is_named(tmp_path: Path) -> None:
    assert _problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: file not found"]
    listed = _file(tmp_path, "- just\n- a list\n", "list.yaml")
    [problem] = _problems(listed)
    assert problem.startswith(str(listed)) and "`monitors:`" in problem


def test_the_cli_checks_a_monitor_file(tmp_path: Path) -> None:
    good = _file(tmp_path, "monitors:\n  linehaul_stall: {within: 3h}\n", "good.yaml")
    bad = _file(tmp_path, "monitors:\n  linehaul_stall: {within: 3 hours}\n", "bad.yaml")
    ok = CliRunner().invoke(main, ["monitor", "check", str(good)])
    assert ok.exit_code == 0 and "OK" in ok.output
    failed = CliRunner().invoke(main, ["monitor", "check", str(bad)])
    assert failed.exit_code != 0 and "monitors/linehaul_stall/within" in failed.output
