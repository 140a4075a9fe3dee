"""Nothing is lost when processes crash: ingest over HTTP while the relay and a consumer are SIGKILLed.

PostgreSQL holds the log and the views, NATS JetStream is the bus, and the API (two workers),
the relay and the consumer are separate processes, as in production. After at
least ten kills, every acknowledged event is in the store exactly once, reached
the bus, and is counted exactly once in the views (they equal a rebuild). The
same run with a consumer that saves its checkpoint outside the view's
transaction must fail that last check, which shows the test can fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from orderloom.bus.factory import open_bus
from orderloom.dictionary import load_dictionary
from orderloom.status.projections import project_all, status_projections
from orderloom.store.factory import open_store
from orderloom.views.factory import open_view_store
from tests.conftest import PG_URL, need_service

NATS = "127.0.0.1:4222"
ROOT = Path(__file__).resolve().parents[2]
STEPS = ["outbound.scanned", "linehaul.departed", "linehaul.in_transit", "linehaul.arrived"]


def nats_reachable() -> bool:
    host, port = NATS.split(":")
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, int(port))) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """The processes of a multi-process deployment, on one test schema and one test stream."""

    env: dict[str, str]
    port: int
    consumer_cmd: list[str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: Path = Path("/tmp")

    def start(self, name: str) -> None:
        cmds = {
            "api": [sys.executable, "-m", "orderloom", "serve", "--port", str(self.port), "--workers", "2"],
            "relay": [sys.executable, "-m", "orderloom", "relay"],
            "consumer": self.consumer_cmd,
        }
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(cmds[name], env=self.env, cwd=ROOT, stdout=log, stderr=log)
        log.close()

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def cluster_env(pg_schema: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    need_service("NATS JetStream", nats_reachable())
    tag = uuid.uuid4().hex[:10]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ORDERLOOM_DB_URL": f"{PG_URL}?schema={pg_schema}",
        "ORDERLOOM_BUS_URL": f"nats://{NATS}?stream=CRASH_{tag}&prefix=crash{tag}.events",
        "PYTHONUNBUFFERED": "1",
    }
    yield env
    bus = open_bus(env["ORDERLOOM_BUS_URL"])
    with contextlib.suppress(Exception):
        asyncio.run(_drop_stream(bus))


async def _drop_stream(bus: Any) -> None:
    await bus.connect()
    try:
        await bus.delete_stream()
    finally:
        await bus.close()


def _events_for(dictionary: Any, n: int, now: datetime) -> list[dict[str, Any]]:
    oid = f"OL-CRASH-{n:06d}"
    placed = copy.deepcopy(dict(dictionary.types["order.placed"].example))
    placed["data"]["customer"]["id"] = f"C-{n % 50}"
    out = [
        {
            "id": f"{oid}-0",
            "type": "order.placed",
            "source": "crash",
            "oid": oid,
            "time": (now - timedelta(hours=2)).isoformat(),
            **placed,
        }
    ]
    for k, etype in enumerate(STEPS, start=1):
        ex = copy.deepcopy(dict(dictionary.types[etype].example))
        ex["data"].pop("shipment", None)
        out.append(
            {
                "id": f"{oid}-{k}",
                "type": etype,
                "source": "crash",
                "oid": oid,
                "time": (now - timedelta(hours=2) + timedelta(minutes=10 * k)).isoformat(),
                **ex,
            }
        )
    return out


class Load:
    """Posts batches of orders over HTTP until stopped; remembers what was acknowledged."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.acked: set[str] = set()
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        d = load_dictionary()
        n = 0
        with httpx2.Client(base_url=self.base, timeout=30, headers={"Authorization": f"Bearer {self.key}"}) as c:
            while not self.stop.is_set():
                batch = [e for k in range(10) for e in _events_for(d, n + k, datetime.now(UTC))]
                n += 10
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx2.HTTPError as exc:
                    self.errors.append(repr(exc))
                    time.sleep(0.1)
                    continue
                if r.status_code != 200:
                    self.errors.append(r.text[:300])
                    continue
                self.acked.update(x["id"] for x in r.json()["results"] if x["status"] in ("accepted", "duplicate"))
                time.sleep(0.02)


def _wait_ready(base: str) -> None:
    # Generous: importing the app (scipy, scikit-learn, OR-Tools) takes seconds on a busy machine.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(base + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("the API did not start")


def _bus_ids(url: str, expected: int) -> list[str]:
    async def collect() -> list[str]:
        bus = open_bus(url)
        await bus.connect()
        ids: list[str] = []
        try:
            agen = bus.subscribe("audit-" + uuid.uuid4().hex[:8])
            while True:
                try:
                    d = await asyncio.wait_for(agen.__anext__(), timeout=3 if len(ids) >= expected else 20)
                except (TimeoutError, StopAsyncIteration):
                    break
                ids.append(d.message.id)
                await d.ack()
            await agen.aclose()  # type: ignore[attr-defined]
        finally:
            await bus.close()
        return ids

    return asyncio.run(collect())


def run_scenario(
    env: dict[str, str], tmp_path: Path, consumer_cmd: list[str], *, rounds: int, seed: int, mark: Path | None = None
) -> dict[str, Any]:
    """Ingest while killing relay and consumer `rounds` times; return what the checks need.

    With `mark`, a consumer is killed only once that file exists (the faulty
    consumer creates it between its two commits), so the deliberate bug is hit.
    """
    key = subprocess.run(
        [sys.executable, "-m", "orderloom", "keys", "create", "--role", "ops"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    cluster = Cluster(env, _free_port(), consumer_cmd, logs=tmp_path)
    rng = random.Random(seed)
    try:
        for name in ("api", "relay", "consumer"):
            cluster.start(name)
        base = f"http://127.0.0.1:{cluster.port}"
        _wait_ready(base)
        load = Load(base, key)
        load.thread.start()
        kills = {"relay": 0, "consumer": 0}
        for k in range(rounds):
            # Long enough for a restarted process to import, connect and be mid-work when it dies.
            time.sleep(rng.uniform(1.5, 2.5))
            victim = ("relay", "consumer")[k % 2] if k < 2 else rng.choice(["relay", "consumer"])
            if mark is not None and victim == "consumer":
                deadline = time.monotonic() + 10
                while not mark.exists() and time.monotonic() < deadline:
                    time.sleep(0.005)
            cluster.kill(victim)
            kills[victim] += 1
            time.sleep(rng.uniform(0.05, 0.3))
            cluster.start(victim)
        time.sleep(0.5)
        load.stop.set()
        load.thread.join(timeout=60)
        store = open_store(env["ORDERLOOM_DB_URL"])
        views = open_view_store(env["ORDERLOOM_DB_URL"])
        try:
            head = store.last_position()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if (
                    views.checkpoint("relay") >= head
                    and min(views.checkpoint(p.view) for p in status_projections(load_dictionary())) >= head
                ):
                    break
                time.sleep(0.2)
            log = store.read_all(0, 10_000_000)
            dictionary = load_dictionary()
            view_state = {
                p.view: {k: views.read(p.view, k) for k in project_all(log, p)} for p in status_projections(dictionary)
            }
            rebuilt = {p.view: project_all(log, p) for p in status_projections(dictionary)}
            caught_up = views.checkpoint("relay") >= head
        finally:
            views.close()
            store.close()
        return {
            "acked": load.acked,
            "errors": load.errors,
            "log": log,
            "kills": kills,
            "views": view_state,
            "rebuilt": rebuilt,
            "relay_caught_up": caught_up,
        }
    finally:
        cluster.stop_all()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.nats
def test_acknowledged_events_survive_sigkills_of_relay_and_consumer(
    cluster_env: dict[str, str], tmp_path: Path
) -> None:
    consumer = [sys.executable, "-m", "orderloom", "consume"]
    got = run_scenario(cluster_env, tmp_path, consumer, rounds=12, seed=11)
    assert got["kills"]["relay"] >= 1 and got["kills"]["consumer"] >= 1 and sum(got["kills"].values()) >= 10
    assert not got["errors"], got["errors"][:3]
    ids = [e.id for e in got["log"]]
    assert len(got["acked"]) > 500, "the load was too small to mean anything"
    assert got["acked"] <= set(ids), "an acknowledged event is missing from the store"
    assert len(ids) == len(set(ids)), "an event is stored twice"
    assert [e.position for e in got["log"]] == list(range(1, len(ids) + 1))
    assert got["relay_caught_up"]
    on_bus = _bus_ids(cluster_env["ORDERLOOM_BUS_URL"], len(ids))
    assert set(ids) <= set(on_bus), "an event never reached the bus"
    for view, docs in got["views"].items():
        assert docs == got["rebuilt"][view], f"view {view} differs from a rebuild of the log"


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.nats
def test_the_crash_test_fails_when_the_checkpoint_is_saved_outside_the_views_transaction(
    cluster_env: dict[str, str], tmp_path: Path
) -> None:
    faulty = [sys.executable, "-m", "tests.integration.crashkit.faulty_consume"]
    mark = tmp_path / "between-commits"
    got = run_scenario({**cluster_env, "FAULTY_MARK": str(mark)}, tmp_path, faulty, rounds=10, seed=5, mark=mark)
    assert got["kills"]["consumer"] >= 1
    differs = [v for v, docs in got["views"].items() if docs != got["rebuilt"][v]]
    assert differs, "the faulty consumer was killed between its two commits yet its views still equal a rebuild"
