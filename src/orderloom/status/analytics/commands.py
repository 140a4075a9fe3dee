"""`orderloom analytics ...`: dwell percentiles in the terminal and exports for BI tools."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@click.group("analytics")
def analytics() -> None:
    """Dwell times over the log (DuckDB in memory, loaded from the event store)."""


@analytics.command("dwell")
@click.option("--by", type=click.Choice(["hour", "day"]), default="hour", show_default=True)
@click.option("--metric", type=click.Choice(["p50", "p90", "p99"]), default="p90", show_default=True)
@click.option("--stage", default=None, help="only steps in this dictionary stage, e.g. warehouse")
@click.option("--node", default=None, help="only steps at this node, e.g. SH-CW-01")
@click.option("--from", "start", default=None, help="steps that started at or after (date or RFC 3339)")
@click.option("--to", "end", default=None, help="steps that started before (a date counts whole)")
@click.option("--tz", default=None, help="time zone of hours and days (default Asia/Shanghai)")
@click.option(
    "--export",
    "export",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write FILE.parquet or FILE.csv",
)
@click.option("--steps", is_flag=True, help="export one row per step instead of the aggregates")
def dwell(
    *,
    by: str,
    metric: str,
    stage: str | None,
    node: str | None,
    start: str | None,
    end: str | None,
    tz: str | None,
    export: Path | None,
    steps: bool,
) -> None:
    """Dwell percentiles per node x stage; the slowest hour or day of each; one JSON line of figures at the end."""
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings
    from orderloom.status.analytics.duck import DuckDBDwellAnalytics
    from orderloom.status.analytics.query import DEFAULT_TZ, parse_dwell_query

    fmt = None
    if export is not None:
        fmt = export.suffix.lower().lstrip(".")
        if fmt not in ("parquet", "csv"):
            raise click.BadParameter("the file name must end in .parquet or .csv", param_hint="--export")
    try:
        svc = build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    tz = tz or DEFAULT_TZ
    model = DuckDBDwellAnalytics(svc.store, svc.dictionary, tz=tz)
    try:
        query = parse_dwell_query(
            svc.dictionary, by=by, metric=metric, stage=stage, node=node, start=start, end=end, tz=tz
        )
        loaded = model.refresh()
        began = time.perf_counter()
        cells = model.dwell(query)
        query_ms = (time.perf_counter() - began) * 1000
        exported = model.export(query, export, fmt=fmt, rows="steps" if steps else "dwell") if export and fmt else 0
        summary = model.summary()
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        model.close()
        svc.close()
    _print(cells, by, metric, svc.dictionary.stages)
    if export is not None:
        err.print(f"wrote {exported:,} rows to {export}")
    figures: dict[str, Any] = {
        **summary,
        "load_s": round(loaded.seconds, 3),
        "query_ms": round(query_ms, 2),
        "rows": sum(1 for c in cells if c.bucket is None),
        "export": str(export) if export else None,
        "exported_rows": exported,
    }
    click.echo(json.dumps(figures))


def _print(cells: list[Any], by: str, metric: str, stages: Any) -> None:
    table = Table("node", "stage", "steps", "p50", "p90", "p99", f"slowest {by} ({metric})")
    worst: dict[tuple[Any, str], Any] = {}
    for c in cells:
        if c.bucket is None:
            continue
        key = (c.node, c.stage)
        if key not in worst or getattr(c, f"{metric}_s") > getattr(worst[key], f"{metric}_s"):
            worst[key] = c
    for c in cells:
        if c.bucket is not None:
            continue
        w = worst.get((c.node, c.stage))
        stage = stages.get(c.stage)
        table.add_row(
            c.node or "(no node)",
            stage.label.get("en", c.stage) if stage else c.stage,
            f"{c.count:,}",
            _human(c.p50_s),
            _human(c.p90_s),
            _human(c.p99_s),
            f"{w.bucket}: {_human(getattr(w, f'{metric}_s'))}" if w else "",
        )
    out.print(table)
