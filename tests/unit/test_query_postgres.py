"""A PostgreSQL source in the federated query, against the real server: read in place, never written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from orderloom.core.errors import ValidationFailed
from orderloom.valuestream.catalog import load_contracts
from orderloom.valuestream.query import QueryEngine
from orderloom.valuestream.sources import Source
from tests.conftest import PG_URL
from tests.unit._support import rig, shipped

if TYPE_CHECKING:
    import psycopg


@pytest.mark.slow
@pytest.mark.postgres
def test_a_postgres_table_joins_the_log_read_only_and_only_for_its_roles(pg_schema: str, tmp_path: Path) -> None:
    with pg_connection() as pg:
        pg.execute(f"CREATE SCHEMA {pg_schema}")
        pg.execute(f"CREATE TABLE {pg_schema}.invoices (oid text, amount numeric(10, 2))")
        pg.execute(f"INSERT INTO {pg_schema}.invoices VALUES ('OL-PG-1', 12.50), ('OL-ELSEWHERE', 1)")
    r = rig()
    r.place("OL-PG-1", customer="C-1")
    # A password in the connection string (the test server trusts local connections and ignores it).
    dsn = PG_URL.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
    source = Source("erp", "postgres", dsn, frozenset({"finance", "ops"}), schema=pg_schema)
    q = QueryEngine(
        r.store, r.dictionary, load_contracts(dictionary=shipped()), [source], extension_dir=tmp_path / "ext"
    )

    answer = q.run("SELECT o.oid, i.amount FROM orders o JOIN erp.invoices i USING (oid)", "finance")
    assert answer.rows.rows == [["OL-PG-1", 12.5]]

    with pg_connection() as pg:  # a row added at the source is seen at once: nothing was copied
        pg.execute(f"INSERT INTO {pg_schema}.invoices VALUES ('OL-PG-1', 3)")
    assert q.run("SELECT count(*) FROM erp.invoices", "finance").rows.rows == [[3]]

    with pytest.raises(ValidationFailed) as caught:
        q.run(f"SELECT * FROM postgres_query('erp', 'DELETE FROM {pg_schema}.invoices RETURNING *')", "finance")
    assert caught.value.problems[0].rule == "table_function"
    with pytest.raises(duckdb.Error, match="read-only"):
        q.database("finance").connection().execute("DELETE FROM erp.invoices")
    with pytest.raises(ValidationFailed) as caught:
        q.run("SELECT * FROM erp.invoices", "cs")
    assert caught.value.problems[0].rule == "unknown_name"

    with pg_connection() as pg:
        assert pg.execute(f"SELECT count(*) FROM {pg_schema}.invoices").fetchone() == (3,)

    # The password is in no setting and no catalog a query could read (it sits in a redacted DuckDB secret).
    con = q.database("finance").connection()
    shown = str(con.execute("SELECT * FROM duckdb_settings()").fetchall())
    shown += str(con.execute("SELECT * FROM duckdb_databases()").fetchall())
    shown += str(con.execute("SELECT * FROM duckdb_secrets()").fetchall())
    assert "s3cret-pw" not in shown
    q.close()


def pg_connection() -> psycopg.Connection[tuple[Any, ...]]:
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)
