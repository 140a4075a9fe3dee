"""`orderloom import csv|parquet`, `orderloom reconcile`, `orderloom webhooks`: files in, reports out."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result

from orderloom.cli import main
from orderloom.store.factory import open_store

ORDER_COLUMNS = [
    "oid",
    "time",
    "channel",
    "currency",
    "total",
    "customer.id",
    "customer.tier",
    "destination.region",
    "destination.city",
    "destination.address",
    "recipient.name",
    "recipient.phone",
    "window.start",
    "window.end",
    "lines[0].sku",
    "lines[0].qty",
    "lines[0].unit_price",
    "source_refs[0].system",
    "source_refs[0].number",
]
EVENT_COLUMNS = ["id", "type", "oid", "time", "actor", "deviceid", "data.node", "data.waybill", "proof.scanner_serial"]


def order_row(n: int, **over: Any) -> dict[str, Any]:
    row = {
        "oid": f"OL-IMP-{n}",
        "time": "2026-05-01T08:00:00+08:00",
        "channel": "tmall",
        "currency": "CNY",
        "total": "51.6",
        "customer.id": f"C-IMP-{n}",
        "customer.tier": "standard",
        "destination.region": "江苏省",
        "destination.city": "南京市",
        "destination.address": "中山北路 200 号",
        "recipient.name": "王晓明",
        "recipient.phone": "013800138000",
        "window.start": "2026-05-02T08:00:00+08:00",
        "window.end": "2026-05-02T20:00:00+08:00",
        "lines[0].sku": "YOG-500G",
        "lines[0].qty": "4",
        "lines[0].unit_price": "12.9",
        "source_refs[0].system": "erp",
        "source_refs[0].number": f"SO-{n}",
    }
    row.update(over)
    return row


def event_row(n: int, oid: str, **over: Any) -> dict[str, Any]:
    row = {
        "id": f"imp-ev-{n}",
        "type": "outbound.scanned",
        "oid": oid,
        "time": f"2026-05-01T10:{n:02d}:00+08:00",
        "actor": "emp:SH-CW-01:w1043",
        "deviceid": "scanner:HW-SC-7781",
        "data.node": "SH-CW-01",
        "data.waybill": f"JDVB{n:08d}",
        "proof.scanner_serial": "HONEYWELL-1950G-7781",
    }
    row.update(over)
    return row


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def cli(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORDERLOOM_DB_URL": f"sqlite:///{db}"})


def last_json(result: Result) -> dict[str, Any]:
    line = [x for x in result.stdout.splitlines() if x.startswith("{")][-1]
    doc: dict[str, Any] = json.loads(line)
    return doc


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "import.db"


def test_importing_orders_from_csv_stores_typed_orders_and_a_second_run_finds_duplicates(
    tmp_path: Path, db: Path
) -> None:
    f = write_csv(tmp_path / "orders.csv", ORDER_COLUMNS, [order_row(n) for n in range(3)])
    first = cli(db, "import", "csv", str(f), "--kind", "orders")
    assert first.exit_code == 0, first.output
    summary = last_json(first)
    assert summary["rows"] == 3 and summary["accepted"] == 3 and summary["rejected"] == 0
    assert summary["rows_per_s"] > 0 and summary["batches"] == 1
    store = open_store(f"sqlite:///{db}")
    try:
        data = store.read_stream("OL-IMP-1")[0].data
        assert data["lines"] == [{"sku": "YOG-500G", "qty": 4, "unit_price": 12.9}]
        assert data["total"] == 51.6 and store.resolve("erp:SO-2") == "OL-IMP-2"
        (audit,) = store.read_stream("sys.imports")
        assert audit.type == "import.completed" and audit.data["accepted"] == 3
    finally:
        store.close()
    again = cli(db, "import", "csv", str(f), "--kind", "orders")
    assert again.exit_code == 0 and last_json(again)["duplicate"] == 3


def test_a_batch_with_an_invalid_row_stores_nothing_and_the_report_names_row_field_and_rule(
    tmp_path: Path, db: Path
) -> None:
    orders = write_csv(tmp_path / "o.csv", ORDER_COLUMNS, [order_row(1)])
    assert cli(db, "import", "csv", str(orders), "--kind", "orders").exit_code == 0
    rows = [
        event_row(1, "OL-IMP-1"),
        event_row(2, "OL-IMP-1"),
        event_row(3, "OL-IMP-1", **{"data.waybill": ""}),
        event_row(4, "OL-IMP-1"),
        event_row(5, "OL-IMP-1"),
    ]
    f = write_csv(tmp_path / "events.csv", EVENT_COLUMNS, rows)
    report = tmp_path / "errors.csv"
    result = cli(db, "import", "csv", str(f), "--kind", "events", "--batch", "2", "--errors", str(report))
    assert result.exit_code == 1
    summary = last_json(result)
    assert (summary["accepted"], summary["rejected"], summary["not_stored"], summary["failed_batches"]) == (3, 1, 1, 1)
    assert "row 4: data.waybill" in result.stderr and "[required]" in result.stderr
    with report.open(encoding="utf-8") as fh:
        (problem,) = list(csv.DictReader(fh))
    assert problem["row"] == "4" and problem["field"] == "data.waybill" and problem["rule"] == "required"
    store = open_store(f"sqlite:///{db}")
    try:
        stored = {e.id for e in store.read_stream("OL-IMP-1")}
    finally:
        store.close()
    assert {"imp-ev-1", "imp-ev-2", "imp-ev-5"} <= stored and not {"imp-ev-3", "imp-ev-4"} & stored


def test_events_import_from_parquet_read_through_duckdb(tmp_path: Path, db: Path) -> None:
    orders = write_csv(tmp_path / "o.csv", ORDER_COLUMNS, [order_row(1)])
    assert cli(db, "import", "csv", str(orders), "--kind", "orders").exit_code == 0
    pq = tmp_path / "events.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (SELECT 'pq-' || i AS id, 'pack.completed' AS type, 'OL-IMP-1' AS oid,
                     TIMESTAMPTZ '2026-05-01 02:00:00+00' + i * INTERVAL 1 MINUTE AS time,
                     'emp:SH-CW-01:w0877' AS actor, 'station:PK-SH-07' AS deviceid,
                     'SH-CW-01' AS "data.node", i AS "data.packages", 0.62 * i AS "data.weight_kg",
                     'PK-SH-07' AS "proof.station_id"
                  FROM range(1, 5) t(i)) TO '{pq}' (FORMAT PARQUET)"""
        )
    result = cli(db, "import", "parquet", str(pq), "--kind", "events")
    assert result.exit_code == 0, result.output
    assert last_json(result)["accepted"] == 4
    store = open_store(f"sqlite:///{db}")
    try:
        e = store.get("pq-3")
    finally:
        store.close()
    assert e is not None and e.data == {"node": "SH-CW-01", "packages": 3, "weight_kg": pytest.approx(1.86)}


def test_signals_import_and_a_mapping_spec_can_rename_columns(tmp_path: Path, db: Path) -> None:
    mapping = tmp_path / "backlog.yaml"
    mapping.write_text(
        "connector: backlog_sheet\nkind: signal\nfields:\n"
        "  type: {const: node.backlog}\n  target: {path: 节点, required: true}\n"
        "  value.hours: {path: 积压分钟, type: number, convert: {from: min, to: h}}\n"
        "  time: {path: 时间, type: time, required: true}\n",
        encoding="utf-8",
    )
    f = tmp_path / "backlog.csv"
    f.write_text(
        "节点,积压分钟,时间\nSH-CWH,90,2026-05-01T08:00:00+08:00\nNJ-FWH,30,2026-05-01T08:05:00+08:00\n", "utf-8"
    )
    result = cli(db, "import", "csv", str(f), "--kind", "signals", "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    store = open_store(f"sqlite:///{db}")
    try:
        values = [e.data["value"] for e in store.read_stream("sig.node.backlog")]
    finally:
        store.close()
    assert values == [{"hours": 1.5}, {"hours": 0.5}]
    wrong = cli(db, "import", "csv", str(f), "--kind", "orders", "--mapping", str(mapping))
    assert wrong.exit_code != 0 and "makes signals, not orders" in wrong.output


@pytest.mark.slow
def test_reconcile_lists_mismatches_through_a_state_mapping_and_exits_1(tmp_path: Path, db: Path) -> None:
    orders = write_csv(tmp_path / "o.csv", ORDER_COLUMNS, [order_row(n) for n in range(3)])
    assert cli(db, "import", "csv", str(orders), "--kind", "orders").exit_code == 0
    events = write_csv(tmp_path / "e.csv", EVENT_COLUMNS, [event_row(1, "OL-IMP-1")])
    assert cli(db, "import", "csv", str(events), "--kind", "events").exit_code == 0
    states = tmp_path / "states.yaml"
    states.write_text("NEW: placed\nSHIPPED: [shipped_out, in_transit]\n", encoding="utf-8")
    external = tmp_path / "erp.csv"
    external.write_text("order_no,status\nSO-0,NEW\nSO-1,NEW\nSO-7,SHIPPED\nSO-0,NEW\n", encoding="utf-8")
    result = cli(db, "reconcile", str(external), "--system", "erp", "--states", str(states), "--id-column", "order_no")
    assert result.exit_code == 1, result.output
    summary = last_json(result)
    assert summary["matched"] == 1
    assert summary["counts"] == {
        "missing_in_log": 1,
        "missing_externally": 1,
        "state_differs": 1,
        "unknown_state": 0,
        "duplicate_external": 1,
    }
    clean = tmp_path / "clean.csv"
    clean.write_text("oid,state\nOL-IMP-0,placed\n", encoding="utf-8")
    ok = cli(db, "reconcile", str(clean), "--no-missing-externally")
    assert ok.exit_code == 0 and last_json(ok)["matched"] == 1


@pytest.mark.slow
def test_webhooks_commands_list_subscriptions_and_refuse_to_replay_what_is_not_dead(tmp_path: Path, db: Path) -> None:
    from orderloom.bootstrap import build_services
    from orderloom.connectors.subscriptions import Subscriptions
    from orderloom.core.settings import Settings

    svc = build_services(Settings(db_url=f"sqlite:///{db}"))
    try:
        sub, _ = Subscriptions(svc.intake).create("https://erp.example.com/h", ["delivery.*"], "cs", actor="test")
    finally:
        svc.close()
    listed = cli(db, "webhooks", "list")
    assert listed.exit_code == 0 and sub.id in listed.output
    log = cli(db, "webhooks", "deliveries", sub.id)
    assert log.exit_code == 0
    replay = cli(db, "webhooks", "replay", sub.id, "evt-nope")
    assert replay.exit_code != 0 and "not a dead letter" in replay.output
