"""`orderloom playbook ...`: run the playbook runner, list recent runs with their steps, install the shipped ones."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click
import orjson
from rich.console import Console

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)


def _services() -> Any:
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings

    try:
        return build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("playbook")
def playbook() -> None:
    """Playbooks: versioned policies that act on findings (publish them with `orderloom policy`)."""


@playbook.command("run")
@click.option("--once", is_flag=True, help="handle what is in the log now, then exit")
def run(once: bool) -> None:
    """Follow the log and run the published playbooks their trigger events start, until stopped."""
    from orderloom.playbook.runner import PlaybookRunner

    svc = _services()
    runner = PlaybookRunner(svc, on_run=lambda r: err.print(f"{r.playbook} v{r.version} {r.run}: {r.outcome}"))
    try:
        if once:
            read = runner.drain()
            out.print(
                f"{read} events read, {runner.runs} runs ({runner.failed} failed); at position {runner.checkpoint()}"
            )
            return

        async def follow() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await runner.run(stop)

        err.print(
            f"playbook runner: following {svc.settings.db_url.split('@')[-1]} from position {runner.checkpoint()}"
        )
        asyncio.run(follow())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()


@playbook.command("runs")
@click.option("--oid", default=None, help="the runs one order's events started (read from the order itself)")
@click.option("--playbook", "name", default=None, help="only this playbook")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a summary")
def runs(oid: str | None, name: str | None, limit: int, as_json: bool) -> None:
    """Recent playbook runs with their steps (newest first), or one order's runs."""
    from orderloom.playbook.runs import recent_runs, runs_on_stream

    svc = _services()
    try:
        found = (
            [r for r in runs_on_stream(svc.store, oid) if name is None or r["playbook"] == name][-limit:]
            if oid
            else recent_runs(svc.views, limit, name)
        )
    finally:
        svc.close()
    if as_json:
        print(orjson.dumps(found).decode())
        return
    if not found:
        out.print("no playbook runs yet" + (f" for {oid}" if oid else ""))
    for r in found:
        out.print(
            f"[bold]{r['playbook']} v{r['version']}[/] {r['run']} on {r['stream']}: {r['outcome']}"
            + (f" — {r['error']}" if r.get("error") else "")
        )
        for s in r["steps"]:
            extra = f" → {s['branch']}" if s.get("branch") else ""
            extra += f" ({s['reason']})" if s.get("reason") else ""
            out.print(f"    {s['step']:<20} {s['type']:<13} {s['status']}{extra}")


@playbook.command("install")
def install() -> None:
    """Save and publish the shipped playbooks that are not there yet (e.g. coldchain_stall)."""
    from orderloom.playbook.install import install_default_playbooks

    svc = _services()
    try:
        names = install_default_playbooks(svc)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    out.print(f"installed: {', '.join(names)}" if names else "the shipped playbooks are already installed")
