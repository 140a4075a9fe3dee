"""The `orderloom` command end to end, as an operator would run it, on a SQLite file."""

from __future__ import annotations

import copy
import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from orderloom.dictionary import load_dictionary


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"ORDERLOOM_DB_URL": f"sqlite:///{tmp / 'cli.db'}", "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orderloom", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def events_file(tmp: Path) -> Path:
    d = load_dictionary()
    lines: list[Any] = []
    placed = copy.deepcopy(dict(d.types["order.placed"].example))
    lines.append(
        {
            "id": "p1",
            "type": "order.placed",
            "source": "erp",
            "oid": "OL-CLI-1",
            "time": "2026-05-01T08:00:00+08:00",
            **placed,
        }
    )
    for n, t in enumerate(["outbound.scanned", "linehaul.in_transit", "forward_wh.check_passed", "leader.signed"]):
        ex = copy.deepcopy(dict(d.types[t].example))
        ex["data"].pop("shipment", None)
        lines.append(
            {
                "id": f"e{n}",
                "type": t,
                "source": "wms",
                "oid": "OL-CLI-1",
                "time": f"2026-05-01T{9 + n:02d}:00:00+08:00",
                **ex,
            }
        )
    bad = dict(lines[1], id="bad1")
    bad["data"] = {**bad["data"], "packages": "many"}
    path = tmp / "events.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n" + json.dumps(bad) + "\n{broken json\n",
        "utf-8",
    )
    return path


def test_import_reports_bad_lines_and_the_chain_and_verify_work(tmp_path: Path) -> None:
    f = events_file(tmp_path)
    checked = run(tmp_path, "events", "validate", str(f))
    assert checked.returncode == 1 and "5 valid, 2 invalid" in checked.stdout
    assert "line 6: data.packages" in checked.stderr and "line 7: not valid JSON" in checked.stderr
    imported = run(tmp_path, "events", "import", str(f))
    assert imported.returncode == 1, imported.stderr
    assert "5 accepted, 0 duplicates, 2 rejected" in imported.stdout
    again = run(tmp_path, "events", "import", str(f))
    assert "0 accepted, 5 duplicates" in again.stdout
    chain = run(tmp_path, "chain", "OL-CLI-1", "--role", "consumer", "--lang", "en")
    assert chain.returncode == 0 and "Received by your community leader" in chain.stdout
    assert run(tmp_path, "verify").returncode == 0
    db = sqlite3.connect(tmp_path / "cli.db")
    db.execute("UPDATE events SET body = replace(body, 'K123', 'K999') WHERE id = 'e1'")
    db.commit()
    db.close()
    broken = run(tmp_path, "verify")
    assert broken.returncode == 1 and "OL-CLI-1" in broken.stderr and "#3" in broken.stderr
    assert "0 of 1 order chains intact" in broken.stdout


def test_dictionary_check_names_the_place_of_each_mistake(tmp_path: Path) -> None:
    good = tmp_path / "pack.yaml"
    good.write_text(
        "dictionary: mypack\ntypes:\n  fridge.opened:\n    version: 1\n    label: {zh: 冰箱开门, en: Fridge opened}\n"
        "    stage: exception\n    leg: community\n    data: {type: object, properties: {door: {type: string}}}\n"
        "    visibility: {ops: {fields: '*', details: true}}\n    example: {data: {door: front}}\n",
        "utf-8",
    )
    ok = run(tmp_path, "dictionary", "check", str(good))
    assert ok.returncode == 0, ok.stderr + ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text("utf-8").replace("stage: exception", "stage: nowhere"), "utf-8")
    res = run(tmp_path, "dictionary", "check", str(bad))
    assert res.returncode == 1 and "types/fridge.opened/stage" in res.stderr


def test_keys_are_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    res = run(tmp_path, "keys", "create", "--role", "cs")
    key = res.stdout.strip()
    assert res.returncode == 0 and key.startswith("olk_")
    db = sqlite3.connect(tmp_path / "cli.db")
    bodies = [r[0] for r in db.execute("SELECT body FROM events")]
    db.close()
    assert bodies and all(key.encode() not in b for b in bodies)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_with_demo_data_answers_over_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        "ORDERLOOM_DB_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderloom", "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    keys: dict[str, str] = {}
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            words = line.replace("│", " ").split()
            if any(w.startswith("olk_") for w in words):
                keys[words[0]] = next(w for w in words if w.startswith("olk_"))
            if "API on" in line:
                break
        assert set(keys) == {"consumer", "cs", "finance", "ops", "admin"}, "".join(lines)
        # 38 storyline orders, 160 of the value-stream shop, 240 of field operations (sim/demo_valuestream.py)
        assert any("438 orders loaded" in x for x in lines)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240  # a busy machine takes a while to import the app and load the demo
        while time.monotonic() < deadline:
            try:
                if httpx2.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start within 240 s")
        own = httpx2.get(
            base + "/v1/orders/OL-DEMO-0001/chain", headers={"Authorization": f"Bearer {keys['consumer']}"}
        )
        assert own.status_code == 200 and own.json()["status"]["id"] == "delivered"
        other = httpx2.get(
            base + "/v1/orders/OL-DEMO-0003/chain", headers={"Authorization": f"Bearer {keys['consumer']}"}
        )
        assert other.status_code == 404
        split = httpx2.get(base + "/v1/orders/OL-DEMO-0002", headers={"Authorization": f"Bearer {keys['ops']}"})
        assert split.json()["status"]["id"] != "delivered" and split.json()["status"]["partially_delivered"]
        _live_events_arrive_over_sse(base, keys)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _live_events_arrive_over_sse(base: str, keys: dict[str, str]) -> None:
    """A new event reaches a live subscriber, filtered by role; another order's subscriber stays quiet."""
    d = load_dictionary()
    ex = copy.deepcopy(dict(d.types["linehaul.in_transit"].example))
    ex["data"].pop("shipment", None)
    ex["data"]["location"] = "沪宁高速K140+200"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ev = {"id": "live-1", "type": "linehaul.in_transit", "source": "tms", "oid": "OL-DEMO-0003", "time": now, **ex}
    ops = {"Authorization": f"Bearer {keys['ops']}"}
    with (
        httpx2.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/orders/OL-DEMO-0003/live", headers=ops) as live,
    ):
        assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
        lines = live.iter_lines()
        assert next(lines) == ": connected"
        posted = client.post("/v1/events", json=[ev], headers=ops)
        assert posted.status_code == 200, posted.text
        data = next(line for line in lines if line.startswith("data: "))
        shown = json.loads(data[len("data: ") :])
        assert shown["id"] == "live-1" and shown["data"]["location"] == "沪宁高速K140+200" and shown["proof"]
    with httpx2.Client(base_url=base, timeout=10) as client:
        bad = client.get("/v1/stream", params={"types": "no.such_type"}, headers=ops)
        assert bad.status_code == 422 and "no.such_type" in bad.json()["error"]["message"]
        with client.stream("GET", "/v1/stream", params={"types": "linehaul.in_transit"}, headers=ops) as live:
            lines = live.iter_lines()
            assert next(lines) == ": connected"
            again = dict(ev, id="live-2")
            assert client.post("/v1/events", json=[again], headers=ops).status_code == 200
            data = next(line for line in lines if line.startswith("data: "))
            assert json.loads(data[len("data: ") :])["id"] == "live-2"


def test_views_rebuild_drops_and_rebuilds_from_the_log(tmp_path: Path) -> None:
    f = events_file(tmp_path)
    run(tmp_path, "events", "import", str(f))
    first = run(tmp_path, "views", "rebuild")
    assert first.returncode == 0, first.stderr
    assert "rebuilt from 5 events" in first.stdout  # the log holds the 5 valid events of the file
    one = run(tmp_path, "views", "rebuild", "order_status")
    assert one.returncode == 0 and "rebuilt from" in one.stdout
    bad = run(tmp_path, "views", "rebuild", "no_such_view")
    assert bad.returncode == 1 and "order_status" in bad.stderr  # names the views that exist


def test_policy_commands_save_test_publish_show_and_roll_back(tmp_path: Path) -> None:
    from importlib import resources

    example = resources.files("orderloom.policy").joinpath("examples", "douyin_first_order.json")
    src = tmp_path / "douyin.json"
    src.write_text(example.read_text(encoding="utf-8"), "utf-8")
    saved = run(tmp_path, "policy", "save", str(src))
    assert saved.returncode == 0 and "version 1 saved" in saved.stdout, saved.stderr
    assert run(tmp_path, "policy", "test", "douyin_first_order", "1").returncode == 0
    assert run(tmp_path, "policy", "publish", "douyin_first_order", "1").returncode == 0
    broken = tmp_path / "broken.json"
    broken.write_text(src.read_text("utf-8").replace('">= 299"', '">= 299 +"'), "utf-8")
    refused = run(tmp_path, "policy", "save", str(broken))
    assert refused.returncode == 1 and "not saved" in refused.stderr
    shown = run(tmp_path, "policy", "show", "douyin_first_order")
    assert "serving version 1" in shown.stdout and "policy.published" in shown.stdout
    shadow = run(tmp_path, "policy", "shadow", "douyin_first_order", "1")
    assert shadow.returncode == 0 and "0 decisions replayed" in shadow.stdout, shadow.stderr
    health = run(tmp_path, "policy", "health", "douyin_first_order")
    assert health.returncode == 0 and health.stdout.startswith("v1: 0 decisions"), health.stdout
    assert run(tmp_path, "policy", "rollback", "douyin_first_order", "9").returncode == 1


def test_experiment_report_prints_a_table_and_a_json_line(tmp_path: Path) -> None:
    from importlib import resources

    example = resources.files("orderloom.policy").joinpath("examples", "douyin_first_order.json")
    src = tmp_path / "douyin.json"
    src.write_text(example.read_text(encoding="utf-8"), "utf-8")
    run(tmp_path, "policy", "save", str(src))
    res = run(tmp_path, "experiment", "report", "douyin_first_order")
    assert res.returncode == 0, res.stderr
    last = json.loads(res.stdout.strip().splitlines()[-1])
    assert last["policy"] == "douyin_first_order" and "cost_per_order" in last["metrics"]
    assert run(tmp_path, "experiment", "report", "nope").returncode == 1


def test_simulate_runs_a_shipped_scenario_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    res = run(tmp_path, "simulate", "storm_nanjing", "--policy", "dynamic", "--no-record")
    assert res.returncode == 0, res.stderr
    assert "interrupted orders 0" in res.stdout
    assert run(tmp_path, "simulate", "no_such_scenario").returncode == 1
