"""Ingest benchmark: 100,000 events through Orderloom's intake, against two references.

1. Orderloom's store, the target: `EventStore.append` of 1,000-event requests
   (building the `Event`s, idempotency by id, expected-seq checks, canonical
   JSON, hash chain, durable commit) on a fresh SQLite file, from one caller.
2. Orderloom's intake: `Intake.record(batch)` end to end (dictionary
   validation, sealing of personal data, then the store) from several threads
   so group commit can share transactions, then from one thread.
3. The `eventsourcing` library's SQLite persistence doing the same work
   (10,000 aggregates x 10 events, ~200-byte payloads, building the events
   included), one to 1,000 aggregates per commit; its best batch size counts.
4. A raw `sqlite3` executemany of the very rows Orderloom wrote, in one
   transaction, into a table with one unique (stream, seq) index: the ceiling.

The machine is shared, so the store path, the library and the ceiling are
measured in interleaved rounds (`--rounds`) and each counts its best round: a
burst of someone else's load then cannot fall on one path only. The raw
CloudEvent dicts are generated before any clock starts.

Every figure is events (rows) per second of wall time; CPU seconds of this
process are printed beside them as a cross-check that moves less with other
load. The last line printed is one JSON object with the figures.

    .venv/bin/python benchmarks/ingest.py [--orders 10000] [--events-per-order 10] [--rounds 3]
        [--store-threads 1] [--threads 8] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from _common import as_event, base_time, emit, machine, order_raws, payload_sizes, percentile
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.dictionary import load_dictionary
from orderloom.store.port import AppendRequest
from orderloom.store.sqlite import SQLiteEventStore

TARGET_VS_LIBRARY = 2.0
TARGET_VS_RAW = 0.40
LIBRARY_BATCHES = (1, 10, 100, 1000)
COLUMNS = "position, id, oid, seq, type, time, body, prevhash, hash, recorded"


class Failed(SystemExit):
    """The benchmark's own check failed: stop with a non-zero exit status."""

    def __init__(self, message: str) -> None:
        super().__init__(f"BENCHMARK FAILED: {message}")


# -- Orderloom --------------------------------------------------------------------


@dataclass
class OrderloomRun:
    threads: int
    events: int
    seconds: float
    cpu: float
    batch_p50_ms: float
    batch_p99_ms: float
    transactions: int
    customer_keys: int
    body_bytes: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


def run_orderloom(path: str, batches: list[list[dict[str, Any]]], threads: int) -> OrderloomRun:
    """Record every batch through `intake.record` from `threads` threads; check everything landed."""
    expected = sum(len(b) for b in batches)
    services = build_services(Settings(db_url=f"sqlite:///{os.path.abspath(path)}"))
    lock = threading.Lock()
    todo = iter(batches)
    latencies: list[float] = []
    problems: list[str] = []
    accepted = [0]
    start = threading.Barrier(threads + 1)

    def worker() -> None:
        start.wait()
        while True:
            with lock:
                batch = next(todo, None)
            if batch is None:
                return
            t0 = time.perf_counter()
            try:
                results = services.intake.record(batch)
            except Exception as exc:  # noqa: BLE001 - reported, then the run fails
                with lock:
                    problems.append(f"intake.record raised {exc!r}")
                return
            took = time.perf_counter() - t0
            ok = sum(1 for r in results if r.status == "accepted")
            with lock:
                latencies.append(took)
                accepted[0] += ok
                problems.extend(
                    f"event {r.index} of a batch: {r.status} {[p.as_dict() for p in r.problems]}"
                    for r in results
                    if r.status != "accepted"
                )

    workers = [threading.Thread(target=worker, name=f"bench-{i}") for i in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for w in workers:
        w.join()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = services.store.last_position()
    services.close()
    if problems:
        raise Failed(f"{len(problems)} events were not accepted; first: {problems[0]}")
    if accepted[0] != expected or stored != expected:
        raise Failed(f"expected {expected} events, intake accepted {accepted[0]}, the store holds {stored}")
    with sqlite3.connect(path) as conn:
        # One `recorded` stamp per write transaction: how well group commit grouped.
        transactions = conn.execute("SELECT COUNT(DISTINCT recorded) FROM events").fetchone()[0]
        customer_keys = conn.execute("SELECT COUNT(*) FROM customer_keys").fetchone()[0]
        body_bytes = conn.execute("SELECT AVG(LENGTH(body)) FROM events").fetchone()[0]
    latencies.sort()
    return OrderloomRun(
        threads=threads,
        events=expected,
        seconds=seconds,
        cpu=cpu,
        batch_p50_ms=percentile(latencies, 50) * 1000,
        batch_p99_ms=percentile(latencies, 99) * 1000,
        transactions=transactions,
        customer_keys=customer_keys,
        body_bytes=body_bytes,
    )


@dataclass
class Timed:
    """One measured path: wall and CPU seconds for `events` events."""

    events: int
    seconds: float
    cpu_seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_seconds


def fresh(path: str) -> str:
    """`path` with any earlier SQLite file (and its WAL) removed."""
    for extra in ("", "-wal", "-shm"):
        if os.path.exists(path + extra):
            os.remove(path + extra)
    return path


def run_store(path: str, batches: list[list[dict[str, Any]]], threads: int) -> Timed:
    """The store's public API: build `Event`s and `append` them (dedupe, expected-seq checks,
    hash chain, durable group commit) from `threads` threads; timed and checked."""
    expected = sum(len(b) for b in batches)
    store = SQLiteEventStore(fresh(path))
    lock = threading.Lock()
    todo = iter(batches)
    start = threading.Barrier(threads + 1)

    def worker() -> None:
        start.wait()
        while True:
            with lock:
                batch = next(todo, None)
            if batch is None:
                return
            # Building the events is timed, as it is for the library.
            events = [as_event(raw) for raw in batch]
            store.append(AppendRequest(events, expect={e.oid: 0 for e in events if e.type == "order.placed"}))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for w in workers:
        w.join()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = store.last_position()
    store.close()
    if stored != expected:
        raise Failed(f"expected {expected} events in the store, found {stored}")
    return Timed(expected, seconds, cpu)


# -- eventsourcing ------------------------------------------------------------------


class BenchOrder(Aggregate):
    """An order as an `eventsourcing` aggregate: placed, then fulfilment steps."""

    @event("Placed")
    def __init__(self, data: dict[str, Any]) -> None:
        self.steps = 1

    @event("Progressed")
    def progress(self, kind: str, data: dict[str, Any]) -> None:
        self.steps += 1


class BenchApp(Application[Any]):
    """A plain application; persistence comes from the environment."""


def run_library(path: str, orders: list[list[dict[str, Any]]], per_commit: int) -> tuple[Timed, str]:
    """Build and save every order's aggregate, `per_commit` aggregates per save(); timed and checked."""
    app = BenchApp(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": fresh(path)})
    with app.recorder.datastore.transaction(commit=False) as cur:  # type: ignore[attr-defined]
        cur.execute("PRAGMA journal_mode")
        journal = cur.fetchone()[0]
        cur.execute("PRAGMA synchronous")
        synchronous = cur.fetchone()[0]
    expected = sum(len(o) for o in orders)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(orders), per_commit):
        aggregates = []
        for raws in orders[i : i + per_commit]:
            agg = BenchOrder(data=raws[0]["data"])
            for raw in raws[1:]:
                agg.progress(kind=raw["type"], data=raw["data"])
            aggregates.append(agg)
        app.save(*aggregates)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = app.recorder.max_notification_id()
    app.close()
    if stored != expected:
        raise Failed(f"eventsourcing stored {stored} events, expected {expected}")
    return Timed(expected, seconds, cpu), f"journal_mode={journal} synchronous={synchronous} (2 = FULL)"


# -- raw sqlite3 ---------------------------------------------------------------------


RAW_SCHEMA = """
CREATE TABLE events (
    position INTEGER NOT NULL,
    id       TEXT NOT NULL,
    stream   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    type     TEXT NOT NULL,
    time     TEXT NOT NULL,
    body     BLOB NOT NULL,
    prevhash TEXT NOT NULL,
    hash     TEXT NOT NULL,
    recorded TEXT NOT NULL,
    UNIQUE (stream, seq)
)
"""


def run_raw(path: str, rows: list[tuple[Any, ...]]) -> Timed:
    """One executemany of `rows` in one durable transaction into a fresh file; timed and checked."""
    conn = sqlite3.connect(fresh(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(RAW_SCHEMA)
    t0, c0 = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(f"INSERT INTO events ({COLUMNS.replace('oid', 'stream')}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    count = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.close()
    if count != len(rows):
        raise Failed(f"raw sqlite3 stored {count} rows, expected {len(rows)}")
    return Timed(len(rows), seconds, cpu)


# -- main ----------------------------------------------------------------------------


def best(runs: list[Timed]) -> Timed:
    """The fastest of several runs of one path."""
    return max(runs, key=lambda r: r.events_per_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--events-per-order", type=int, default=10)
    parser.add_argument("--orders-per-batch", type=int, default=100, help="orders per append / intake.record call")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of store, library and raw")
    parser.add_argument("--store-threads", type=int, default=1, help="callers of store.append (the target path)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent callers of intake.record")
    parser.add_argument("--dir", help="where the SQLite files go (default: a temporary directory, removed after)")
    parser.add_argument("--skip-library", action="store_true", help="skip the eventsourcing reference")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="leave the pre-generated input in the garbage collector's view (by default it is frozen)",
    )
    args = parser.parse_args(argv)

    workdir = args.dir or tempfile.mkdtemp(prefix="orderloom-ingest-")
    os.makedirs(workdir, exist_ok=True)
    total = args.orders * args.events_per_order
    print(f"machine: {machine()}")
    print(f"files:   {workdir}")
    load_start = os.getloadavg()[0]
    print(f"load:    {load_start:.1f} (1-minute load average at the start, {os.cpu_count()} cores)")

    dictionary = load_dictionary(())
    t0 = time.perf_counter()
    start = base_time()
    orders = [order_raws(dictionary, n, start, args.events_per_order) for n in range(args.orders)]
    batches = [
        [raw for raws in orders[i : i + args.orders_per_batch] for raw in raws]
        for i in range(0, len(orders), args.orders_per_batch)
    ]
    flat = [raw for raws in orders for raw in raws]
    data_bytes, raw_bytes = payload_sizes(flat)
    del flat
    if not args.no_gc_freeze:
        # The pre-generated input is the benchmark's, not the server's: keep the
        # collector from rescanning it during every timed path.
        gc.collect()
        gc.freeze()
    print(
        f"input:   {args.orders} orders x {args.events_per_order} events = {total} raw CloudEvents"
        f" in {len(batches)} batches of {args.orders_per_batch * args.events_per_order};"
        f" data payload {data_bytes:.0f} B mean, whole event {raw_bytes:.0f} B mean"
        f" (generated in {time.perf_counter() - t0:.1f} s, not timed;"
        f" {'left to' if args.no_gc_freeze else 'frozen out of'} the garbage collector)"
    )
    print()

    print(f"Orderloom intake.record, {args.threads} threads ...", flush=True)
    many = run_orderloom(fresh(os.path.join(workdir, "orderloom.db")), batches, args.threads)
    print("Orderloom intake.record, 1 thread ...", flush=True)
    one = run_orderloom(fresh(os.path.join(workdir, "orderloom-1t.db")), batches, 1)
    with sqlite3.connect(os.path.join(workdir, "orderloom.db")) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY position").fetchall()

    stores: list[Timed] = []
    library: dict[int, list[Timed]] = {}
    raws: list[Timed] = []
    library_note = "skipped"
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no} of {args.rounds}: store.append, {args.store_threads} caller(s) ...", flush=True)
        stores.append(run_store(os.path.join(workdir, "orderloom-store.db"), batches, args.store_threads))
        if not args.skip_library:
            # One aggregate per commit is never the library's best (a commit per order): once is enough.
            for per_commit in LIBRARY_BATCHES if round_no == 1 else LIBRARY_BATCHES[1:]:
                print(f"round {round_no}: eventsourcing, {per_commit} aggregate(s) per commit ...", flush=True)
                path = os.path.join(workdir, f"eventsourcing-{per_commit}.db")
                timed, library_note = run_library(path, orders, per_commit)
                library.setdefault(per_commit, []).append(timed)
        print(f"round {round_no}: raw sqlite3 executemany ...", flush=True)
        raws.append(run_raw(os.path.join(workdir, "raw.db"), rows))
    del rows
    store, raw = best(stores), best(raws)
    library_best = {k: best(v) for k, v in library.items()}

    print()
    print(f"{'path (best of its rounds)':<58} {'events/s':>10} {'seconds':>8} {'ev/CPU-s':>9}")
    print("-" * 88)
    lines: list[tuple[str, Timed]] = [
        (f"Orderloom store.append (the store's API), {args.store_threads} caller(s)", store)
    ]
    lines += [
        (
            f"Orderloom intake.record, {r.threads} thread{'s' if r.threads > 1 else ''}",
            Timed(r.events, r.seconds, r.cpu),
        )
        for r in (many, one)
    ]
    lines += [(f"eventsourcing SQLite, {k} aggregate(s) per commit", t) for k, t in library_best.items()]
    lines.append(("raw sqlite3 executemany, one transaction", raw))
    for label, t in lines:
        print(f"{label:<58} {t.events_per_s:>10,.0f} {t.seconds:>8.2f} {t.events_per_cpu_s:>9,.0f}")
    print()
    print(
        "every round, events/s: store "
        + ", ".join(f"{t.events_per_s:,.0f}" for t in stores)
        + "; raw "
        + ", ".join(f"{t.events_per_s:,.0f}" for t in raws)
        + "".join(f"; library {k}/commit " + ", ".join(f"{t.events_per_s:,.0f}" for t in v) for k, v in library.items())
    )
    for run in (many, one):
        print(
            f"Orderloom intake {run.threads}t: batch of {args.orders_per_batch * args.events_per_order} events"
            f" p50 {run.batch_p50_ms:.0f} ms, p99 {run.batch_p99_ms:.0f} ms;"
            f" {run.transactions} event transactions ({run.events / run.transactions:.0f} events each)"
            f", {run.customer_keys} customer keys stored with them; stored body {run.body_bytes:.0f} B mean"
        )
    print(f"eventsourcing durability: {library_note}; raw and Orderloom: WAL, synchronous=FULL")
    print(f"load:    {os.getloadavg()[0]:.1f} (1-minute load average at the end)")

    best_batch = max(library_best, key=lambda k: library_best[k].events_per_s) if library_best else None
    lib = library_best[best_batch] if best_batch is not None else None
    best_rate = lib.events_per_s if lib else float("nan")
    vs_library = many.events_per_s / best_rate
    vs_raw = many.events_per_s / raw.events_per_s
    store_vs_library = store.events_per_s / best_rate
    store_vs_raw = store.events_per_s / raw.events_per_s
    print()
    for name, lib_ratio, raw_ratio in (
        ("store.append", store_vs_library, store_vs_raw),
        ("intake.record (+ dictionary validation, personal-data sealing)", vs_library, vs_raw),
    ):
        if lib:
            verdict = "MET" if lib_ratio >= TARGET_VS_LIBRARY else "MISSED"
            print(
                f"Orderloom {name} / eventsourcing best ({best_batch} per commit): {lib_ratio:.2f}x"
                f"  (target >= {TARGET_VS_LIBRARY:.1f}x: {verdict})"
            )
        verdict = "MET" if raw_ratio >= TARGET_VS_RAW else "MISSED"
        print(f"Orderloom {name} / raw sqlite3: {raw_ratio:.1%}  (target >= {TARGET_VS_RAW:.0%}: {verdict})")
    if lib:
        print(
            f"per CPU-second (cross-check): store.append {store.events_per_cpu_s / lib.events_per_cpu_s:.2f}x"
            f" the library, {store.events_per_cpu_s / raw.events_per_cpu_s:.1%} of raw"
        )

    if not args.dir:
        shutil.rmtree(workdir, ignore_errors=True)
    emit(
        {
            "events": total,
            "rounds": args.rounds,
            "store_threads": args.store_threads,
            "threads": args.threads,
            "orderloom_store_events_per_s": round(store.events_per_s),
            "orderloom_store_events_per_cpu_s": round(store.events_per_cpu_s),
            "orderloom_store_ratio_vs_eventsourcing": round(store_vs_library, 3) if lib else None,
            "orderloom_store_ratio_vs_raw": round(store_vs_raw, 3),
            "orderloom_events_per_s": round(many.events_per_s),
            "orderloom_single_thread_events_per_s": round(one.events_per_s),
            "orderloom_batch_p99_ms": round(many.batch_p99_ms, 1),
            "eventsourcing_events_per_s_by_batch": {str(k): round(v.events_per_s) for k, v in library_best.items()},
            "eventsourcing_best_events_per_s": round(best_rate) if lib else None,
            "eventsourcing_best_events_per_cpu_s": round(lib.events_per_cpu_s) if lib else None,
            "eventsourcing_best_batch_orders": best_batch,
            "raw_sqlite_rows_per_s": round(raw.events_per_s),
            "raw_sqlite_rows_per_cpu_s": round(raw.events_per_cpu_s),
            "ratio_vs_eventsourcing": round(vs_library, 3) if lib else None,
            "ratio_vs_raw": round(vs_raw, 3),
            "store_target_vs_eventsourcing_met": bool(lib) and store_vs_library >= TARGET_VS_LIBRARY,
            "store_target_vs_raw_met": store_vs_raw >= TARGET_VS_RAW,
            "target_vs_eventsourcing_met": bool(lib) and vs_library >= TARGET_VS_LIBRARY,
            "target_vs_raw_met": vs_raw >= TARGET_VS_RAW,
            "load_average_start_end": [round(load_start, 1), round(os.getloadavg()[0], 1)],
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
