"""Chain-read benchmark: p50/p99 of reading one order's chain from a store of 1,000,000 events.

The read is exactly what `GET /v1/orders/{oid}/chain` does in its thread pool:
`services.reader.chain(oid, "ops")` (find the order, read its stream, unseal
personal data with the customer's key, build the chain, apply the role view),
for orders picked at random. The bare `store.read_stream(oid)` is timed
separately.

The fill skips intake: events are built as `Event` objects from the same
dictionary-based templates as the ingest benchmark and appended in large
`AppendRequest`s through the store's public API (hash chain and durable commit
included, validation not). order.placed data is sealed with the customer's key
(`store.customer_keys`), as intake would, so reads pay for unsealing.

    .venv/bin/python benchmarks/chain_read.py [--events 1000000] [--samples 2000] [--db PATH]

With --db the file is kept; a later run with the same --db reuses it (no fill).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from typing import Any

from _common import as_event, base_time, emit, machine, order_raws, percentile

from orderloom.bootstrap import Services, build_services
from orderloom.core.pii import PREFIX, seal
from orderloom.core.settings import Settings
from orderloom.store.port import AppendRequest

TARGET_P99_MS = 5.0
ROLE = "ops"


class Failed(SystemExit):
    """The benchmark's own check failed: stop with a non-zero exit status."""

    def __init__(self, message: str) -> None:
        super().__init__(f"BENCHMARK FAILED: {message}")


def open_services(path: str) -> Services:
    return build_services(Settings(db_url=f"sqlite:///{os.path.abspath(path)}"))


def fill(
    services: Services, orders: int, events_per_order: int, orders_per_request: int, orders_per_customer: int
) -> float:
    """Append `orders` orders; return the seconds taken (building the events included)."""
    dictionary = services.dictionary
    store = services.store
    pii = dictionary.types["order.placed"].pii
    start = base_time()
    keys: dict[str, bytes] = {}
    t0 = time.perf_counter()
    last_report = t0
    for first in range(0, orders, orders_per_request):
        events = []
        for n in range(first, min(orders, first + orders_per_request)):
            customer = f"C-{n // orders_per_customer:08d}"
            raws = order_raws(dictionary, n, start, events_per_order, customer=customer)
            key = keys.get(customer)
            if key is None:
                key = store.customer_keys([customer], create=True)[customer]
                keys[customer] = key
            raws[0]["data"] = seal(raws[0]["data"], pii, key, customer)
            events.extend(as_event(raw) for raw in raws)
        store.append(AppendRequest(events))
        now = time.perf_counter()
        if now - last_report >= 10:
            done = min(orders, first + orders_per_request) * events_per_order
            print(f"  ... {done:,} events, {done / (now - t0):,.0f} events/s", flush=True)
            last_report = now
    return time.perf_counter() - t0


def pick_orders(services: Services, count: int, rng: random.Random) -> list[str]:
    """Order ids of `count` events at random positions (so orders are picked uniformly)."""
    last = services.store.last_position()
    out = []
    for _ in range(count):
        pos = rng.randint(1, last)
        out.append(services.store.read_all(after=pos - 1, limit=1)[0].oid)
    return out


def check_chain(view: dict[str, Any], oid: str, events_per_order: int) -> None:
    """The read must be a real one: every step there and personal data readable."""
    steps = view.get("steps") or []
    if view.get("oid") != oid or len(steps) != events_per_order:
        raise Failed(f"chain of {oid} has {len(steps)} steps, expected {events_per_order}")
    placed = steps[0]
    name = placed["data"].get("recipient", {}).get("name", "")
    if placed["type"] != "order.placed" or not name or name.startswith(PREFIX) or name == "[erased]":
        raise Failed(f"chain of {oid}: order.placed recipient not readable ({name!r})")


def timed(fn: Any, oids: list[str]) -> list[float]:
    """Milliseconds per call, ascending."""
    out = []
    for oid in oids:
        t0 = time.perf_counter()
        fn(oid)
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store (filled if missing)")
    parser.add_argument("--events-per-order", type=int, default=10)
    parser.add_argument("--samples", type=int, default=2000, help="timed reads of each kind")
    parser.add_argument("--warmup", type=int, default=200, help="untimed chain reads first")
    parser.add_argument("--cold", action="store_true", help="do not pre-read the file into the page cache")
    parser.add_argument("--db", help="SQLite file to fill or reuse (kept); default: a temporary file, removed after")
    parser.add_argument("--orders-per-request", type=int, default=1000, help="orders per AppendRequest in the fill")
    parser.add_argument("--orders-per-customer", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    tmpdir = None
    path = args.db
    if path is None:
        tmpdir = tempfile.mkdtemp(prefix="orderloom-chain-")
        path = os.path.join(tmpdir, "chain.db")
    print(f"machine: {machine()}")
    print(f"store:   {path}")

    services = open_services(path)
    held = services.store.last_position()
    fill_rate = None
    if held == 0:
        orders = args.events // args.events_per_order
        total = orders * args.events_per_order
        print(
            f"filling {total:,} events ({orders:,} orders x {args.events_per_order}, {args.orders_per_customer}"
            f" orders per customer, {args.orders_per_request * args.events_per_order:,} events per AppendRequest);"
            " store.append directly: no intake validation, personal data sealed",
            flush=True,
        )
        seconds = fill(services, orders, args.events_per_order, args.orders_per_request, args.orders_per_customer)
        held = services.store.last_position()
        if held != total:
            raise Failed(f"the fill left {held} events in the store, expected {total}")
        fill_rate = held / seconds
        print(f"filled in {seconds:.1f} s: {fill_rate:,.0f} events/s")
    else:
        print(f"reusing the {held:,} events already in {path}")
        if held != args.events:
            print(f"  note: --events {args.events:,} asked for, the file holds {held:,}; measuring what is there")
    services.close()

    if not args.cold:
        # A server that has been running holds its hot file in the page cache; a file left
        # on disk since the fill may not be. Read it once so the figure is not a disk test.
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
        print("page cache: warmed by reading the file once (--cold to measure from disk)")
    # A freshly started service: empty order directory cache, as after a deploy.
    services = open_services(path)
    size_mb = sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s)) / 1e6
    rng = random.Random(args.seed)
    warm = pick_orders(services, args.warmup, rng)
    chain_oids = pick_orders(services, args.samples, rng)
    stream_oids = pick_orders(services, args.samples, rng)
    check_chain(services.reader.chain(chain_oids[0], ROLE), chain_oids[0], args.events_per_order)
    for oid in warm:
        services.reader.chain(oid, ROLE)

    t0 = time.perf_counter()
    chain_ms = timed(lambda oid: services.reader.chain(oid, ROLE), chain_oids)
    chain_seconds = time.perf_counter() - t0
    stream_ms = timed(services.store.read_stream, stream_oids)
    services.close()

    def row(label: str, ms: list[float]) -> str:
        return (
            f"{label:<44} {percentile(ms, 50):>7.3f} {percentile(ms, 95):>7.3f} {percentile(ms, 99):>7.3f}"
            f" {ms[-1]:>7.3f}"
        )

    print()
    print(
        f"{held:,} events, {held // args.events_per_order:,} orders, {size_mb:,.0f} MB;"
        f" {args.samples} random orders per measurement after {args.warmup} warm-up reads"
    )
    print(f"{'read':<44} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    print("-" * 76)
    print(row(f'reader.chain(oid, "{ROLE}")', chain_ms))
    print(row("store.read_stream(oid)", stream_ms))
    reads_per_s = args.samples / chain_seconds
    print(f"chain reads/s, one thread: {reads_per_s:,.0f}")
    p99 = percentile(chain_ms, 99)
    verdict = "MET" if p99 <= TARGET_P99_MS else "MISSED"
    print(f"chain read p99 {p99:.3f} ms (target <= {TARGET_P99_MS:.0f} ms: {verdict})")

    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)
    emit(
        {
            "events": held,
            "fill_events_per_s": round(fill_rate) if fill_rate else None,
            "chain_read_p50_ms": round(percentile(chain_ms, 50), 3),
            "chain_read_p95_ms": round(percentile(chain_ms, 95), 3),
            "chain_read_p99_ms": round(p99, 3),
            "chain_read_max_ms": round(chain_ms[-1], 3),
            "chain_reads_per_s": round(reads_per_s),
            "read_stream_p50_ms": round(percentile(stream_ms, 50), 3),
            "read_stream_p99_ms": round(percentile(stream_ms, 99), 3),
            "target_p99_met": p99 <= TARGET_P99_MS,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
