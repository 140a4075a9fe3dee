"""`orderloom pack list | show | install` as an operator runs them, on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import run


def test_pack_commands_list_show_and_install_once(tmp_path: Path) -> None:
    listed = run(tmp_path, "pack", "list")
    assert listed.returncode == 0, listed.stderr
    assert "coldchain" in listed.stdout and "manufacturing 1.0.0" in listed.stdout and "not installed" in listed.stdout

    shown = run(tmp_path, "pack", "show", "coldchain")
    assert shown.returncode == 0 and "fridge.temperature, fridge.stock" in shown.stdout, shown.stderr

    first = run(tmp_path, "pack", "install", "manufacturing", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["changed"] and {p["action"] for p in report["policies"]} == {"published"}
    again = run(tmp_path, "pack", "install", "manufacturing")
    assert again.returncode == 0 and "already installed" in again.stdout and "already published" in again.stdout
    # The next start loads the pack's event types: nothing is left to restart for.
    assert "everything the pack brings is in force" in again.stdout

    assert "installed 20" in run(tmp_path, "pack", "list").stdout
    unknown = run(tmp_path, "pack", "install", "bakery")
    assert unknown.returncode == 1 and "no pack named 'bakery'" in unknown.stderr
