"""The CLI commands: `orderloom import olist DIR` and `orderloom report olist [DIR]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)
SHOWN = 20


def _services() -> Any:
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings

    try:
        return build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


def _load(folder: Path, limit: int | None) -> Any:
    from orderloom.olist.source import load, missing_files

    missing = missing_files(folder)
    if missing:
        raise click.ClickException(
            f"{folder} is not the Olist sample: it lacks {', '.join(missing)} (download the Olist Brazilian "
            "e-commerce CSV files into one folder)"
        )
    try:
        return load(folder, limit)
    except (OrderloomError, ValueError, KeyError) as exc:
        raise click.ClickException(f"{folder}: cannot read the Olist files: {exc}") from None


def _replay(data: Any, client: Any, key: str, batch: int) -> Any:
    from orderloom.olist.replay import ReplayFailed, replay

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    ) as bar:
        task = bar.add_task("replaying Olist orders", total=len(data.orders))
        try:
            return replay(data, client, key, batch=batch, progress=lambda n: bar.advance(task, n))
        except ReplayFailed as exc:
            raise click.ClickException(str(exc)) from None


def _run_replay(data: Any, *, url: str | None, key: str | None, batch: int) -> Any:
    from orderloom.olist.clients import in_process_api, remote_api

    if url:
        if not key:
            raise click.ClickException("--url needs --key (an ops or admin API key), or set ORDERLOOM_API_KEY")
        with remote_api(url) as client:
            return _replay(data, client, key, batch)
    svc = _services()
    try:
        with in_process_api(svc) as (client, local_key):
            return _replay(data, client, local_key, batch)
    finally:
        svc.close()


def _print_counts(counts: Any) -> None:
    for p in counts.problems[:SHOWN]:
        err.print(p, markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"{counts.orders:,} orders, {counts.events:,} events: {counts.accepted:,} accepted, "
        f"{counts.duplicate:,} already in the log, {counts.rejected:,} rejected "
        f"({counts.events / max(counts.seconds, 1e-9):,.0f} events/s through the API)"
    )


_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_BATCH = click.option(
    "--batch", default=500, show_default=True, type=click.IntRange(1, 1000), help="events per API request"
)
_LIMIT = click.option("--limit", default=None, type=click.IntRange(1), help="only the first N orders by purchase time")


@click.command("olist")
@click.argument("folder", metavar="DIR", type=_DIR)
@click.option("--url", default=None, help="a running Orderloom API (default: the app in this process, same store)")
@click.option("--key", default=None, envvar="ORDERLOOM_API_KEY", help="API key with the write right (with --url)")
@_BATCH
@_LIMIT
def import_olist(folder: Path, url: str | None, key: str | None, batch: int, limit: int | None) -> None:
    """Replay the Olist e-commerce sample in DIR as atomic events through POST /v1/events (idempotent)."""
    data = _load(folder, limit)
    counts = _run_replay(data, url=url, key=key, batch=batch)
    _print_counts(counts)
    print(orjson.dumps(counts.as_dict()).decode())
    raise SystemExit(1 if counts.rejected else 0)


@click.group("report")
def report_group() -> None:
    """Reports computed from the log."""


@report_group.command("olist")
@click.argument("folder", metavar="[DIR]", required=False, type=_DIR)
@_BATCH
@_LIMIT
@click.option("--dwell/--no-dwell", default=True, show_default=True, help="also run the dwell analytics on the log")
def report_olist(folder: Path | None, batch: int, limit: int | None, dwell: bool) -> None:
    """Lead times, late rates by distance and the late-delivery risk model, read back from the log.

    With DIR, the sample is replayed first (nothing new is written when it is already in the log).
    """
    from orderloom.olist import report

    if folder is not None:
        _print_counts(_run_replay(_load(folder, limit), url=None, key=None, batch=batch))
    svc = _services()
    try:
        rep = report.build(svc.store, svc.dictionary, dwell=dwell)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    if not rep["orders"]:
        raise click.ClickException(
            "the log holds no Olist orders: run `orderloom import olist DIR` first, or pass DIR to this command"
        )
    report.render(rep, out)
    print(orjson.dumps(report.summary(rep)).decode())
