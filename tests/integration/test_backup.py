"""`orderloom backup create/check/restore` on the embedded SQLite database, while it is being written."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import orjson
from click.testing import CliRunner

from orderloom.bootstrap import Services, build_services
from orderloom.cli import main
from orderloom.core.settings import Settings
from orderloom.status.orders import place_order
from tests.unit._support import order_body


def _seed(svc: Services) -> None:
    for n in range(1, 41):
        assert place_order(svc.intake, order_body(f"OL-SEED-{n:04d}"), source="t", actor=None).created


def _json_line(output: str) -> dict[str, object]:
    return orjson.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_backup_taken_under_writes_is_a_gap_free_verifiable_prefix_and_restores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    svc = build_services(Settings(db_url=url))
    stop = threading.Event()
    placed: list[str] = []

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            oid = f"OL-BAK-{n:05d}"
            if place_order(svc.intake, order_body(oid), source="t", actor=None).created:
                placed.append(oid)

    try:
        _seed(svc)
        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            made = CliRunner().invoke(
                main, ["backup", "create", str(tmp_path / "b1.db")], env={"ORDERLOOM_DB_URL": url}
            )
        finally:
            stop.set()
            writer.join()
        assert made.exit_code == 0, made.output
        figures = _json_line(made.output)
        assert figures["ok"] is True and figures["gaps"] == 0 and figures["broken"] == []
        live_last = svc.store.last_position()
        assert 0 < int(figures["last_position"]) <= live_last  # type: ignore[call-overload]
        assert figures["events"] == figures["last_position"]  # positions 1..N, nothing skipped
        demo_chain = svc.reader.chain("OL-SEED-0001", "ops")
    finally:
        svc.close()

    checked = CliRunner().invoke(main, ["backup", "check", str(tmp_path / "b1.db")])
    assert checked.exit_code == 0 and _json_line(checked.output)["ok"] is True, checked.output

    # A backup never overwrites, and a restore never replaces an existing database.
    again = CliRunner().invoke(main, ["backup", "create", str(tmp_path / "b1.db")], env={"ORDERLOOM_DB_URL": url})
    assert again.exit_code != 0 and "already exists" in again.output
    refused = CliRunner().invoke(main, ["backup", "restore", str(tmp_path / "b1.db")], env={"ORDERLOOM_DB_URL": url})
    assert refused.exit_code != 0 and "already exists" in refused.output

    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = CliRunner().invoke(
        main, ["backup", "restore", str(tmp_path / "b1.db")], env={"ORDERLOOM_DB_URL": restored_url}
    )
    assert restored.exit_code == 0, restored.output
    back = build_services(Settings(db_url=restored_url))
    try:
        assert back.store.last_position() == figures["last_position"]
        assert back.reader.chain("OL-SEED-0001", "ops") == demo_chain
    finally:
        back.close()


def test_a_tampered_backup_fails_its_check_and_is_not_restored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    svc = build_services(Settings(db_url=url))
    try:
        _seed(svc)
    finally:
        svc.close()
    backup = tmp_path / "b.db"
    made = CliRunner().invoke(main, ["backup", "create", str(backup)], env={"ORDERLOOM_DB_URL": url})
    assert made.exit_code == 0, made.output

    conn = sqlite3.connect(backup)
    [(body,)] = conn.execute("SELECT body FROM events WHERE position = 3").fetchall()
    event = orjson.loads(body)
    event["time"] = "2020-01-01T00:00:00Z"
    conn.execute("UPDATE events SET body = ? WHERE position = 3", (orjson.dumps(event),))
    conn.commit()
    conn.close()

    checked = CliRunner().invoke(main, ["backup", "check", str(backup)])
    assert checked.exit_code == 1 and "BROKEN" in checked.output, checked.output
    assert "changed after it was recorded" in checked.output
    restored = CliRunner().invoke(
        main, ["backup", "restore", str(backup)], env={"ORDERLOOM_DB_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    )
    assert restored.exit_code != 0 and "does not verify" in restored.output
    assert not (tmp_path / "r.db").exists()


def test_postgres_and_memory_stores_get_a_clear_answer(tmp_path: Path) -> None:
    pg = CliRunner().invoke(
        main, ["backup", "create", str(tmp_path / "x.db")], env={"ORDERLOOM_DB_URL": "postgresql://u@h/db"}
    )
    assert pg.exit_code != 0 and "pg_dump" in pg.output
    mem = CliRunner().invoke(main, ["backup", "create", str(tmp_path / "x.db")], env={"ORDERLOOM_DB_URL": "memory://"})
    assert mem.exit_code != 0 and "nothing to back up" in mem.output
    missing = CliRunner().invoke(main, ["backup", "check", str(tmp_path / "none.db")])
    assert missing.exit_code != 0 and "no backup" in missing.output
