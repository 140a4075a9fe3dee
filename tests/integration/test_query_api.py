"""POST /v1/query: read-only SQL, role-scoped sources, limits; writes and reads outside the sources refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orderloom.status.orders import place_order
from orderloom.valuestream.config import ValueStreamConfig
from tests.integration.conftest import Api
from tests.unit._support import T0, order_body


@pytest.fixture
def crm(api: Api, tmp_path: Path) -> Path:
    """Two orders and a CRM export that only ops may query."""
    hour_ago = (api.services.clock.now() - T0).total_seconds() / 60 - 60
    for n in (1, 2):
        place_order(
            api.services.intake, order_body(f"OL-QA-{n}", customer=f"C-{n}", minutes=hour_ago), source="t", actor=None
        )
    path = tmp_path / "crm.csv"
    path.write_text("customer_id,segment\nC-1,vip\nC-2,new\n", "utf-8")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump({"sources": [{"name": "crm", "kind": "csv", "path": "crm.csv", "roles": ["ops", "admin"]}]}),
        "utf-8",
    )
    api.client.app.state.valuestream_config = ValueStreamConfig(sources_path=str(sources))  # type: ignore[attr-defined]
    return path


def query(api: Api, body: Any, role: str = "ops") -> Any:
    return api.client.post("/v1/query", json=body, headers=api.as_(role))


def test_a_query_joins_the_logs_orders_with_a_csv_source(api: Api, crm: Path) -> None:
    res = query(api, {"sql": "SELECT o.oid, c.segment FROM orders o JOIN crm c USING (customer_id) ORDER BY o.oid"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["rows"] == [["OL-QA-1", "vip"], ["OL-QA-2", "new"]]
    assert [c["name"] for c in body["columns"]] == ["oid", "segment"]
    assert body["truncated"] is False and body["row_count"] == 2


def test_sources_are_listed_per_role_and_another_roles_source_cannot_be_read(api: Api, crm: Path) -> None:
    ops = api.client.get("/v1/query/sources", headers=api.as_("ops")).json()
    assert [s["name"] for s in ops["sources"]] == ["crm"]
    assert "path" not in ops["sources"][0] and str(crm) not in str(ops)
    cs = api.client.get("/v1/query/sources", headers=api.as_("cs")).json()
    assert cs["sources"] == []
    assert "orders" in {t["table"] for t in cs["tables"]}
    res = query(api, {"sql": "SELECT * FROM crm"}, role="cs")
    assert res.status_code == 422
    assert res.json()["error"]["problems"][0]["rule"] == "unknown_name"
    res = query(api, {"sql": f"SELECT * FROM read_csv('{crm}')"}, role="cs")
    assert res.status_code == 422 and res.json()["error"]["problems"][0]["rule"] == "table_function"


# One API for all the attempts: building it is what takes the time.
REFUSED = [
    ("INSERT INTO events (oid) VALUES ('x')", "read_only"),
    ("CREATE TABLE x AS SELECT 1", "read_only"),
    ("COPY (SELECT * FROM orders) TO '/tmp/leak.csv'", "read_only"),
    ("ATTACH '/tmp/other.db'", "read_only"),
    ("INSTALL httpfs", "read_only"),
    ("LOAD postgres", "read_only"),
    ("PRAGMA show_tables", "read_only"),
    ("SELECT 1; DELETE FROM orders", "single_statement"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table_function"),
]


def test_writes_and_reads_outside_the_sources_are_refused_with_a_clear_422(api: Api, crm: Path) -> None:
    for sql, rule in REFUSED:
        res = query(api, {"sql": sql}, role="admin")
        assert res.status_code == 422, (sql, res.text)
        problem = res.json()["error"]["problems"][0]
        assert (problem["field"], problem["rule"]) == ("sql", rule), sql
        assert problem["message"]
    assert query(api, {"sql": "SELECT count(*) FROM events"}, role="admin").status_code == 200


def test_limits_cut_rows_and_stop_long_queries_and_bad_requests_are_named(api: Api, crm: Path) -> None:
    res = query(api, {"sql": "SELECT * FROM range(100)", "limit": 5})
    assert res.json()["row_count"] == 5 and res.json()["truncated"] is True
    res = query(api, {"sql": "SELECT count(*) FROM range(1000000000000) a, range(10) b", "timeout_s": 0.2})
    assert res.status_code == 422 and res.json()["error"]["problems"][0]["rule"] == "time_limit"
    assert query(api, {"sql": "SELECT 1"}, role="consumer").status_code == 403
    res = query(api, {"sql": "SELECT 1", "rows": 5})
    assert res.status_code == 422 and res.json()["error"]["problems"][0]["field"] == "rows"
    assert query(api, ["SELECT 1"]).status_code == 422
    assert query(api, {"sql": "SELECT 1", "limit": "ten"}).status_code == 422
    res = query(api, {"sql": "SELECT nope FROM orders"})
    assert res.status_code == 422 and "nope" in res.json()["error"]["message"]
