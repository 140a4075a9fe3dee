"""Importing domain facts from CSV and JSON-lines files, with a report per row."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orderloom.bootstrap import build_services
from orderloom.cli import main
from orderloom.core.settings import Settings
from orderloom.status.orders import place_order
from orderloom.valuestream.catalog import load_contracts
from orderloom.valuestream.fact_import import import_facts
from orderloom.valuestream.facts import FactDesk
from tests.unit._support import Rig, order_body, rig, shipped


def desk_with_orders(*oids: str) -> tuple[FactDesk, Rig]:
    r = rig()
    for n, oid in enumerate(oids):
        r.place(oid, customer=f"C-{n}", minutes=n)
    return FactDesk(r.intake, load_contracts(dictionary=shipped())), r


def test_csv_cells_become_the_contracts_types_and_bad_rows_are_reported_by_row(tmp_path: Path) -> None:
    desk, r = desk_with_orders("OL-I-1", "OL-I-2", "OL-I-3")
    path = tmp_path / "marketing.csv"
    path.write_text(
        "oid,channel_id,campaign,interest_tags\n"
        "OL-I-1,douyin_live,cny,dairy;audio\n"
        'OL-I-2,tmall_search,cny,"[""sport""]"\n'
        "OL-I-3,,cny,\n",
        "utf-8",
    )
    report = import_facts(desk, "marketing", path)
    assert (report.rows, report.accepted, report.rejected) == (3, 2, 1)
    assert [(e.row, e.field, e.rule) for e in report.errors] == [(3, "channel_id", "required")]
    fact = next(e for e in r.store.read_stream("OL-I-1") if e.type == "fact.recorded")
    assert fact.data["fields"]["interest_tags"] == ["dairy", "audio"]


def test_csv_numbers_and_booleans_convert_and_a_cell_that_does_not_is_named(tmp_path: Path) -> None:
    desk, r = desk_with_orders("OL-I-1", "OL-I-2")
    path = tmp_path / "rush.csv"
    path.write_text("oid,rush_order,expedite_cost\nOL-I-1,true,12.5\nOL-I-2,perhaps,3\n", "utf-8")
    report = import_facts(desk, "supply_chain", path)
    assert report.accepted == 1
    assert [(e.row, e.field, e.rule) for e in report.errors] == [(2, "rush_order", "type")]
    fact = next(e for e in r.store.read_stream("OL-I-1") if e.type == "fact.recorded")
    assert fact.data["fields"] == {"rush_order": True, "expedite_cost": 12.5}


def test_a_json_lines_file_reports_an_unreadable_line_by_its_number(tmp_path: Path) -> None:
    desk, _ = desk_with_orders("OL-I-1")
    path = tmp_path / "rush.jsonl"
    path.write_text('{"oid": "OL-I-1", "rush_order": false}\n\n{"oid": broken\n', "utf-8")
    report = import_facts(desk, "supply_chain", path)
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.errors[0].row == 3 and report.errors[0].rule == "format"


def test_importing_the_same_file_twice_stores_nothing_new(tmp_path: Path) -> None:
    desk, _ = desk_with_orders("OL-I-1")
    path = tmp_path / "rush.csv"
    path.write_text("oid,rush_order\nOL-I-1,false\n", "utf-8")
    import_facts(desk, "supply_chain", path)
    again = import_facts(desk, "supply_chain", path)
    assert (again.accepted, again.duplicate) == (0, 1)


def test_all_or_nothing_keeps_the_whole_file_out_when_one_row_is_refused(tmp_path: Path) -> None:
    desk, r = desk_with_orders("OL-I-1", "OL-I-2")
    path = tmp_path / "rush.csv"
    path.write_text("oid,rush_order\nOL-I-1,false\nOL-I-2,\n", "utf-8")
    report = import_facts(desk, "supply_chain", path, atomic=True, batch=1)
    assert report.accepted == 0 and report.rejected == 2
    assert not [e for e in r.store.read_stream("OL-I-1") if e.type == "fact.recorded"]


@pytest.mark.slow
def test_the_cli_imports_a_file_and_exits_1_when_a_row_was_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    svc = build_services(Settings(db_url=db))
    place_order(svc.intake, order_body("OL-CLI-1"), source="t", actor=None)
    svc.close()
    path = tmp_path / "rush.csv"
    path.write_text("oid,rush_order\nOL-CLI-1,true\nOL-CLI-404,true\n", "utf-8")
    errors = tmp_path / "problems.csv"
    result = CliRunner().invoke(
        main, ["facts", "import", "supply_chain", str(path), "--errors", str(errors)], env={"ORDERLOOM_DB_URL": db}
    )
    assert result.exit_code == 1, result.output
    summary = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert "known_order" in errors.read_text("utf-8")
