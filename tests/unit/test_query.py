"""The federated query: read-only SQL over the log, the facts and external sources, scoped by role."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import orjson
import pytest

from orderloom.core.errors import Forbidden, ValidationFailed
from orderloom.valuestream.catalog import load_contracts
from orderloom.valuestream.facts import FactDesk
from orderloom.valuestream.query import Limits, QueryEngine
from orderloom.valuestream.sources import Source
from tests.unit._support import Rig, raw_event, rig, shipped


@pytest.fixture
def r() -> Rig:
    rg = rig()
    rg.place("OL-Q-1", customer="C-1")
    rg.place("OL-Q-2", customer="C-2", minutes=5)
    rg.record(raw_event(rg.dictionary, "payment.captured", oid="OL-Q-1", eid="pay-q1", minutes=20))
    desk = FactDesk(rg.intake, load_contracts(dictionary=shipped()))
    desk.record("marketing", [{"oid": "OL-Q-1", "channel_id": "douyin_live", "campaign": "cny"}], actor="t")
    desk.record("supply_chain", [{"oid": "OL-Q-2", "rush_order": True}, {"oid": "OL-Q-1"}], actor="t")
    return rg


def engine(r: Rig, tmp_path: Path, sources: list[Source] | None = None, limits: Limits | None = None) -> QueryEngine:
    return QueryEngine(
        r.store,
        r.dictionary,
        load_contracts(dictionary=shipped()),
        sources or [],
        limits=limits,
        threads=1,
        extension_dir=tmp_path / "ext",
    )


def refused(q: QueryEngine, sql: str, role: str = "admin") -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        q.run(sql, role)
    (p,) = caught.value.problems
    return p.rule, p.message


def test_a_query_reads_orders_events_and_facts_joined_by_oid(r: Rig, tmp_path: Path) -> None:
    q = engine(r, tmp_path)
    answer = q.run(
        "SELECT o.oid, o.customer_id, m.channel_id, s.rush_order FROM orders o "
        "LEFT JOIN marketing_attribution m USING (oid) LEFT JOIN rush_flag s USING (oid) ORDER BY o.oid",
        "admin",
    )
    assert answer.rows.rows == [["OL-Q-1", "C-1", "douyin_live", None], ["OL-Q-2", "C-2", None, True]]
    assert [c["name"] for c in answer.rows.columns] == ["oid", "customer_id", "channel_id", "rush_order"]


def test_times_come_back_as_utc_text(r: Rig, tmp_path: Path) -> None:
    answer = engine(r, tmp_path).run("SELECT placed_at FROM orders WHERE oid = 'OL-Q-1'", "ops")
    placed = next(e for e in r.store.read_stream("OL-Q-1") if e.type == "order.placed")
    assert answer.rows.rows == [[placed.time]]
    assert answer.rows.columns[0]["type"] == "TIMESTAMPTZ"


def test_new_events_are_loaded_before_the_next_query(r: Rig, tmp_path: Path) -> None:
    q = engine(r, tmp_path)
    before = q.run("SELECT count(*) FROM orders", "ops").rows.rows[0][0]
    r.place("OL-Q-3", customer="C-3", minutes=30)
    assert q.run("SELECT count(*) FROM orders", "ops").rows.rows[0][0] == before + 1


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("INSERT INTO events (oid) VALUES ('x')", "read_only"),
        ("CREATE TABLE loot AS SELECT * FROM orders", "read_only"),
        ("DELETE FROM orders", "read_only"),
        ("UPDATE fact_rows SET valid_now = true", "read_only"),
        ("COPY orders TO '/tmp/orders.csv'", "read_only"),
        ("ATTACH '/tmp/other.db' AS other", "read_only"),
        ("INSTALL httpfs", "read_only"),
        ("LOAD sqlite", "read_only"),
        ("SET enable_external_access = true", "read_only"),
        ("PRAGMA database_list", "read_only"),
        ("CALL postgres_execute('pg', 'DROP TABLE x')", "read_only"),
        ("SELECT 1; DROP TABLE events", "single_statement"),
        ("SELECT 1; SELECT 2", "single_statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table_function"),
        ("SELECT * FROM read_text('/etc/hostname')", "table_function"),
        ("SELECT * FROM postgres_scan('postgresql://postgres@127.0.0.1/test', 'public', 't')", "table_function"),
        ("SELECT (SELECT count(*) FROM sqlite_scan('/tmp/x.db', 't'))", "table_function"),
        ("SELECT * FROM duckdb_databases()", "table_function"),
        ("SELECT current_setting('allowed_paths')", "function"),
        ("SELEC 1", "syntax"),
        ("", "required"),
    ],
)
def test_anything_but_one_reading_query_is_refused_with_its_rule(r: Rig, tmp_path: Path, sql: str, rule: str) -> None:
    assert refused(engine(r, tmp_path), sql)[0] == rule


def test_the_database_itself_cannot_read_files_even_past_the_gate(r: Rig, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n", "utf-8")
    con = engine(r, tmp_path).database("admin").connection()
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_csv('{secret}')").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"ATTACH '{tmp_path / 'new.db'}' AS other")


def test_a_consumer_may_not_query(r: Rig, tmp_path: Path) -> None:
    with pytest.raises(Forbidden):
        engine(r, tmp_path).run("SELECT 1", "consumer")


def test_personal_fields_are_never_in_the_query_tables(r: Rig, tmp_path: Path) -> None:
    answer = engine(r, tmp_path).run("SELECT data FROM events WHERE type = 'order.placed'", "admin")
    assert answer.rows.rows
    for (text,) in answer.rows.rows:
        data = orjson.loads(text)
        assert data.get("recipient", {}) == {}
        assert "address" not in data["destination"] and data["destination"]["city"]
        assert "enc:v1:" not in text  # not even sealed


def test_each_role_sees_only_the_fields_and_facts_it_may(r: Rig, tmp_path: Path) -> None:
    q = engine(r, tmp_path)
    assert q.run("SELECT channel FROM orders WHERE oid = 'OL-Q-1'", "finance").rows.rows == [[None]]
    assert q.run("SELECT channel FROM orders WHERE oid = 'OL-Q-1'", "cs").rows.rows == [["douyin"]]
    assert refused(q, "SELECT * FROM marketing_attribution", "finance")[0] == "unknown_name"
    assert q.run("SELECT count(*) FROM rush_flag", "finance").rows.rows == [[1]]
    assert refused(q, "SELECT * FROM fact_rejections", "cs")[0] == "unknown_name"
    assert q.run("SELECT count(*) FROM fact_rejections", "ops").rows.rows == [[1]]


def test_finance_sees_only_invoicing_events(r: Rig, tmp_path: Path) -> None:
    types = {row[0] for row in engine(r, tmp_path).run("SELECT DISTINCT type FROM events", "finance").rows.rows}
    assert types == {t for t in types if shipped().types[t].invoicing}
    assert "payment.captured" in types


def test_the_row_limit_cuts_off_and_says_so(r: Rig, tmp_path: Path) -> None:
    q = engine(r, tmp_path, limits=Limits(rows=3, seconds=5))
    answer = q.run("SELECT * FROM range(10)", "ops")
    assert len(answer.rows.rows) == 3 and answer.rows.truncated
    assert len(q.run("SELECT * FROM range(10)", "ops", limit=2).rows.rows) == 2
    assert len(q.run("SELECT * FROM range(10)", "ops", limit=50).rows.rows) == 3  # never above the server's limit
    assert not q.run("SELECT * FROM range(3)", "ops").rows.truncated


def test_a_query_running_past_the_time_limit_is_stopped(r: Rig, tmp_path: Path) -> None:
    q = engine(r, tmp_path, limits=Limits(rows=10, seconds=0.3))
    rule, message = refused(q, "SELECT count(*) FROM range(1000000000000) a, range(10) b")
    assert rule == "time_limit" and "0.3 s" in message


def test_csv_and_parquet_sources_are_read_in_place(r: Rig, tmp_path: Path) -> None:
    csv_path = tmp_path / "crm.csv"
    csv_path.write_text("customer_id,segment\nC-1,vip\n", "utf-8")
    parquet_path = tmp_path / "ltv.parquet"
    duckdb.execute(f"COPY (SELECT 'C-2' AS customer_id, 99.5 AS ltv) TO '{parquet_path}' (FORMAT parquet)")
    sources = [
        Source("crm", "csv", str(csv_path), frozenset({"ops"})),
        Source("ltv", "parquet", str(parquet_path), frozenset({"ops"})),
    ]
    q = engine(r, tmp_path, sources)
    sql = (
        "SELECT o.oid, c.segment, l.ltv FROM orders o LEFT JOIN crm c USING (customer_id) "
        "LEFT JOIN ltv l USING (customer_id) ORDER BY o.oid"
    )
    assert q.run(sql, "ops").rows.rows == [["OL-Q-1", "vip", None], ["OL-Q-2", None, 99.5]]
    with csv_path.open("a", encoding="utf-8") as fh:
        fh.write("C-2,new\n")
    assert q.run("SELECT count(*) FROM crm", "ops").rows.rows == [[2]]  # not a copy: the file as it is now


def test_a_source_not_listed_for_a_role_is_not_there_for_it(r: Rig, tmp_path: Path) -> None:
    csv_path = tmp_path / "crm.csv"
    csv_path.write_text("customer_id,segment\nC-1,vip\n", "utf-8")
    q = engine(r, tmp_path, [Source("crm", "csv", str(csv_path), frozenset({"ops"}))])
    assert refused(q, "SELECT * FROM crm", "cs")[0] == "unknown_name"
    assert [s["name"] for s in q.sources_for("ops")["sources"]] == ["crm"]
    assert q.sources_for("cs")["sources"] == []


def test_a_sqlite_source_is_attached_read_only(r: Rig, tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as lite:
        lite.execute("CREATE TABLE refunds (oid TEXT, amount REAL)")
        lite.execute("INSERT INTO refunds VALUES ('OL-Q-1', 12.5)")
    q = engine(r, tmp_path, [Source("shop", "sqlite", str(path), frozenset({"ops"}))])
    sql = "SELECT o.oid, f.amount FROM orders o JOIN shop.refunds f USING (oid)"
    assert q.run(sql, "ops").rows.rows == [["OL-Q-1", 12.5]]
    con = q.database("ops").connection()
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("INSERT INTO shop.refunds VALUES ('x', 1)")
    with sqlite3.connect(path) as lite:
        assert lite.execute("SELECT count(*) FROM refunds").fetchone() == (1,)


def test_a_source_that_cannot_be_opened_is_reported_not_fatal(r: Rig, tmp_path: Path) -> None:
    q = engine(r, tmp_path, [Source("gone", "csv", str(tmp_path / "missing.csv"), frozenset({"ops"}))])
    listing = q.sources_for("ops")
    assert [u["name"] for u in listing["unavailable"]] == ["gone"]
    assert q.run("SELECT count(*) FROM orders", "ops").rows.rows == [[2]]


def test_the_tables_listing_names_the_contract_views_a_role_may_read(r: Rig, tmp_path: Path) -> None:
    tables = {t["table"] for t in engine(r, tmp_path).sources_for("finance")["tables"]}
    assert {"events", "orders", "facts", "rush_flag", "customer_profile", "payment_history"} <= tables
    assert "marketing_attribution" not in tables and "fact_rejections" not in tables
