"""The backlog model, judged on a held-out stretch of a small twin run, beats the naive rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orderloom.cli import main
from orderloom.core.errors import ValidationFailed
from orderloom.status.forecast.scenario import SCENARIO_YAML, load_setup


def small_scenario(tmp_path: Path) -> Path:
    """The shipped forecast scenario cut to three sorting centres and 16 days, 5 of them held out."""
    raw = yaml.safe_load(SCENARIO_YAML.read_text(encoding="utf-8"))
    raw["network"] = str(SCENARIO_YAML.parent / "network.yaml")
    raw["days"] = 16
    keep = {"广州": raw["arrivals"]["cities"]["广州"], "成都": raw["arrivals"]["cities"]["成都"]}
    keep["西安"] = raw["arrivals"]["cities"]["西安"]
    raw["arrivals"]["per_hour"] *= sum(keep.values()) / sum(raw["arrivals"]["cities"].values())
    raw["arrivals"]["cities"] = keep
    raw["forecast"]["held_out_days"] = 5
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_model_beats_the_last_value_rule_on_held_out_hours(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["forecast", "eval", "--scenario", str(small_scenario(tmp_path)), "--seed", "7"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["actual_alerts"] > 10
    assert figures["model_f1"] > figures["last_value_f1"]
    assert figures["model_f1"] > figures["same_hour_yesterday_f1"]
    assert "precision" in result.output


def test_the_same_seed_draws_the_same_incidents_and_another_seed_others() -> None:
    a, b, c = load_setup(seed=3, days=21), load_setup(seed=3, days=21), load_setup(seed=4, days=21)
    assert a.scenario.disruptions == b.scenario.disruptions
    assert a.scenario.peaks == b.scenario.peaks
    assert a.scenario.disruptions != c.scenario.disruptions
    assert any(d.announce_hours == 0 for d in a.scenario.disruptions)  # faults are told when they happen
    assert all(p.announce_hours and p.announce_hours >= 24 for p in a.scenario.peaks)  # promotions days ahead


def test_a_bad_forecast_section_names_the_field(tmp_path: Path) -> None:
    raw = yaml.safe_load(SCENARIO_YAML.read_text(encoding="utf-8"))
    raw["network"] = str(SCENARIO_YAML.parent / "network.yaml")
    raw["forecast"]["faults"]["factor"] = [0.9, 0.2]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_setup(path)
    assert "forecast.faults.factor" in str(err.value)
