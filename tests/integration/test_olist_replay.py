"""The real Olist sample replayed through the HTTP API into SQLite, and the report read back from the log.

The figures are checked against the same figures computed straight from the CSV slice with DuckDB SQL,
so the mapping, the API, the store and the fold must all agree with the source.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from orderloom.bootstrap import Services, build_services
from orderloom.core.settings import Settings
from orderloom.olist import report
from orderloom.olist.clients import in_process_api
from orderloom.olist.replay import ReplayFailed, replay
from orderloom.olist.source import load
from orderloom.store import iter_log

# The sample sits beside the project (../shared/data/olist); a clone elsewhere (CI) finds it by
# ORDERLOOM_OLIST_DIR or at the workplace's fixed location.
CANDIDATES = [
    Path(os.environ.get("ORDERLOOM_OLIST_DIR", "/nonexistent")),
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "olist",
    Path("/work/shared/data/olist"),
]
DATA = CANDIDATES[1]
SLICE = 200


def _data_dir() -> Path:
    for candidate in CANDIDATES:
        if (candidate / "olist_orders_dataset.csv").is_file():
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail(f"the Olist sample must be at {DATA} when CI=true")
    pytest.skip(f"the Olist sample is not at {DATA}")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'olist.db'}"))
    yield svc
    svc.close()


def _csv_figures(folder: Path, n: int) -> dict[str, Any]:
    """The report's figures for the first `n` orders by purchase time, straight from the CSV files."""
    con = duckdb.connect()

    def csv(name: str) -> str:
        return f"read_csv('{folder / name}', all_varchar=true)"

    con.execute(
        f"""CREATE TABLE o AS SELECT * FROM {csv("olist_orders_dataset.csv")}
            ORDER BY order_purchase_timestamp, order_id LIMIT {n}"""
    )
    con.execute(
        f"""CREATE TABLE geo AS SELECT geolocation_zip_code_prefix AS z,
              avg(geolocation_lat::DOUBLE) AS lat, avg(geolocation_lng::DOUBLE) AS lng
            FROM {csv("olist_geolocation_dataset.csv")}
            WHERE geolocation_lat::DOUBLE BETWEEN -34 AND 5.5 AND geolocation_lng::DOUBLE BETWEEN -74.5 AND -28.5
            GROUP BY 1"""
    )
    con.execute(
        f"""CREATE TABLE d AS SELECT o.*,
              order_delivered_customer_date::TIMESTAMP > order_estimated_delivery_date::TIMESTAMP AS late,
              2 * 6371.0088 * asin(sqrt(pow(sin(radians(sg.lat - cg.lat) / 2), 2)
                + cos(radians(cg.lat)) * cos(radians(sg.lat)) * pow(sin(radians(sg.lng - cg.lng) / 2), 2))) AS km
            FROM o
            JOIN {csv("olist_customers_dataset.csv")} c USING (customer_id)
            LEFT JOIN (SELECT * FROM {csv("olist_order_items_dataset.csv")} WHERE order_item_id = '1') i
              USING (order_id)
            LEFT JOIN {csv("olist_sellers_dataset.csv")} s USING (seller_id)
            LEFT JOIN geo cg ON cg.z = c.customer_zip_code_prefix
            LEFT JOIN geo sg ON sg.z = s.seller_zip_code_prefix
            WHERE order_delivered_customer_date IS NOT NULL AND order_status NOT IN ('canceled', 'unavailable')"""
    )
    delivered, late_pct, total_p50_h = con.execute(
        """SELECT count(*), round(100.0 * avg(late::INT), 2),
             quantile_cont(epoch(order_delivered_customer_date::TIMESTAMP - order_purchase_timestamp::TIMESTAMP)
               / 3600.0, 0.5) FILTER (WHERE order_approved_at IS NOT NULL AND order_delivered_carrier_date IS NOT NULL)
           FROM d"""
    ).fetchone() or (0, None, None)
    bands = dict(
        con.execute(
            """SELECT CASE WHEN km < 100 THEN 'lt100' WHEN km < 500 THEN '100_500' WHEN km < 1000 THEN '500_1000'
                           WHEN km < 2000 THEN '1000_2000' ELSE 'ge2000' END, count(*)
               FROM d WHERE km IS NOT NULL GROUP BY 1"""
        ).fetchall()
    )
    (cancelled,) = con.execute(
        "SELECT count(*) FROM o WHERE order_status IN ('canceled', 'unavailable')"
    ).fetchone() or (0,)
    return {
        "delivered": delivered,
        "late_pct": late_pct,
        "total_p50_h": total_p50_h,
        "bands": bands,
        "cancelled": cancelled,
    }


def _replayed(svc: Services) -> int:
    """Events the replay wrote (monitors may add findings of their own to the same orders, asynchronously)."""
    return sum(1 for e in iter_log(svc.store) if e.oid.startswith("OLIST-") and e.source == "olist")


@pytest.mark.slow
def test_a_slice_replayed_through_the_api_reports_what_the_csv_files_say(services: Services) -> None:
    folder = _data_dir()
    data = load(folder, SLICE)
    with in_process_api(services) as (client, key):
        counts = replay(data, client, key, batch=200)
    assert counts.rejected == 0, counts.problems
    assert counts.orders == SLICE and counts.accepted == counts.events > SLICE

    rep = report.build(services.store, services.dictionary)
    expected = _csv_figures(folder, SLICE)
    assert rep["orders"] == SLICE
    assert rep["statuses"].get("cancelled", 0) == expected["cancelled"]
    assert rep["late"]["orders"] == expected["delivered"]
    assert rep["late"]["late_rate_pct"] == pytest.approx(expected["late_pct"])
    assert rep["lead_times"]["total"]["p50_h"] == pytest.approx(expected["total_p50_h"], abs=0.01)
    assert {b["band"]: b["orders"] for b in rep["late"]["bands"] if b["orders"]} == expected["bands"]
    assert rep["dwell"], "the dwell analytics ran on the replayed log"
    line = orjson.loads(orjson.dumps(report.summary(rep)))
    assert line["late_rate_pct"] == rep["late"]["late_rate_pct"]


@pytest.mark.slow
def test_replaying_the_same_slice_again_adds_nothing_to_any_order(services: Services) -> None:
    data = load(_data_dir(), 60)
    with in_process_api(services) as (client, key):
        first = replay(data, client, key)
        stored = _replayed(services)
        again = replay(data, client, key)
    assert first.accepted == stored == again.duplicate
    assert again.accepted == again.rejected == 0
    assert _replayed(services) == stored


def test_a_refused_key_stops_the_replay_with_the_apis_reason(services: Services) -> None:
    data = load(_data_dir(), 5)
    with in_process_api(services) as (client, _key), pytest.raises(ReplayFailed, match="401"):
        replay(data, client, "olk_not-a-key")


@pytest.mark.slow
def test_the_commands_import_and_report_from_a_fresh_store(tmp_path: Path) -> None:
    folder = _data_dir()
    env = {**os.environ, "ORDERLOOM_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    cli = [sys.executable, "-m", "orderloom"]
    imported = subprocess.run(
        [*cli, "import", "olist", str(folder), "--limit", "80"], env=env, capture_output=True, text=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
    counts = orjson.loads(imported.stdout.strip().splitlines()[-1])
    assert counts["orders"] == 80 and counts["rejected"] == 0
    reported = subprocess.run(
        [*cli, "report", "olist", "--no-dwell"], env=env, capture_output=True, text=True, check=False
    )
    assert reported.returncode == 0, reported.stderr
    summary = orjson.loads(reported.stdout.strip().splitlines()[-1])
    assert summary["orders"] == 80
    assert set(summary) >= {"late_rate_pct", "auc_model", "auc_distance_only", "late_rate_by_band_pct"}
