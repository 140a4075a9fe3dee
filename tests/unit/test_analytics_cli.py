"""`orderloom analytics dwell`: a table, an optional export, and one JSON line of figures at the end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from click.testing import CliRunner

from orderloom.cli import main
from orderloom.core.envelope import Event, format_time
from orderloom.store.factory import open_store
from orderloom.store.port import AppendRequest

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def fill(db: Path, orders: int) -> str:
    url = f"sqlite:///{db}"
    store = open_store(url)
    events = []
    for k in range(orders):
        oid = f"OL-CLI-{k}"
        for n, (etype, minutes) in enumerate([("pick.completed", 0), ("pack.completed", 10 + k)]):
            at = format_time(T0 + timedelta(minutes=minutes))
            events.append(Event(f"{oid}-{n}", etype, "t", oid, at, {"node": "SH-CW-01"}))
    store.append(AppendRequest(events=events))
    store.close()
    return url


def test_dwell_prints_a_table_and_ends_with_a_json_line_and_writes_the_export(tmp_path: Path) -> None:
    url = fill(tmp_path / "log.db", orders=4)
    export = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        main, ["analytics", "dwell", "--by", "hour", "--export", str(export)], env={"ORDERLOOM_DB_URL": url}
    )
    assert result.exit_code == 0, result.output
    assert "SH-CW-01" in result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert (figures["steps"], figures["orders"], figures["exported_rows"]) == (4, 4, 1)
    with duckdb.connect() as con:
        assert con.execute("SELECT sum(count) FROM read_parquet(?)", [str(export)]).fetchone() == (4,)


def test_an_export_file_must_end_in_parquet_or_csv(tmp_path: Path) -> None:
    url = fill(tmp_path / "log.db", orders=1)
    result = CliRunner().invoke(
        main, ["analytics", "dwell", "--export", str(tmp_path / "out.xlsx")], env={"ORDERLOOM_DB_URL": url}
    )
    assert result.exit_code != 0
    assert ".parquet or .csv" in result.output


def test_a_bad_time_zone_is_reported_by_name(tmp_path: Path) -> None:
    url = fill(tmp_path / "log.db", orders=1)
    result = CliRunner().invoke(main, ["analytics", "dwell", "--tz", "Mars/Olympus"], env={"ORDERLOOM_DB_URL": url})
    assert result.exit_code != 0
    assert "Mars/Olympus" in result.output
