"""Load generator: the multi-process setup (PostgreSQL + NATS) against the embedded one (SQLite), same mix.

Starts each setup itself, on loopback only, in a fresh PostgreSQL schema and a
fresh NATS stream (or a temporary SQLite file), and drives it over HTTP with
the project's own asyncio client (httpx2):

* virtual users, each placing orders one after the other: `POST /v1/orders`
  (order.placed with a customer from a pool of 2,000), `POST
  /v1/routing/orders/{oid}/route` (routing.decided), three atomic batches of
  three fulfilment events (`POST /v1/events`, all_or_nothing), and a chain read
  (`GET /v1/orders/{oid}/chain`) after placing and after every batch:
  9 requests and 11 events per order, 4 reads to 5 writes;
* SSE subscribers on `GET /v1/stream` (every event, ops role).

Measured after a warm-up, for each setup: sustained events/s (the log's head
before and after), p50/p99 latency per endpoint, event -> view lag (from the
write's HTTP answer until the `order_status` view checkpoint, polled every
5 ms, reaches its position), event -> SSE delivery, CPU and RSS per process,
and a py-spy profile of the busiest process (the top functions by own time).
Bounded by time (`--seconds`) and by count (`--orders` per setup).

Usage: python benchmarks/load.py [--setups embedded,cluster] [--workers 2] [--users 16] [--sse 4]
                                 [--seconds 60] [--warmup 10] [--orders 100000] [--profile-seconds 15]
Needs PostgreSQL on 127.0.0.1:5432 (database `test`) and NATS JetStream on 127.0.0.1:4222 for `cluster`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine, order_raws, percentile

from orderloom.bootstrap import build_services
from orderloom.core.envelope import format_time
from orderloom.core.settings import Settings
from orderloom.dictionary import load_dictionary
from orderloom.dictionary.model import Dictionary

PG = os.environ.get("ORDERLOOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("ORDERLOOM_BENCH_NATS", "127.0.0.1:4222")
ROOT = Path(__file__).resolve().parents[1]
VIEW = "order_status"
POLL_S = 0.005
CUSTOMERS = 2000
ENDPOINTS = ("create_order", "route", "event_batch", "chain_read")
# Destinations on the shipped China network (city, lat, lng) and its five SKUs.
CITIES = (
    ("南京市", 32.0731, 118.7662),
    ("上海市", 31.2304, 121.4737),
    ("北京市", 39.9040, 116.4075),
    ("广州市", 23.1291, 113.2644),
    ("成都市", 30.5728, 104.0668),
    ("武汉市", 30.5928, 114.3055),
    ("杭州市", 30.2741, 120.1551),
    ("西安市", 34.3416, 108.9398),
)
SKUS = (
    ("YOG-500G", 12.9, True),
    ("HP-PRO-X", 1299.0, False),
    ("TEA-GIFT-BOX", 268.0, False),
    ("RICE-5KG", 49.9, False),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- deployments


@dataclass
class Deployment:
    """One setup under test: its processes, environment, and how to read the view checkpoint."""

    name: str
    env: dict[str, str]
    commands: dict[str, list[str]]
    port: int
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    schema: str = ""
    tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, keys: int = 4) -> None:
        """Create the store and API keys, start every process, wait until the API answers."""
        svc = build_services(Settings.from_env(self.env))
        try:
            self.keys = [svc.keys.create("ops", None, note="load test", actor="bench")[0] for _ in range(keys)]
        finally:
            svc.close()
        for name, cmd in self.commands.items():
            log = (self.logs / f"{self.name}-{name}.log").open("ab")
            self.procs[name] = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=log, stderr=log)
            log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise SystemExit(f"BENCHMARK FAILED: {self.name} {name} exited; see {self.logs}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"BENCHMARK FAILED: the {self.name} API did not start within 90 s; see {self.logs}")

    def processes(self) -> dict[str, psutil.Process]:
        """Every process of this setup by a readable name (API workers one by one)."""
        out: dict[str, psutil.Process] = {}
        for name, p in self.procs.items():
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(p.pid)
                out[name] = proc
                workers = [c for c in proc.children(recursive=True) if "resource_tracker" not in " ".join(c.cmdline())]
                for k, child in enumerate(workers, start=1):
                    out[f"{name}-worker-{k}"] = child
        return out

    def checkpoint_reader(self) -> Callable[[], int]:
        """A function returning the view checkpoint, with its own connection (for the watcher thread)."""
        if self.schema:
            conn = psycopg.connect(PG, autocommit=True)
            query = f"SELECT position FROM {self.schema}.view_checkpoints WHERE name = %s"

            def read_pg() -> int:
                row = conn.execute(query, (VIEW,), prepare=True).fetchone()
                return int(row[0]) if row else 0

            return read_pg
        path = self.env["ORDERLOOM_DB_URL"].removeprefix("sqlite:///")
        lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

        def read_sqlite() -> int:
            try:
                row = lite.execute("SELECT position FROM view_checkpoints WHERE name = ?", (VIEW,)).fetchone()
            except sqlite3.OperationalError:  # the table is created by the first consumer batch
                return 0
            return int(row[0]) if row else 0

        return read_sqlite

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self) -> None:
        """Drop the schema and the NATS stream, or the temporary SQLite directory."""
        if self.schema:
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            from orderloom.bus.factory import open_bus

            async def drop() -> None:
                bus = open_bus(self.env["ORDERLOOM_BUS_URL"])
                await bus.connect()
                await bus.delete_stream()  # type: ignore[attr-defined]
                await bus.close()

            with contextlib.suppress(Exception):
                asyncio.run(drop())
        if self.tmp is not None:
            self.tmp.cleanup()


def _base_env() -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"}
    if os.environ.get("PYTHONPATH"):  # e.g. to measure a snapshot of the sources
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def embedded(logs: Path) -> Deployment:
    """`orderloom serve`: one process, SQLite file, in-process bus, relay and consumers inside."""
    tmp = tempfile.TemporaryDirectory(prefix="orderloom-load-")
    port = free_port()
    env = {**_base_env(), "ORDERLOOM_DB_URL": f"sqlite:///{tmp.name}/load.db", "ORDERLOOM_BUS_URL": "memory://"}
    serve = [sys.executable, "-m", "orderloom", "serve", "--port", str(port)]
    return Deployment("embedded", env, {"api": serve}, port, logs, tmp=tmp)


def cluster(logs: Path, workers: int) -> Deployment:
    """`serve --workers N`, `relay` and `consume` on a fresh PostgreSQL schema and NATS stream."""
    tag = uuid.uuid4().hex[:8]
    port = free_port()
    env = {
        **_base_env(),
        "ORDERLOOM_DB_URL": f"{PG}?schema=load_{tag}",
        "ORDERLOOM_BUS_URL": f"nats://{NATS}?stream=LOAD_{tag}&prefix=load{tag}.events",
    }
    py = [sys.executable, "-m", "orderloom"]
    commands = {
        "api": [*py, "serve", "--port", str(port), "--workers", str(workers)],
        "relay": [*py, "relay"],
        "consumer": [*py, "consume"],
    }
    return Deployment("cluster", env, commands, port, logs, schema=f"load_{tag}")


# ---------------------------------------------------------------- measuring


class CheckpointWatcher:
    """Polls the view checkpoint every POLL_S; remembers when each new value was first seen."""

    def __init__(self, read: Callable[[], int]) -> None:
        self.read = read
        self.times: list[float] = []
        self.positions: list[int] = []
        self.reads = 0  # queries this watcher made (they show in PostgreSQL's table statistics)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pos = self.read()
            self.reads += 1
            if not self.positions or pos > self.positions[-1]:
                self.times.append(time.monotonic())
                self.positions.append(pos)
            time.sleep(POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def seen_at(self, position: int) -> float | None:
        """When the checkpoint was first seen at or past `position` (None: not yet)."""
        i = bisect.bisect_left(self.positions, position)
        return self.times[i] if i < len(self.times) else None

    def head(self) -> int:
        return self.positions[-1] if self.positions else 0


@dataclass
class Recorder:
    """Everything the client sees: latencies per endpoint, acknowledged positions, errors, SSE arrivals."""

    warm_at: float = 0.0
    end_at: float = float("inf")
    latencies: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    acks: list[tuple[float, int]] = field(default_factory=list)  # (answer time, highest position in it)
    ack_time: dict[int, float] = field(default_factory=dict)  # position -> answer time, for the SSE lag
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    orders: int = 0
    events_accepted: int = 0
    sse_lag: list[tuple[float, float]] = field(default_factory=list)  # (arrival time, ms after the answer)
    sse_events: int = 0
    sse_overflows: int = 0

    def measured(self, t: float) -> bool:
        return self.warm_at <= t <= self.end_at

    def ack(self, t: float, positions: list[int]) -> None:
        if positions:
            self.acks.append((t, max(positions)))
            for p in positions:
                self.ack_time[p] = t


def placed_body(raw: dict[str, Any], n: int, now: datetime) -> dict[str, Any]:
    """The POST /v1/orders body for order `n`: lines of the network's SKUs, one of eight cities."""
    city, lat, lng = CITIES[n % len(CITIES)]
    sku, price, cold = SKUS[n % len(SKUS)]
    qty = 1 + n % 3
    customer = f"C-LOAD-{n % CUSTOMERS:05d}"
    line: dict[str, Any] = {"sku": sku, "qty": qty, "unit_price": price}
    if cold:
        line["cold_chain"] = True
    return {
        "oid": raw["oid"],
        "time": raw["time"],
        "lines": [line],
        "currency": "CNY",
        "total": round(price * qty, 2),
        "customer": {"id": customer, "tier": ("gold", "silver", "standard")[n % 3], "new_customer": n < CUSTOMERS},
        "channel": ("douyin", "tmall", "jd")[n % 3],
        "destination": {"region": "-", "city": city, "address": f"示例路 {n % 900 + 1} 号", "lat": lat, "lng": lng},
        "recipient": {"name": "王晓明", "phone": f"138{n % 100_000_000:08d}"},
        "window": {"start": format_time(now + timedelta(hours=2)), "end": format_time(now + timedelta(hours=30))},
        "source_refs": [{"system": "load", "number": f"{raw['oid']}"}],
    }


async def order_flow(c: httpx2.AsyncClient, rec: Recorder, dictionary: Dictionary, n: int) -> None:
    """One order's life: place, route, read, then three event batches each followed by a read."""
    now = datetime.now(UTC).replace(microsecond=0)
    raws = order_raws(dictionary, n, now - timedelta(hours=1), 10, customer=f"C-LOAD-{n % CUSTOMERS:05d}")
    oid = raws[0]["oid"]
    for k, raw in enumerate(raws[1:], start=1):
        raw["time"] = format_time(now - timedelta(hours=1) + timedelta(minutes=5 * k))

    async def call(endpoint: str, method: str, url: str, body: Any = None) -> Any:
        started = time.monotonic()
        try:
            r = await c.request(method, url, json=body)
        except httpx2.HTTPError as exc:
            rec.statuses[f"{endpoint} {type(exc).__name__}"] += 1
            rec.errors.append(f"{endpoint}: {exc!r}")
            return None
        done = time.monotonic()
        rec.statuses[f"{endpoint} {r.status_code}"] += 1
        if r.status_code >= 300:
            if len(rec.errors) < 50:
                rec.errors.append(f"{endpoint} {r.status_code}: {r.text[:300]}")
            return None
        if rec.measured(started) and rec.measured(done):
            rec.latencies[endpoint].append((done, (done - started) * 1000))
        doc = r.json()
        if endpoint in ("create_order", "route") and doc.get("position"):
            rec.ack(done, [int(doc["position"])])
        elif endpoint == "event_batch":
            got = [int(x["position"]) for x in doc["results"] if x["status"] == "accepted"]
            rec.events_accepted += len(got)
            rec.ack(done, got)
        return doc

    placed = await call("create_order", "POST", "/v1/orders", placed_body(raws[0], n, now))
    if placed is None:
        return
    rec.events_accepted += 1
    await call("route", "POST", f"/v1/routing/orders/{oid}/route")
    await call("chain_read", "GET", f"/v1/orders/{oid}/chain")
    for batch in (raws[1:4], raws[4:7], raws[7:10]):
        await call("event_batch", "POST", "/v1/events", {"events": batch, "all_or_nothing": True})
        await call("chain_read", "GET", f"/v1/orders/{oid}/chain")
    rec.orders += 1


async def sse_subscriber(c: httpx2.AsyncClient, rec: Recorder, stop: asyncio.Event) -> None:
    """Reads `/v1/stream` until stopped; reconnects after an overflow or a dropped connection."""
    while not stop.is_set():
        try:
            async with c.stream("GET", "/v1/stream", timeout=httpx2.Timeout(10, read=None)) as r:
                async for line in r.aiter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("id: "):
                        now = time.monotonic()
                        rec.sse_events += 1
                        at = rec.ack_time.get(int(line[4:]))
                        if at is not None and rec.measured(at):
                            rec.sse_lag.append((now, max(0.0, now - at) * 1000))
                    elif line.startswith("event: overflow"):
                        rec.sse_overflows += 1
        except httpx2.HTTPError as exc:
            if not stop.is_set():
                rec.errors.append(f"sse: {exc!r}")
                await asyncio.sleep(0.5)


async def drive(
    dep: Deployment,
    dictionary: Dictionary,
    *,
    users: int,
    sse: int,
    seconds: float,
    warmup: float,
    max_orders: int,
    rate: float = 0.0,
    on_tick: Callable[[Recorder], None] | None = None,
    tick_s: float = 0.0,
    mid_window: Callable[[], Any] | None = None,
) -> Recorder:
    """Run the mix for warmup + seconds (or until max_orders); `rate` > 0 paces order starts (orders/s)."""
    rec = Recorder()
    stop = asyncio.Event()
    counter = itertools.count()
    began = time.monotonic()
    rec.warm_at = began + warmup
    rec.end_at = rec.warm_at + seconds
    limits = httpx2.Limits(max_connections=users + sse + 4, max_keepalive_connections=users + sse + 4)

    def client(k: int) -> httpx2.AsyncClient:
        key = dep.keys[k % len(dep.keys)]
        return httpx2.AsyncClient(
            base_url=dep.base, timeout=60, limits=limits, headers={"Authorization": f"Bearer {key}"}
        )

    async def user(k: int) -> None:
        async with client(k) as c:
            while not stop.is_set():
                n = next(counter)
                if n >= max_orders:
                    return
                if rate > 0:
                    delay = began + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if stop.is_set():
                        return
                await order_flow(c, rec, dictionary, n)

    async def subscriber(k: int) -> None:
        async with client(k) as c:
            await sse_subscriber(c, rec, stop)

    async def clock() -> None:
        mid_done = False
        while time.monotonic() < rec.end_at:
            await asyncio.sleep(tick_s if tick_s > 0 else 0.5)
            if on_tick is not None and time.monotonic() >= rec.warm_at:
                on_tick(rec)
            if mid_window is not None and not mid_done and time.monotonic() >= rec.warm_at + 2:
                mid_done = True
                asyncio.get_running_loop().run_in_executor(None, mid_window)
        stop.set()

    subs = [asyncio.create_task(subscriber(k)) for k in range(sse)]
    await asyncio.sleep(0.5)  # let the subscribers connect before the first write
    work = [asyncio.create_task(user(k)) for k in range(users)]
    ticker = asyncio.create_task(clock())
    done, _ = await asyncio.wait([*work, ticker], return_when=asyncio.FIRST_COMPLETED)
    if ticker not in done:  # every user hit the order count before the time was up
        await asyncio.wait(work)
        rec.end_at = min(rec.end_at, time.monotonic())
        ticker.cancel()
    stop.set()
    await asyncio.gather(*work, return_exceptions=True)
    for t in subs:
        t.cancel()
    await asyncio.gather(*subs, return_exceptions=True)
    return rec


class CpuMeter:
    """CPU seconds per process between two snapshots; RSS now."""

    def __init__(self, procs: dict[str, psutil.Process]) -> None:
        self.procs = procs
        self.t0 = time.monotonic()
        self.cpu0 = {name: self._cpu(p) for name, p in procs.items()}
        self.sys0 = psutil.cpu_times()

    @staticmethod
    def _cpu(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    def read(self) -> tuple[float, dict[str, float], dict[str, float], float]:
        """(seconds, CPU cores per process, RSS MB per process, whole machine's busy cores)."""
        wall = time.monotonic() - self.t0
        cores = {n: (self._cpu(p) - self.cpu0[n]) / wall for n, p in self.procs.items()}
        rss = {}
        for n, p in self.procs.items():
            with contextlib.suppress(psutil.Error):
                rss[n] = p.memory_info().rss / 1e6
        s1 = psutil.cpu_times()
        busy = (sum(s1) - s1.idle - s1.iowait) - (sum(self.sys0) - self.sys0.idle - self.sys0.iowait)
        return wall, cores, rss, busy / wall


def nats_server() -> dict[str, psutil.Process]:
    """The shared NATS server (its CPU includes anyone else's use of it)."""
    found = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "nats-server"]
    return {"nats-server (whole server)": found[0]} if found else {}


class PgMeter:
    """CPU of the PostgreSQL backends serving this setup's connections (matched by client port)."""

    def __init__(self, procs: dict[str, psutil.Process]) -> None:
        self.procs = procs
        self.t0 = time.monotonic()
        self.cpu0 = {pid: CpuMeter._cpu(p) for pid, p in self._backends().items()}

    def _backends(self) -> dict[int, psutil.Process]:
        port = psycopg.conninfo.conninfo_to_dict(PG).get("port") or 5432
        ports: list[int] = []
        for p in self.procs.values():
            with contextlib.suppress(psutil.Error):
                ports += [c.laddr.port for c in p.net_connections("tcp") if c.raddr and c.raddr.port == int(port)]
        with psycopg.connect(PG, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,)).fetchall()
        out = {}
        for (pid,) in rows:
            with contextlib.suppress(psutil.Error):
                out[int(pid)] = psutil.Process(int(pid))
        return out

    def read(self) -> tuple[float, int]:
        """(CPU cores used by this setup's backends since the start, backends now)."""
        now = self._backends()
        used = sum(CpuMeter._cpu(p) - self.cpu0.get(pid, 0.0) for pid, p in now.items())
        return used / (time.monotonic() - self.t0), len(now)


def pg_table_stats(schema: str) -> list[tuple[str, int, int]]:
    """(table, scans started, rows written) of the setup's schema since it was created."""
    with psycopg.connect(PG, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0), n_tup_ins + n_tup_upd"
            " FROM pg_stat_user_tables WHERE schemaname = %s ORDER BY 2 DESC",
            (schema,),
        ).fetchall()
    return [(str(t), int(s), int(w)) for t, s, w in rows]


WAITS = {"Condition.wait", "_worker", "EpollSelector.select", "select", "Event.wait", "Queue.get", "get", "wait"}


def profile(pid: int, seconds: float, out: Path) -> dict[str, Any]:
    """py-spy on `pid` (non-blocking, on-CPU samples only): top functions by own time and by package."""
    pyspy = Path(sys.executable).parent / "py-spy"
    if not pyspy.exists():
        return {"error": "py-spy is not installed: pip install -e '.[bench]'"}
    cmd = [str(pyspy), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100"]
    cmd += ["--format", "raw", "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0 or not out.exists():
        return {"error": (done.stderr or done.stdout)[-300:]}
    own: Counter[str] = Counter()
    package: Counter[str] = Counter()
    total = waiting = db_wait = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        k = int(count)
        total += k
        frames = stack.split(";")
        leaf = frames[-1]
        if leaf.split(" (")[0] in WAITS:
            # py-spy's idle detection misses threads parked in these; they use no CPU.
            waiting += k
            continue
        if "multiprocessing/connection.py" in leaf:  # uvicorn's worker waiting on its supervisor's pipe
            waiting += k
            continue
        if leaf.split(" (")[0].endswith("wait") and "psycopg" in leaf:
            db_wait += k  # a thread waiting for PostgreSQL's answer
            continue
        own[leaf.split(" (")[0] + " (" + _short(leaf) + ")"] += k
        package[_package(frames)] += k
    return {
        "samples": total - waiting - db_wait,
        "waiting": waiting,
        "db_wait": db_wait,
        "own": own.most_common(12),
        "package": package.most_common(10),
    }


def _short(frame: str) -> str:
    inside = frame.partition(" (")[2].rstrip(")")
    path = inside.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _package(frames: list[str]) -> str:
    """Where the on-CPU time goes: the innermost frame outside the event loop plumbing, by top package."""
    for frame in reversed(frames):
        path = _short(frame)
        top = path.split("/", 1)[0].removesuffix(".py")
        if top == "orderloom":
            return "orderloom/" + path.split("/")[1].removesuffix(".py")
        if top not in ("asyncio", "threading", "concurrent", "selectors", "anyio", "<frozen importlib._bootstrap>"):
            return top
    return "other"


# ---------------------------------------------------------------- one setup


def run_setup(dep: Deployment, dictionary: Dictionary, args: argparse.Namespace) -> dict[str, Any]:
    """Start, drive, measure and stop one setup; returns its figures."""
    print(f"\n== {dep.name}: starting {', '.join(dep.commands)} ...", flush=True)
    dep.start()
    try:
        procs = dep.processes()
        watcher = CheckpointWatcher(dep.checkpoint_reader())
        watcher.start()
        meters: dict[str, Any] = {}
        heads: dict[str, int] = {}
        profiled: dict[str, Any] = {}

        def on_tick(rec: Recorder) -> None:
            if "cpu" not in meters and time.monotonic() >= rec.warm_at:
                meters["cpu"] = CpuMeter({**procs, **nats_server(), "load generator": psutil.Process()})
                meters["pg"] = PgMeter(procs) if dep.schema else None
                heads["start"] = httpx2.get(dep.base + "/healthz", timeout=10).json()["position"]

        def mid_window() -> None:
            if args.profile_seconds <= 0:
                return
            # The busiest process of the setup over one second, then py-spy on it.
            snap = {n: CpuMeter._cpu(p) for n, p in procs.items()}
            time.sleep(1.0)
            busiest = max(procs, key=lambda n: CpuMeter._cpu(procs[n]) - snap[n])
            out = dep.logs / f"{dep.name}-profile.txt"
            profiled.update(process=busiest, **profile(procs[busiest].pid, args.profile_seconds, out))

        rec = asyncio.run(
            drive(
                dep,
                dictionary,
                users=args.users,
                sse=args.sse,
                seconds=args.seconds,
                warmup=args.warmup,
                max_orders=args.orders,
                on_tick=on_tick,
                tick_s=0.25,
                mid_window=mid_window,
            )
        )
        if "cpu" not in meters:
            raise SystemExit("BENCHMARK FAILED: the run ended before its warm-up did; raise --orders or lower --warmup")
        wall, cores, rss, machine_busy = meters["cpu"].read()
        pg_cores, backends = meters["pg"].read() if meters["pg"] is not None else (0.0, 0)
        head_end = httpx2.get(dep.base + "/healthz", timeout=10).json()["position"]
        window = rec.end_at - rec.warm_at
        events_per_s = (head_end - heads["start"]) / wall
        # Let the views catch up with everything written, then stop watching.
        deadline = time.monotonic() + 60
        while watcher.head() < head_end and time.monotonic() < deadline:
            time.sleep(0.05)
        drained = watcher.head() >= head_end
        watcher.stop()
        lag = sorted(
            max(0.0, seen - t) * 1000
            for t, pos in rec.acks
            if rec.measured(t) and (seen := watcher.seen_at(pos)) is not None
        )
        unseen = sum(1 for t, pos in rec.acks if rec.measured(t) and watcher.seen_at(pos) is None)
        time.sleep(1.5)  # PostgreSQL backends publish their table statistics at most once a second
        tables = pg_table_stats(dep.schema) if dep.schema else []
        # The watcher's own polling is not the application's work.
        tables = [(t, s - watcher.reads if t == "view_checkpoints" else s, w) for t, s, w in tables]
    finally:
        dep.stop()
    orders_per_s = sum(1 for _ in rec.latencies["create_order"]) / window
    result: dict[str, Any] = {
        "events_per_s": events_per_s,
        "orders_per_s": orders_per_s,
        "window_s": window,
        "orders_total": rec.orders,
        "latency": {},
        "lag_p50_ms": percentile(lag, 50),
        "lag_p99_ms": percentile(lag, 99),
        "lag_max_ms": lag[-1] if lag else float("nan"),
        "lag_samples": len(lag),
        "lag_zero_share": sum(1 for x in lag if x == 0) / len(lag) if lag else float("nan"),
        "lag_unseen": unseen,
        "drained": drained,
        "sse_p50_ms": percentile(sorted(x for _, x in rec.sse_lag), 50),
        "sse_p99_ms": percentile(sorted(x for _, x in rec.sse_lag), 99),
        "sse_events": rec.sse_events,
        "sse_overflows": rec.sse_overflows,
        "cores": cores,
        "rss": rss,
        "machine_busy_cores": machine_busy,
        "pg_cores": pg_cores,
        "pg_backends": backends,
        "statuses": dict(rec.statuses),
        "errors": rec.errors[:5],
        "profile": profiled,
        "tables": tables,
        "orders_all": rec.orders,
    }
    for ep in ENDPOINTS:
        xs = sorted(ms for _, ms in rec.latencies[ep])
        result["latency"][ep] = (len(xs), percentile(xs, 50), percentile(xs, 99))
    return result


def print_setup(name: str, r: dict[str, Any]) -> None:
    print(f"-- {name}: {r['window_s']:.0f} s measured, {r['orders_total']:,} orders in all")
    print(f"   sustained {r['events_per_s']:,.0f} events/s ({r['orders_per_s']:,.1f} orders/s placed)")
    print(f"   {'endpoint':<14}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for ep, (n, p50, p99) in r["latency"].items():
        print(f"   {ep:<14}{n:>10,}{p50:>10.1f}{p99:>10.1f}")
    print(
        f"   event -> view lag after the write's answer: p50 {r['lag_p50_ms']:.1f} ms, p99 {r['lag_p99_ms']:.1f} ms,"
        f" max {r['lag_max_ms']:.1f} ms over {r['lag_samples']:,} answers; {r['lag_zero_share']:.0%} already in the"
        f" view when the answer arrived ({r['lag_unseen']} never seen; views drained: {r['drained']})"
    )
    print(
        f"   event -> SSE: p50 {r['sse_p50_ms']:.1f} ms, p99 {r['sse_p99_ms']:.1f} ms;"
        f" {r['sse_events']:,} deliveries, {r['sse_overflows']} overflows"
    )
    print(f"   {'process':<36}{'CPU cores':>10}{'RSS MB':>10}")
    for proc, c in sorted(r["cores"].items()):
        rss = r["rss"].get(proc, float("nan"))
        print(f"   {proc:<36}{c:>10.2f}{rss:>10.0f}")
    if r["pg_backends"]:
        print(f"   {'postgresql backends (' + str(r['pg_backends']) + ')':<36}{r['pg_cores']:>10.2f}")
    print(f"   whole machine busy: {r['machine_busy_cores']:.2f} of {os.cpu_count()} cores (other users included)")
    bad = {k: v for k, v in r["statuses"].items() if not k.split()[-1].startswith("2")}
    print(f"   non-2xx answers and client errors: {bad or 'none'}")
    for e in r["errors"]:
        print(f"     {e}")
    if r["tables"]:
        n = max(1, r["orders_all"])
        per = ", ".join(f"{t} {s / n:.1f}" for t, s, _ in r["tables"][:8] if s)
        print(
            f"   PostgreSQL scans per order (all processes, whole run, pg_stat_user_tables, the lag watcher's"
            f" polls left out): {per}"
        )
        print(f"     = {sum(s for _, s, _ in r['tables']) / n:.1f} table scans per order in all")
    prof = r["profile"]
    if prof.get("own"):
        print(
            f"   profile of {prof['process']} ({prof['samples']:,} on-CPU samples, py-spy;"
            f" left out: {prof['waiting']:,} samples of parked threads, {prof['db_wait']:,} of threads waiting for"
            " PostgreSQL's answer):"
        )
        print("     by package (innermost non-asyncio frame):")
        for what, k in prof["package"]:
            print(f"       {100 * k / prof['samples']:5.1f}%  {what}")
        print("     top functions by own time:")
        for what, k in prof["own"]:
            print(f"       {100 * k / prof['samples']:5.1f}%  {what}")
    elif prof:
        print(f"   profile failed: {prof.get('error')}")


def figures(name: str, r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{name}_events_per_s": round(r["events_per_s"]),
        f"{name}_orders_per_s": round(r["orders_per_s"], 1),
    }
    for ep, (_, p50, p99) in r["latency"].items():
        out[f"{name}_{ep}_p50_ms"] = round(p50, 1)
        out[f"{name}_{ep}_p99_ms"] = round(p99, 1)
    out[f"{name}_view_lag_p50_ms"] = round(r["lag_p50_ms"], 1)
    out[f"{name}_view_lag_p99_ms"] = round(r["lag_p99_ms"], 1)
    out[f"{name}_sse_p99_ms"] = round(r["sse_p99_ms"], 1)
    ours = sum(
        c for p, c in r["cores"].items() if p not in ("load generator",) and not p.startswith(("postgres", "nats"))
    )
    out[f"{name}_orderloom_cpu_cores"] = round(ours, 2)
    out[f"{name}_postgres_cpu_cores"] = round(r["pg_cores"], 2)
    out[f"{name}_events_per_orderloom_core_s"] = round(r["events_per_s"] / ours) if ours > 0 else None
    out[f"{name}_server_errors"] = sum(v for k, v in r["statuses"].items() if k.split()[-1].startswith("5"))
    return out


# The capacity model of docs/scaling.md, from this run's CPU cost per order.
PEAK_FACTOR = 5.0  # peak hour over the daily average
REAL_ORDER = 1.5  # a production order costs 1.5x the mix: ~15 events, more reads, monitors, webhooks
UTILISATION = 0.6  # cores are sized to run at 60 % at the peak
DAILY = (1_000_000, 10_000_000, 100_000_000)


def cost_per_order(r: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per order of the mix, by component, from the cluster run."""
    orders = r["orders_per_s"]
    parts = {
        "API workers": sum(c for p, c in r["cores"].items() if p.startswith("api")),
        "relay": r["cores"].get("relay", 0.0),
        "consumer": r["cores"].get("consumer", 0.0),
        "PostgreSQL": r["pg_cores"],
        "NATS": sum(c for p, c in r["cores"].items() if p.startswith("nats")),
    }
    return {k: 1000 * v / orders for k, v in parts.items()} if orders > 0 else {}


def print_capacity(r: dict[str, Any]) -> dict[str, float]:
    """Cores per component for 1M, 10M and 100M orders a day at the stated assumptions."""
    cost = cost_per_order(r)
    print(
        f"\ncapacity model (docs/scaling.md): measured CPU ms per order x {REAL_ORDER} (real orders), peak"
        f" {PEAK_FACTOR:g}x the daily average, cores at {UTILISATION:.0%}"
    )
    print(f"   {'component':<14}{'ms/order':>10}" + "".join(f"{f'{d // 1_000_000}M/day':>12}" for d in DAILY))
    for part, ms in cost.items():
        need = [d / 86_400 * PEAK_FACTOR * REAL_ORDER * ms / 1000 / UTILISATION for d in DAILY]
        print(f"   {part:<14}{ms:>10.1f}" + "".join(f"{n:>12.1f}" for n in need))
    print("   (cores; extrapolated linearly from one machine: see docs/scaling.md for what does not scale linearly)")
    return {f"cpu_ms_per_order_{k.split()[0].lower()}": round(v, 2) for k, v in cost.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setups", default="embedded,cluster", help="comma-separated: embedded, cluster")
    ap.add_argument("--workers", type=int, default=2, help="API workers of the cluster setup")
    ap.add_argument("--users", type=int, default=16, help="concurrent virtual users placing orders")
    ap.add_argument("--sse", type=int, default=4, help="SSE subscribers on /v1/stream")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds per setup")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of load before measuring")
    ap.add_argument("--orders", type=int, default=100_000, help="at most this many orders per setup")
    ap.add_argument("--profile-seconds", type=float, default=15.0, help="py-spy the busiest process (0: off)")
    ap.add_argument("--logs", default="", help="keep the processes' logs and profiles here (default: temporary)")
    args = ap.parse_args()
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    print(f"machine: {machine()}")
    print(
        f"mix per order: create + route + 3 atomic batches of 3 events + 4 chain reads (11 events, 9 requests);"
        f" {args.users} users, {args.sse} SSE subscribers, {args.warmup:.0f} s warm-up + {args.seconds:.0f} s"
    )
    dictionary = load_dictionary()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="orderloom-load-logs-") as tmp:
        logs = Path(args.logs or tmp)
        logs.mkdir(parents=True, exist_ok=True)
        for name in setups:
            dep = embedded(logs) if name == "embedded" else cluster(logs, args.workers)
            try:
                results[name] = run_setup(dep, dictionary, args)
            finally:
                dep.cleanup()
            label = name if name == "embedded" else f"cluster ({args.workers} API workers + relay + consumer)"
            print_setup(label, results[name])
    out: dict[str, Any] = {}
    for name, r in results.items():
        out.update(figures(name, r))
    if "embedded" in results and "cluster" in results:
        ratio = results["cluster"]["events_per_s"] / results["embedded"]["events_per_s"]
        print(f"\ncluster / embedded sustained events/s on this machine: {ratio:.2f}x")
        out["cluster_over_embedded_events_ratio"] = round(ratio, 2)
    if "cluster" in results:
        out.update(print_capacity(results["cluster"]))
    failed = [n for n, r in results.items() if not r["drained"] or r["lag_unseen"]]
    emit(out)
    if failed:
        print(f"BENCHMARK FAILED: the views of {', '.join(failed)} did not catch up with the log", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
