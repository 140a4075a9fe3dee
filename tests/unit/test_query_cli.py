"""`orderloom query` and `orderloom contracts health` on a store file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner

from orderloom.bootstrap import build_services
from orderloom.cli import main
from orderloom.core.settings import Settings
from orderloom.status.orders import place_order
from tests.unit._support import T0, order_body


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    svc = build_services(Settings(db_url=db))
    hour_ago = (svc.clock.now() - T0).total_seconds() / 60 - 60
    for n in (1, 2, 3):
        place_order(svc.intake, order_body(f"OL-C-{n}", customer=f"C-{n}", minutes=hour_ago), source="t", actor=None)
    svc.close()
    return {"ORDERLOOM_DB_URL": db}


@pytest.mark.slow
def test_query_prints_rows_as_json_csv_or_a_table_and_refuses_a_write(env: dict[str, str]) -> None:
    runner = CliRunner()
    sql = "SELECT customer_id FROM orders ORDER BY customer_id"
    as_json = runner.invoke(main, ["query", sql, "--format", "json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    assert orjson.loads(as_json.stdout)["rows"] == [["C-1"], ["C-2"], ["C-3"]]
    as_csv = runner.invoke(main, ["query", sql, "--format", "csv", "--limit", "2"], env=env)
    assert as_csv.stdout.splitlines() == ["customer_id", "C-1", "C-2"]
    assert "only the first 2 rows" in as_csv.stderr
    table = runner.invoke(main, ["query", sql, "--role", "finance"], env=env)
    assert table.exit_code == 0 and "C-3" in table.stdout
    result = runner.invoke(main, ["query", "DELETE FROM orders"], env=env)
    assert result.exit_code == 1
    assert "read_only" in result.stderr and "not run" in result.stderr


@pytest.mark.slow
def test_query_reads_a_sources_file_given_on_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("customer_id,segment\nC-2,vip\n", "utf-8")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump({"sources": [{"name": "crm", "kind": "csv", "path": "crm.csv", "roles": ["ops"]}]})
    )
    sql = "SELECT o.oid FROM orders o JOIN crm USING (customer_id)"
    result = CliRunner().invoke(
        main, ["query", sql, "--role", "ops", "--sources", str(sources), "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["rows"] == [["OL-C-2"]]


@pytest.mark.slow
def test_contracts_health_prints_each_contracts_fulfilment(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["contracts", "health", "supply_chain_rush", "--json", "--tz", "UTC"], env=env)
    assert result.exit_code == 0, result.output
    h = orjson.loads(result.stdout)
    assert h["orders"]["owed"] == 3 and h["orders"]["missing"] == 3  # placed an hour ago, owed within 30 minutes
    table = CliRunner().invoke(main, ["contracts", "health"], env={**env, "COLUMNS": "200"})
    assert table.exit_code == 0 and "supply_chain_rush" in table.stdout and "cs_call_sentiment" in table.stdout
