"""The connectors' CLI commands: `import csv|parquet`, `reconcile`, `webhooks list|deliveries|replay|dispatch`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from orderloom.core.errors import OrderloomError
from orderloom.valuestream.fact_sink import contract_fact_sink

out = Console()
err = Console(stderr=True)
SHOWN_ERRORS = 200


def _services() -> Any:
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings

    try:
        return build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


def _sinks(svc: Any) -> Any:
    from orderloom.connectors.sinks import Sinks
    from orderloom.routing.network import CHINA_YAML, load_network
    from orderloom.routing.signals import load_registry

    return Sinks(
        svc.intake,
        registry=load_registry(),
        network=load_network(svc.settings.network_path or CHINA_YAML),
        extra={"fact": contract_fact_sink(svc.intake, svc.dictionary)},
    )


def _import(file: Path, fmt: str, *, kind: str, mapping: Path | None, batch: int, errors_to: Path | None) -> None:
    from orderloom.connectors.bulk import Importer, Report, count_rows, file_digest, read_rows, record_import
    from orderloom.connectors.spec import load_spec

    svc = _services()
    try:
        spec = load_spec(mapping) if mapping else None
        total = count_rows(file, fmt)
        names, rows = read_rows(file, fmt)
        report = Report(str(file), kind)
        importer = Importer(_sinks(svc), kind, actor="cli", batch=batch, spec=spec, source=f"import/{file.name}")
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
        )
        with progress:
            task = progress.add_task(f"importing {file.name} ({kind})", total=max(total, 1))
            importer.run(names, rows, report, progress=lambda n: progress.advance(task, n))
        record_import(importer.sinks, report, file_digest(file), actor="cli")
    except OrderloomError as exc:
        for p in getattr(exc, "problems", [])[:SHOWN_ERRORS]:
            err.print(f"{p.field}: {p.message} [{p.rule}]" if hasattr(p, "field") else str(p))
        raise click.ClickException(str(exc).splitlines()[0]) from None
    finally:
        svc.close()
    for e in report.errors[:SHOWN_ERRORS]:
        err.print(f"row {e.row}: {e.field}: {e.message} [{e.rule}]", markup=False, highlight=False, soft_wrap=True)
    if len(report.errors) > SHOWN_ERRORS:
        err.print(f"... and {len(report.errors) - SHOWN_ERRORS} more problems")
    if errors_to is not None:
        with errors_to.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["row", "field", "rule", "message"])
            w.writeheader()
            w.writerows(e.as_dict() for e in report.errors)
    if report.failed_batches:
        err.print(
            f"{report.failed_batches} of {report.batches} batches stored nothing because they held invalid rows; "
            "fix those rows and import the file again (stored rows come back as duplicates)"
        )
    print(orjson.dumps(report.summary()).decode())
    raise SystemExit(1 if report.rejected else 0)


def _import_options(f: Any) -> Any:
    f = click.option(
        "--errors",
        "errors_to",
        type=click.Path(dir_okay=False, path_type=Path),
        help="write every row problem to this CSV",
    )(f)
    f = click.option(
        "--batch", default=500, show_default=True, type=click.IntRange(1, 100_000), help="rows per all-or-nothing batch"
    )(f)
    f = click.option(
        "--mapping",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="a mapping spec (YAML) from columns to fields; default: column names are field paths",
    )(f)
    f = click.option(
        "--kind", required=True, type=click.Choice(["orders", "events", "signals"]), help="what each row is"
    )(f)
    return click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(f)


@click.command("csv")
@_import_options
def import_csv(file: Path, kind: str, mapping: Path | None, batch: int, errors_to: Path | None) -> None:
    """Import a CSV file (header row = field paths, or --mapping), batch by batch, all or nothing per batch."""
    _import(file, "csv", kind=kind, mapping=mapping, batch=batch, errors_to=errors_to)


@click.command("parquet")
@_import_options
def import_parquet(file: Path, kind: str, mapping: Path | None, batch: int, errors_to: Path | None) -> None:
    """Import a Parquet file (read through DuckDB), batch by batch, all or nothing per batch."""
    _import(file, "parquet", kind=kind, mapping=mapping, batch=batch, errors_to=errors_to)


@click.command("reconcile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--system", default=None, help="the ids in FILE are this system's order numbers (default: order ids)")
@click.option(
    "--states",
    "states_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML: external state -> log status(es)",
)
@click.option("--id-column", default=None, help="column with the order id or number (default: oid, order_id, ...)")
@click.option("--state-column", default=None, help="column with the external state (default: state, status)")
@click.option(
    "--missing-externally/--no-missing-externally",
    default=True,
    show_default=True,
    help="also list orders of the log that FILE lacks",
)
@click.option(
    "--placed-from", default=None, help="only orders placed at or after this time count as missing externally"
)
@click.option("--placed-to", default=None, help="only orders placed at or before this time count as missing externally")
def reconcile_cmd(
    file: Path,
    *,
    system: str | None,
    states_file: Path | None,
    id_column: str | None,
    state_column: str | None,
    missing_externally: bool,
    placed_from: str | None,
    placed_to: str | None,
) -> None:
    """Compare an external system's order states (CSV) with the log and list every mismatch."""
    from orderloom.connectors import reconcile as rec

    svc = _services()
    try:
        states = rec.load_states(states_file) if states_file else {}
        with file.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            id_col, state_col = rec.pick_columns([n for n in reader.fieldnames or [] if n], id_column, state_column)
            rows = [(n, r.get(id_col) or "", r.get(state_col) or "") for n, r in enumerate(reader, start=2)]
        options = rec.Options(system, states, missing_externally, placed_from, placed_to)
        report = rec.reconcile(svc.store, svc.dictionary, rows, options)
    except (OrderloomError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    table = Table("kind", "row", "external id", "external state", "order", "log status", "expected")
    for m in report["mismatches"][:500]:
        table.add_row(
            m["kind"],
            str(m.get("row") or ""),
            str(m.get("external_id") or ""),
            str(m.get("external_state") or ""),
            str(m.get("oid") or ""),
            str(m.get("log_status") or ""),
            ", ".join(m.get("expected") or []),
        )
    if report["mismatches"]:
        err.print(table)
    c = report["counts"]
    err.print(
        f"{report['checked']} external rows checked, {report['matched']} match; "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in c.items() if v)
    )
    print(orjson.dumps({k: report[k] for k in ("checked", "matched", "counts")}).decode())
    raise SystemExit(1 if report["mismatches"] else 0)


@click.group("webhooks")
def webhooks() -> None:
    """Outbound webhook subscriptions: list them, read delivery logs, replay dead letters."""


@webhooks.command("list")
def webhooks_list() -> None:
    """Every subscription with its state and delivery counts."""
    from orderloom.connectors import webhook_log
    from orderloom.connectors.subscriptions import Subscriptions

    svc = _services()
    try:
        lines = []
        for s in Subscriptions(svc.intake).all():
            st = webhook_log.state(svc.store, svc.views, s.id)
            lines.append(
                f"{s.id}  {s.state:7} as {s.role:8} {','.join(s.types)} -> {s.url}  "
                f"delivered {st['delivered']}, dead letters {len(st['dead'])}"
            )
    finally:
        svc.close()
    for line in lines or ["no webhook subscriptions"]:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@webhooks.command("deliveries")
@click.argument("subscription")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--dead", is_flag=True, help="show the dead letters instead")
def webhooks_deliveries(subscription: str, limit: int, dead: bool) -> None:
    """The delivery log of SUBSCRIPTION, newest first (or its dead letters)."""
    from orderloom.connectors import webhook_log
    from orderloom.connectors.subscriptions import Subscriptions

    svc = _services()
    try:
        Subscriptions(svc.intake).get(subscription)
        if dead:
            lines = [
                f"{d['at'][:19]}  {d['event_id']}  order {d['oid']}  attempts {d['attempt']}  status {d['status']}  "
                f"{d['error'][:80]}" + ("  (replay requested)" if d["replay_requested"] else "")
                for d in webhook_log.dead_letters(svc.store, svc.views, subscription)
            ]
        else:
            lines = [
                f"{e['at'][:19]}  {e['outcome']:16} {e['event_id'] or ','.join(e['event_ids'] or [])}  "
                f"order {e['oid'] or '-'}  attempt {e['attempt'] or '-'}  status {e['status'] or '-'}  "
                f"{e['ms'] or '-'} ms  {(e['error'] or '')[:80]}"
                for e in webhook_log.deliveries(svc.store, svc.views, subscription, limit)
            ]
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    for line in lines or ["nothing yet"]:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@webhooks.command("replay")
@click.argument("subscription")
@click.argument("event_ids", nargs=-1)
@click.option("--reason", default="", help="recorded in the audit log")
def webhooks_replay(subscription: str, event_ids: tuple[str, ...], reason: str) -> None:
    """Send dead letters of SUBSCRIPTION again (all, or the EVENT_IDS given)."""
    from orderloom.connectors import webhook_log
    from orderloom.connectors.subscriptions import Subscriptions

    svc = _services()
    try:
        chosen = webhook_log.request_replay(
            Subscriptions(svc.intake), svc.views, subscription, list(event_ids) or None, actor="cli", reason=reason
        )
    except OrderloomError as exc:
        for p in getattr(exc, "problems", []):
            err.print(f"{p.field}: {p.message}")
        raise click.ClickException(str(exc).splitlines()[0]) from None
    finally:
        svc.close()
    out.print(f"{len(chosen)} dead letters of {subscription} will be sent again by the dispatcher")


@webhooks.command("dispatch")
def webhooks_dispatch() -> None:
    """Run the webhook dispatcher on its own (when the API does not run the in-process pipeline)."""
    import asyncio
    import signal

    from orderloom.connectors.dispatcher import DispatchConfig, Dispatcher

    svc = _services()

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Dispatcher(svc, DispatchConfig.from_env()).run(stop)

    try:
        asyncio.run(runner())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
