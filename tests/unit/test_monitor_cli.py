"""`orderloom monitor scan --at` and `orderloom monitor findings` on a SQLite store."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orderloom.bootstrap import build_services
from orderloom.cli import main
from orderloom.core.settings import Settings
from orderloom.status.orders import place_order
from tests.unit._support import at, order_body, raw_event, shipped

OID = "OL-MON-CLI-1"


@pytest.mark.slow
def test_a_scan_as_of_a_time_prints_the_findings_it_opened_and_they_can_be_listed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    svc = build_services(Settings(db_url=url))
    try:
        assert place_order(svc.intake, order_body(OID), source="t", actor=None).created
        [r] = svc.intake.record([raw_event(shipped(), "linehaul.in_transit", oid=OID, minutes=60)])
        assert r.status == "accepted"
    finally:
        svc.close()
    env = {"ORDERLOOM_DB_URL": url}
    later = CliRunner().invoke(main, ["monitor", "scan", "--at", at(60 + 250)], env=env)
    assert later.exit_code == 0 and f"linehaul_stall:{OID}:1" in later.output, later.output
    listed = CliRunner().invoke(main, ["monitor", "findings", "--open", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [f["finding_id"] for f in orjson.loads(listed.output)] == [f"linehaul_stall:{OID}:1"]
    bad = CliRunner().invoke(main, ["monitor", "scan", "--at", "yesterday"], env=env)
    assert bad.exit_code != 0 and "--at" in bad.output
