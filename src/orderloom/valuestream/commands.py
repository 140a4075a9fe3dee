"""`orderloom facts import`, `orderloom contracts list|check|health` and `orderloom query`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from orderloom.core.errors import OrderloomError

out = Console()
err = Console(stderr=True)
SHOWN_ERRORS = 200
ROLES = ("cs", "finance", "ops", "admin")


def _valuestream(sources: Path | None = None) -> Any:
    """Services and the value-stream capability, from the environment."""
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings
    from orderloom.valuestream.config import ValueStreamConfig
    from orderloom.valuestream.runtime import ValueStream

    try:
        svc = build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        config = ValueStreamConfig.from_env()
        if sources is not None:
            config = ValueStreamConfig(config.contract_paths, str(sources), config.max_rows, config.max_seconds)
        return svc, ValueStream.of(svc, config)
    except OrderloomError as exc:
        svc.close()
        raise click.ClickException(str(exc)) from None


@click.group("facts")
def facts() -> None:
    """Domain facts delivered under the data contracts."""


@facts.command("import")
@click.argument("domain")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="default: from the extension")
@click.option("--batch", default=500, show_default=True, help="records per store transaction")
@click.option("--all-or-nothing", "atomic", is_flag=True, help="store nothing unless every row is valid")
@click.option(
    "--errors", "errors_to", type=click.Path(dir_okay=False, path_type=Path), help="write every problem here (CSV)"
)
def facts_import(domain: str, file: Path, fmt: str | None, batch: int, **options: Any) -> None:
    """Check every row of FILE against DOMAIN's contract and record the valid ones (re-running is harmless)."""
    from orderloom.valuestream.fact_import import import_facts

    atomic: bool = options["atomic"]
    errors_to: Path | None = options["errors_to"]
    svc, vs = _valuestream()
    try:
        report = import_facts(vs.desk, domain, file, fmt=fmt, batch=batch, atomic=atomic, actor="cli")
    except OrderloomError as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    finally:
        vs.close()
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
    print(orjson.dumps(report.summary()).decode())
    raise SystemExit(1 if report.rejected else 0)


@click.group("contracts")
def contracts() -> None:
    """Data contracts (ODCS v3): who owes which fields for each order, and how well they deliver."""


@contracts.command("list")
def contracts_list() -> None:
    """The contracts in force (shipped plus ORDERLOOM_CONTRACTS)."""
    from orderloom.dictionary import load_dictionary
    from orderloom.valuestream.catalog import load_contracts
    from orderloom.valuestream.config import ValueStreamConfig

    try:
        catalog = load_contracts(ValueStreamConfig.from_env().contract_paths, load_dictionary())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    table = Table("contract", "version", "domain", "key", "owed fields", "freshness")
    for c in catalog.list():
        obj = c.objects[0]
        table.add_row(c.id, c.version, c.domain, obj.key, ", ".join(obj.required), c.freshness.words())
    out.print(table)


@contracts.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
def contracts_check(files: tuple[Path, ...]) -> None:
    """Check contract files (ODCS v3 schema, Orderloom's conventions, the dictionary) with the shipped ones."""
    from orderloom.dictionary import load_dictionary
    from orderloom.valuestream.catalog import load_contracts

    try:
        catalog = load_contracts(files, load_dictionary())
    except OrderloomError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    out.print(f"OK: {len(catalog.contracts)} contracts ({', '.join(sorted(catalog.contracts))})")


@contracts.command("health")
@click.argument("contract", required=False)
@click.option("--days", default=30, show_default=True, help="owed orders due in the last this many days")
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="time zone of the trend's days")
@click.option("--json", "as_json", is_flag=True, help="print the full answer as JSON")
def contracts_health(contract: str | None, days: int, tz: str, as_json: bool) -> None:
    """Fulfilment per contract (or the daily trend of one): owed, on time, late, missing, refused."""
    svc, vs = _valuestream()
    try:
        ids = [contract] if contract else [c.id for c in vs.catalog.list()]
        answers = [vs.health(cid, "admin", days=days, tz=tz) for cid in ids]
    except OrderloomError as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    finally:
        vs.close()
        svc.close()
    if as_json:
        print(orjson.dumps(answers[0] if contract else answers).decode())
        return
    table = Table("contract", "due", "on time", "late", "missing", "pending", "refused", "fulfilment")
    for h in answers:
        o = h["orders"]
        rate = h["fulfilment_rate"]
        table.add_row(
            h["contract"],
            str(o["due"]),
            str(o["on_time"]),
            str(o["late"]),
            str(o["missing"]),
            str(o["pending"]),
            str(h["deliveries"]["rejected"]),
            "-" if rate is None else f"{rate:.1%}",
        )
    out.print(table)


@click.command("query")
@click.argument("sql")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True, help="query as this role")
@click.option("--limit", type=int, default=None, help="at most this many rows (default: the server limit)")
@click.option("--timeout", type=float, default=None, help="stop after this many seconds (default: the limit)")
@click.option("--sources", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="query sources YAML")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def query(sql: str, role: str, limit: int | None, timeout: float | None, **options: Any) -> None:
    """Run one read-only SQL query over the log's tables, the facts and the external sources."""
    sources: Path | None = options["sources"]
    fmt: str = options["fmt"]
    svc, vs = _valuestream(sources)
    try:
        answer = vs.engine.run(sql, role, limit=limit, seconds=timeout)
    except OrderloomError as exc:
        for p in getattr(exc, "problems", []):
            err.print(f"{p.message} [{p.rule}]", markup=False, highlight=False, soft_wrap=True)
        raise click.ClickException("the query was not run" if hasattr(exc, "problems") else str(exc)) from None
    finally:
        vs.close()
        svc.close()
    rows = answer.rows
    names = [c["name"] for c in rows.columns]
    if fmt == "json":
        print(orjson.dumps(answer.as_dict()).decode())
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(names)
        w.writerows(rows.rows)
    else:
        table = Table(*names)
        for row in rows.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)
    if rows.truncated:
        err.print(f"only the first {len(rows.rows)} rows are shown; raise --limit or narrow the query")
