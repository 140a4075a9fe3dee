"""`orderloom backup ...`: online backup, check and restore of the embedded SQLite database."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from orderloom.core.errors import OrderloomError
from orderloom.core.settings import Settings
from orderloom.core.urls import sqlite_path

out = Console()
err = Console(stderr=True)

PG_HINT = (
    "the log is on PostgreSQL: back it up with PostgreSQL's own tools, e.g.\n"
    "  pg_dump --format=custom --schema=SCHEMA --file=orderloom.dump DBURL\n"
    "and restore into an empty database with pg_restore; then run `orderloom verify` against it"
    " (docs/operations.md, 'Backup and restore')"
)


def _sqlite_file() -> str:
    url = Settings.from_env().db_url
    if url.startswith(("postgresql:", "postgres:")):
        raise click.ClickException(PG_HINT)
    if not url.startswith("sqlite:"):
        raise click.ClickException(f"ORDERLOOM_DB_URL {url!r} keeps nothing on disk: there is nothing to back up")
    return sqlite_path(url)


@click.group("backup")
def backup() -> None:
    """Back up the SQLite database while the server runs, check a backup, restore one."""


@backup.command("create")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(dest: Path) -> None:
    """Copy the database (log, views, keys) to DEST as one consistent snapshot, then verify the copy."""
    from orderloom.store.backup import backup_sqlite, check_backup

    started = time.perf_counter()
    try:
        size = backup_sqlite(_sqlite_file(), str(dest))
        check = check_backup(str(dest))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    seconds = time.perf_counter() - started
    out.print(
        f"backed up {check.events:,} events of {check.orders:,} orders to {dest}"
        f" ({size / 1e6:.1f} MB, {seconds:.1f} s); every chain verifies: {check.ok}"
    )
    print(json.dumps({**check.as_dict(), "bytes": size, "seconds": round(seconds, 3)}))
    sys.exit(0 if check.ok else 1)


@backup.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_check(file: Path) -> None:
    """Read every event of a backup: positions without gaps, every order's chain intact."""
    from orderloom.store.backup import check_backup

    try:
        check = check_backup(str(file))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    for v in check.broken:
        err.print(f"[red]BROKEN[/red] order {v.oid}: event #{v.broken_seq} ({v.broken_id}): {v.reason}")
    out.print(
        f"{check.events:,} events, {check.orders:,} orders, last position {check.last_position:,},"
        f" {check.gaps} gaps, {len(check.broken)} broken chains"
    )
    print(json.dumps(check.as_dict()))
    sys.exit(0 if check.ok else 1)


@backup.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_restore(file: Path) -> None:
    """Check FILE, then copy it to where ORDERLOOM_DB_URL points; that file must not exist yet."""
    from orderloom.store.backup import restore_sqlite

    target = _sqlite_file()
    try:
        check = restore_sqlite(str(file), target)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    out.print(f"restored {check.events:,} events of {check.orders:,} orders to {target}; start the server on it")
