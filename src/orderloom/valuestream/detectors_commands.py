"""`orderloom detectors ...` and `orderloom rootcause ...`: run, list and explain detectors; generate a demo shop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
import orjson
from rich.console import Console

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)


def services() -> Any:
    """The services named by the environment (ORDERLOOM_DB_URL and friends)."""
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings

    try:
        return build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


def moment(text: str | None) -> datetime | None:
    """An RFC 3339 option value as a time (None: now)."""
    if text is None:
        return None
    from orderloom.core.envelope import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("detectors")
def detectors() -> None:
    """Value-stream detectors: published `detector` policies over orders woven with their departments' facts."""


@detectors.command("run")
@click.option("--at", "at", default=None, help="evaluate as of this time (RFC 3339; default now)")
def run_cmd(at: str | None) -> None:
    """Evaluate every published detector; record a firing for each that fires (once per schedule period)."""
    from orderloom.valuestream.detectors import run_detectors

    svc = services()
    try:
        results = run_detectors(svc, moment(at))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    if not results:
        out.print("no published detectors; save and publish one with `orderloom policy save` / `policy publish`")
    for r in results:
        c, k = r["cohort"], r["comparison"]
        verdict = r.get("status", "quiet") if r["fires"] else f"quiet: {r['why_not']}"
        out.print(
            f"[bold]{r['detector']}[/bold] v{r['version']}: cohort {c['events']}/{c['size']} ({_pct(c['rate'])}) "
            f"vs {k['events']}/{k['size']} ({_pct(k['rate'])}) -> {verdict}"
        )
    click.echo(orjson.dumps({"detectors": results}).decode())


@detectors.command("schedule")
@click.option(
    "--every", type=float, default=None, help="seconds between ticks (default ORDERLOOM_DETECTORS_EVERY_S, 900)"
)
@click.option("--once", is_flag=True, help="one tick, then exit (for cron)")
def schedule_cmd(every: float | None, once: bool) -> None:
    """Run the due detectors (once per cohort and period) and score customer health, every --every seconds."""
    import asyncio
    import signal

    from orderloom.valuestream.schedule import DetectorScheduler

    svc = services()
    scheduler = DetectorScheduler.from_env(svc)
    if every is not None:
        if every <= 0:
            svc.close()
            raise click.BadParameter("must be a number of seconds above 0", param_hint="--every")
        scheduler.interval_s = every

    async def follow() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await scheduler.run(stop)

    try:
        if once:
            click.echo(orjson.dumps(scheduler.tick().as_dict()).decode())
        else:
            err.print(f"detectors: a tick every {scheduler.interval_s:g} s until stopped")
            asyncio.run(follow())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


@detectors.command("list")
def list_cmd() -> None:
    """Published detectors with their latest firings."""
    from orderloom.valuestream.detectors import list_detectors

    svc = services()
    try:
        found = list_detectors(svc)
    finally:
        svc.close()
    for d in found:
        label = d["label"].get("en") or d["label"].get("zh") or ""
        out.print(f"[bold]{d['name']}[/bold] v{d['version']}  {label}")
        for f in d["firings"]:
            out.print(f"  fired {f['time'][:19]}  ratio {f['ratio']}  cohort {_pct(f['cohort']['rate'])}")
    if not found:
        out.print("no published detectors")


@detectors.command("generate")
@click.option("--orders", default=3000, show_default=True, help="consumer orders to generate")
@click.option("--days", default=60, show_default=True, help="over this many days before now")
@click.option("--seed", default=7, show_default=True)
@click.option("--no-plant", is_flag=True, help="no planted cause: every product returns at its base rate")
@click.option("--install", is_flag=True, help="also save and publish the shipped headphone_returns detector")
def generate_cmd(orders: int, days: int, seed: int, no_plant: bool, install: bool) -> None:
    """Write a seeded shop into the log: orders, marketing/sales/product/service facts, deliveries, returns."""
    from orderloom.valuestream.generator import Plan, generate, write

    svc = services()
    try:
        made = generate(Plan(orders=orders, days=days, seed=seed, plant=not no_plant), svc.clock.now())
        written = write(svc.intake, made)
        if install:
            _install(svc)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    out.print(f"{len(made)} orders, {written} new events" + (" (no planted cause)" if no_plant else ""))


def _install(svc: Any) -> None:
    from orderloom.playbook.install import install_default_playbooks
    from orderloom.policy import load_example
    from orderloom.policy.log import PolicyLog

    log = PolicyLog(svc.intake)
    saved = log.save(load_example("headphone_returns"), actor="cli")
    if log.state(saved.name).stable != saved.version:
        log.publish(saved.name, saved.version, actor="cli", reason="shipped example")
    out.print(f"{saved.name} v{saved.version} published")
    # The shipped detector_evidence playbook gives every department its task when a detector fires.
    for name in install_default_playbooks(svc):
        out.print(f"{name} published")


@click.command("rootcause")
@click.argument("detector")
@click.option("--at", "at", default=None, help="the window ends at this time (RFC 3339; default now)")
def rootcause(detector: str, at: str | None) -> None:
    """Which attributes (up to 3 combined) explain DETECTOR's cohort, and when its events came."""
    from orderloom.valuestream.detectors import root_cause

    svc = services()
    try:
        found = root_cause(svc, detector, moment(at))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    for line in found["sentences"]:
        out.print(line, highlight=False)
    click.echo(orjson.dumps(found).decode())
