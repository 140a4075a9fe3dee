"""Dwell percentiles per node x stage, the heatmap shape, filters, time zones, validation and exports."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orderloom.core.envelope import Event, format_time
from orderloom.core.errors import ValidationFailed
from orderloom.status.analytics.duck import DuckDBDwellAnalytics
from orderloom.status.analytics.heatmap import MAX_DAYS, heatmap
from orderloom.status.analytics.query import DwellQuery, parse_dwell_query
from orderloom.store.memory import MemoryEventStore
from orderloom.store.port import AppendRequest
from tests.unit._support import shipped

D = shipped()
T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
WAREHOUSE = D.types["pick.completed"].stage


def order(store: MemoryEventStore, oid: str, start: datetime, pick_to_pack_min: float, node: str = "SH-CW-01") -> None:
    """An order picked at `start` and packed `pick_to_pack_min` minutes later at `node`."""
    store.append(
        AppendRequest(
            events=[
                Event(f"{oid}-1", "pick.completed", "t", oid, format_time(start), {"node": node}),
                Event(
                    f"{oid}-2",
                    "pack.completed",
                    "t",
                    oid,
                    format_time(start + timedelta(minutes=pick_to_pack_min)),
                    {"node": node},
                ),
            ]
        )
    )


def loaded(store: MemoryEventStore) -> DuckDBDwellAnalytics:
    m = DuckDBDwellAnalytics(store, D)
    m.refresh()
    return m


def test_percentiles_match_a_hand_computed_example() -> None:
    store = MemoryEventStore()
    for k, minutes in enumerate([40, 10, 100, 30, 20]):
        order(store, f"OL-{k}", T0 + timedelta(minutes=k), minutes)
    m = loaded(store)
    q = parse_dwell_query(D, by="hour", stage=WAREHOUSE)
    (total,) = [c for c in m.dwell(q) if c.bucket is None and c.node == "SH-CW-01"]
    # Sorted 10 20 30 40 100 min; linear interpolation at rank (n - 1) * p:
    # p50 -> rank 2 = 30; p90 -> rank 3.6 = 40 + 0.6 * 60 = 76; p99 -> rank 3.96 = 40 + 0.96 * 60 = 97.6.
    assert total.count == 5
    assert total.p50_s == pytest.approx(30 * 60)
    assert total.p90_s == pytest.approx(76 * 60)
    assert total.p99_s == pytest.approx(97.6 * 60)


def test_hours_and_days_are_counted_in_the_query_time_zone() -> None:
    store = MemoryEventStore()
    order(store, "OL-late", datetime(2026, 5, 1, 20, 30, tzinfo=UTC), 10)  # 04:30 on 2 May in Shanghai
    m = loaded(store)
    shanghai = {(c.bucket, c.count) for c in m.dwell(parse_dwell_query(D, by="hour")) if c.bucket is not None}
    utc = {(c.bucket, c.count) for c in m.dwell(parse_dwell_query(D, by="hour", tz="UTC")) if c.bucket is not None}
    days = {c.bucket for c in m.dwell(parse_dwell_query(D, by="day")) if c.bucket is not None}
    assert shanghai == {(4, 1)}
    assert utc == {(20, 1)}
    assert days == {date(2026, 5, 2)}


def test_filters_keep_only_the_node_stage_and_time_range_asked_for() -> None:
    store = MemoryEventStore()
    order(store, "OL-a", T0, 10, node="A")
    order(store, "OL-b", T0 + timedelta(days=1), 20, node="A")
    order(store, "OL-c", T0, 30, node="B")
    m = loaded(store)

    def totals(**kw: str) -> set[tuple[str | None, int]]:
        return {(c.node, c.count) for c in m.dwell(parse_dwell_query(D, **kw)) if c.bucket is None}

    assert totals() == {("A", 2), ("B", 1)}
    assert totals(node="B") == {("B", 1)}
    assert totals(start="2026-05-02T00:00:00Z") == {("A", 1)}
    assert totals(end="2026-05-01", tz="UTC") == {("A", 1), ("B", 1)}  # a date as `to` counts the whole day
    assert totals(stage="delivery") == set()


def test_steps_between_types_a_role_cannot_see_are_left_out_of_its_aggregates() -> None:
    store = MemoryEventStore()
    order(store, "OL-a", T0, 10)
    m = loaded(store)
    q = parse_dwell_query(D)
    assert sum(c.count for c in m.dwell(q, types={"pick.completed"}) if c.bucket is None) == 0
    assert sum(c.count for c in m.dwell(q, types={"pick.completed", "pack.completed"}) if c.bucket is None) == 1


def test_the_heatmap_has_a_row_per_node_and_stage_and_a_column_per_hour() -> None:
    store = MemoryEventStore()
    order(store, "OL-a", T0, 10, node="A")  # 08:xx Shanghai
    order(store, "OL-b", T0 + timedelta(hours=5), 30, node="A")  # 13:xx
    order(store, "OL-c", T0 + timedelta(hours=5), 50, node="A")
    order(store, "OL-d", T0, 20, node="B")
    m = loaded(store)
    q = parse_dwell_query(D, by="hour", metric="p50")
    doc = heatmap(m.dwell(q), q, D)
    assert doc["columns"] == list(range(24))
    assert [(r["node"], r["stage"]) for r in doc["rows"]] == [("A", WAREHOUSE), ("B", WAREHOUSE)]
    assert all(len(row) == 24 for row in doc["values"] + doc["counts"])
    assert doc["values"][0][8] == 600.0
    assert doc["values"][0][13] == 2400.0  # p50 of 30 and 50 minutes
    assert doc["counts"][0][13] == 2
    assert doc["values"][0][9] is None
    assert doc["counts"][0][9] == 0
    assert sorted(doc["data"]) == [[8, 0, 600.0, 1], [8, 1, 1200.0, 1], [13, 0, 2400.0, 2]]
    assert (doc["min"], doc["max"], doc["steps"]) == (600.0, 2400.0, 4)


def test_a_day_heatmap_has_one_column_per_day_without_gaps() -> None:
    store = MemoryEventStore()
    order(store, "OL-a", T0, 10)
    order(store, "OL-b", T0 + timedelta(days=3), 10)
    m = loaded(store)
    q = parse_dwell_query(D, by="day")
    doc = heatmap(m.dwell(q), q, D)
    assert doc["columns"] == ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"]
    assert doc["counts"][0] == [1, 0, 0, 1]


def test_each_bad_parameter_is_named_in_the_validation_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_dwell_query(D, by="week", metric="p75", stage="moon", tz="Mars/Olympus", start="yesterday")
    assert {p.field for p in caught.value.problems} == {"by", "metric", "stage", "tz", "from"}
    with pytest.raises(ValidationFailed) as caught:
        parse_dwell_query(D, start="2026-05-02", end="2026-05-01T00:00:00Z")
    assert [p.field for p in caught.value.problems] == ["to"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_an_export_reads_back_with_the_same_figures(tmp_path: Path, fmt: str) -> None:
    store = MemoryEventStore()
    for k, minutes in enumerate([40, 10, 100, 30, 20]):
        order(store, f"OL-{k}", T0 + timedelta(hours=k % 2), minutes)
    m = loaded(store)
    q = parse_dwell_query(D, by="hour")
    path = tmp_path / f"dwell.{fmt}"
    assert m.export(q, path, fmt=fmt, rows="dwell") == 2
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    with duckdb.connect() as con:
        back = con.execute(f"SELECT node, stage, hour, count, p50_s, p90_s FROM {reader}(?) ORDER BY hour", [str(path)])
        rows = back.fetchall()
    cells = sorted((c for c in m.dwell(q) if c.bucket is not None), key=lambda c: int(c.bucket or 0))
    assert rows == [(c.node, c.stage, c.bucket, c.count, pytest.approx(c.p50_s), pytest.approx(c.p90_s)) for c in cells]


def test_a_steps_export_has_one_row_per_closed_step(tmp_path: Path) -> None:
    store = MemoryEventStore()
    order(store, "OL-a", T0, 10)
    order(store, "OL-b", T0, 20)
    m = loaded(store)
    path = tmp_path / "steps.csv"
    assert m.export(parse_dwell_query(D), path, fmt="csv", rows="steps") == 2
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["oid"], r["from_type"], r["to_type"], float(r["duration_s"])) for r in rows) == [
        ("OL-a", "pick.completed", "pack.completed", 600.0),
        ("OL-b", "pick.completed", "pack.completed", 1200.0),
    ]
    assert {r["hour"] for r in rows} == {"8"}


def test_a_day_heatmap_spanning_too_many_days_keeps_the_most_recent_and_says_so() -> None:
    store = MemoryEventStore()
    order(store, "OL-old", T0 - timedelta(days=500), 10)
    order(store, "OL-new", T0, 10)
    m = loaded(store)
    q = parse_dwell_query(D, by="day")
    doc = heatmap(m.dwell(q), q, D)
    assert len(doc["columns"]) == MAX_DAYS
    assert doc["columns"][-1] == "2026-05-01"
    assert doc["truncated"] is True
    assert sum(doc["counts"][0]) == 1


def test_a_time_zone_duckdb_does_not_know_is_refused_naming_tz() -> None:
    m = loaded(MemoryEventStore())
    q = DwellQuery(tz="Not/AZone")  # past the parser, as a caller building the query itself could
    with pytest.raises(ValidationFailed) as caught:
        m.dwell(q)
    assert [p.field for p in caught.value.problems] == ["tz"]
