"""`orderloom forecast ...`: judge the backlog forecast on the twin, train a model file, score the log's last hour."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)

_SCENARIO = click.option(
    "--scenario",
    "scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="forecast scenario YAML (default: the shipped six sorting centres)",
)
_SEED = click.option("--seed", type=click.IntRange(0, 2**31), default=None, help="another seed for the scenario")


def _setup(scenario: Path | None, seed: int | None) -> Any:
    from orderloom.status.forecast.scenario import load_setup

    try:
        return load_setup(scenario, seed=seed)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("forecast")
def forecast() -> None:
    """Sorting-centre backlog forecast 6 hours ahead: evaluate on the twin, train, and raise alerts from the log."""


@forecast.command("eval")
@_SCENARIO
@_SEED
def eval_cmd(scenario: Path | None, seed: int | None) -> None:
    """Simulate the scenario, train on its first weeks and print alert precision/recall on the held-out end."""
    from orderloom.status.forecast.evaluate import BASELINES, evaluate

    setup = _setup(scenario, seed)
    err.print(f"simulating {setup.scenario.days} days of {setup.scenario.name} (seed {setup.scenario.seed})...")
    try:
        ev = evaluate(setup)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    for line in ev.lines():
        print(line)
    print()
    for name, meaning in BASELINES.items():
        print(f"{name}: {meaning}")
    print(json.dumps(ev.figures()))


@forecast.command("train")
@_SCENARIO
@_SEED
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True, help="model file")
def train_cmd(scenario: Path | None, seed: int | None, out_path: Path) -> None:
    """Train a model on the whole simulated run and write it to --out (for `forecast run --model`)."""
    from orderloom.status.forecast.evaluate import train
    from orderloom.status.forecast.model import save

    setup = _setup(scenario, seed)
    err.print(f"simulating {setup.scenario.days} days of {setup.scenario.name} (seed {setup.scenario.seed})...")
    try:
        model = train(setup)
        save(model, out_path)
    except (OrderloomError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    out.print(f"model {model.version} written to {out_path}")


@forecast.command("run")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@_SCENARIO
@click.option("--at", "at_text", default=None, help="score the hour ending at this time (RFC 3339); default now")
def run_cmd(model_path: Path | None, scenario: Path | None, at_text: str | None) -> None:
    """Fold the log, forecast every sorting centre of the scenario's network, append alerts and all-clears."""
    from orderloom.bootstrap import build_services
    from orderloom.core.clock import ManualClock
    from orderloom.core.settings import Settings
    from orderloom.status.forecast.alerts import ALERT, score_hour
    from orderloom.status.forecast.evaluate import train
    from orderloom.status.forecast.model import load

    at = _at(at_text)
    setup = _setup(scenario, None)
    try:
        if model_path is not None:
            model = load(model_path)
        else:
            err.print("no --model: training one on the scenario first (save one with `forecast train --out`)")
            model = train(setup)
        svc = build_services(Settings.from_env(), clock=ManualClock(at) if at else None)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        scored = score_hour(svc.intake, model, setup.scenario.network, at=at)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    if scored.at is None:
        out.print("the log has no routing or outbound-scan events yet: nothing to forecast")
        return
    out.print(f"forecast made at {scored.at:%Y-%m-%d %H:%M} UTC with {model.version}, {model.horizon} h ahead:")
    for f in scored.forecasts:
        mark = "[red]over[/]" if f.over(model.threshold_hours) else "ok"
        out.print(f"  {f.node:8} now {f.current_hours:5.1f} h  in {model.horizon} h {f.predicted_hours:5.1f} h  {mark}")
    for r in scored.results:
        d = r.as_dict()
        out.print(f"  {d.get('status')}: {d.get('id')}")
    if not scored.results:
        out.print(f"  no {ALERT} raised or cleared this hour")


def _at(text: str | None) -> datetime | None:
    from orderloom.core.envelope import parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (e.g. 2026-02-10T14:00:00+08:00)", param_hint="--at") from None
