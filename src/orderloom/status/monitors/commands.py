"""`orderloom monitor ...`: run the monitor engine, scan once, list findings and monitors, check a file, root causes."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)


def _services(at: datetime | None = None) -> Any:
    from orderloom.bootstrap import build_services
    from orderloom.core.clock import ManualClock
    from orderloom.core.settings import Settings

    try:
        # A scan "as of" a time runs on a clock stopped there, so intake judges its findings' times by it too.
        return build_services(Settings.from_env(), clock=ManualClock(at) if at else None)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


def _at(text: str | None) -> datetime | None:
    from orderloom.core.envelope import parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (e.g. 2026-05-01T14:00:00+08:00)", param_hint="--at") from None


def _engine(svc: Any, interval: float = 30.0) -> Any:
    from orderloom.status.monitors.engine import MonitorEngine

    try:
        return MonitorEngine(svc, interval_s=interval)
    except OrderloomError as exc:
        svc.close()
        raise click.ClickException(str(exc)) from None


def _finding_line(f: dict[str, Any]) -> str:
    ev = f.get("evidence") or {}
    what = ev.get("event_type") or ev.get("step") or ""
    cold = " [cyan]cold chain[/]" if ev.get("cold_chain") else ""
    return f"{f['time'] if 'time' in f else f.get('opened_at')}  {f['finding_id']}  {what}{cold}"


@click.group("monitor")
def monitor() -> None:
    """Order monitors: stalls, missing steps, delivery-window risk and signal rules (ORDERLOOM_MONITORS adds files)."""


@monitor.command("run")
@click.option("--interval", default=30.0, show_default=True, help="seconds between scans for due stalls and SLA risk")
def run(interval: float) -> None:
    """Follow the log, open and resolve findings, and scan every --interval seconds until stopped."""
    svc = _services()
    engine = _engine(svc, interval)

    async def follow() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await engine.run(stop)

    err.print(f"monitors: {len(engine.monitors)} in force, following from position {engine.checkpoint()}")
    try:
        first = engine.scan()
        err.print(f"first scan: {len(first.opened)} findings opened, {len(first.resolved)} resolved")
        asyncio.run(follow())
    finally:
        svc.close()


@monitor.command("scan")
@click.option("--at", "at_text", default=None, help="judge as of this time (RFC 3339); default now")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a summary")
def scan(at_text: str | None, as_json: bool) -> None:
    """One pass: fold the log, open what is due, print the findings opened and resolved."""
    at = _at(at_text)
    svc = _services(at)
    engine = _engine(svc)
    try:
        report = engine.scan(at)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    if as_json:
        print(orjson.dumps({"opened": report.opened, "resolved": report.resolved, "read": report.read}).decode())
        return
    out.print(
        f"{report.read} log events read; {len(report.opened)} findings opened, {len(report.resolved)} resolved;"
        f" at position {report.position}"
    )
    for f in report.opened:
        out.print(f"[red]opened[/]    {_finding_line(f)}")
    for f in report.resolved:
        by = f["resolved_by"]
        out.print(f"[green]resolved[/]  {f['time']}  {f['finding_id']}  by {by['type']} {by['id']}")


@monitor.command("findings")
@click.option("--open", "only_open", is_flag=True, help="only findings still open")
@click.option("--resolved", "only_resolved", is_flag=True, help="only resolved findings")
@click.option("--monitor", "monitor_id", default=None, help="only this monitor, e.g. linehaul_stall")
@click.option("--oid", default=None, help="only this order")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a summary")
def findings(
    *, only_open: bool, only_resolved: bool, monitor_id: str | None, oid: str | None, limit: int, as_json: bool
) -> None:
    """Findings the engine has recorded, newest first."""
    from orderloom.status.monitors.views import list_findings

    if only_open and only_resolved:
        raise click.UsageError("choose --open or --resolved, not both")
    state = "open" if only_open else "resolved" if only_resolved else None
    svc = _services()
    try:
        found = list_findings(svc.views, state=state, monitor=monitor_id, oid=oid, limit=limit)
    finally:
        svc.close()
    if as_json:
        print(orjson.dumps(found).decode())
        return
    if not found:
        out.print("no findings" + (" open" if only_open else ""))
    for f in found:
        mark = "[red]open[/]    " if f["state"] == "open" else "[green]resolved[/]"
        out.print(f"{mark}  {_finding_line(f)}  {f.get('label', {}).get('en', '')}")


@monitor.command("list")
def list_monitors() -> None:
    """Every monitor in force and where it is defined."""
    svc = _services()
    try:
        engine = _engine(svc)
    finally:
        svc.close()
    for m in engine.monitors:
        out.print(f"[bold]{m.id}[/] ({m.kind}, {m.severity}) {m.label['en']}  [dim]{m.origin}[/]")


@monitor.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Check a monitor file against the dictionary and the shipped monitors."""
    from orderloom.dictionary import load_dictionary
    from orderloom.status.monitors.config import check_file

    try:
        found = check_file(load_dictionary(), file)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    out.print(f"{file}: OK ({len(found)} monitors in force with it)")


@monitor.command("root-causes")
@click.argument("monitor_id")
@click.option("--min-support", default=30, show_default=True, help="orders a group needs")
@click.option("--alpha", default=0.01, show_default=True, help="significance after correction")
@click.option("--correction", type=click.Choice(["holm", "bh"]), default="holm", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of sentences")
def root_causes_cmd(monitor_id: str, min_support: int, alpha: float, correction: str, as_json: bool) -> None:
    """What the orders with this monitor's findings have in common (device, firmware, site, carrier, operator)."""
    from orderloom.status.monitors.rootcause import Settings, profiles_from_store, root_causes

    svc = _services()
    try:
        engine = _engine(svc)
        m = engine.monitors.get(monitor_id)
        if m is None:
            raise click.ClickException(f"there is no monitor {monitor_id}; `orderloom monitor list` shows them")
        report = root_causes(
            profiles_from_store(svc.store, svc.dictionary, m),
            m,
            svc.dictionary,
            Settings(min_support=min_support, alpha=alpha, correction=correction),
        )
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    doc = report.document()
    if as_json:
        print(orjson.dumps(doc).decode())
        return
    out.print(
        f"{monitor_id}: {doc['with_finding']} of {doc['orders']} orders ({doc['baseline_rate']:.2%});"
        f" {doc['groups_tested']} groups tested"
    )
    if not doc["causes"]:
        out.print("nothing stands out significantly")
    for i, c in enumerate(doc["causes"], start=1):
        out.print(f"{i}. {c['sentence']}")
    for g in doc["explained"][:5]:
        out.print(f"   [dim]also elevated, explained by cause: {g['sentence']}[/]")


@monitor.command("fieldops")
@click.option("--orders", default=6000, show_default=True, help="orders to generate")
@click.option("--seed", default=7, show_default=True)
@click.option("--no-plant", is_flag=True, help="no faulty firmware: every PDA drops scans at the base rate")
def fieldops(orders: int, seed: int, no_plant: bool) -> None:
    """Write simulated forward-warehouse orders (one PDA firmware drops check scans) into the store, for a demo."""
    from orderloom.sim.fieldops import FieldOpsPlan, generate

    svc = _services()
    try:
        plan = FieldOpsPlan(orders=orders, seed=seed)
        result = generate(svc, FieldOpsPlan(orders=orders, seed=seed, plant=None) if no_plant else plan)
    except (OrderloomError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    out.print(orjson.dumps(result.as_dict()).decode())
    out.print("now run `orderloom monitor scan`, then `orderloom monitor root-causes forward_wh_check_missing`")
