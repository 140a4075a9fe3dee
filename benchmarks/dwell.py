"""Dwell analytics benchmark: load ~1,000,000 log events into DuckDB, then time heatmaps, the lens and exports.

The log is a synthetic fulfilment network written straight into a SQLite store
through its public API (`store.append`, hash chain and durable commit, no
intake validation): 100,000 orders of ten events each (placed, paid, routed,
released, picked, packed, scanned out, line-haul departed and arrived,
received at the forward warehouse) over 28 days, 12 central and 20 forward
warehouses of different speeds, dwell times log-normal and twice as long when
a warehouse step starts at night (00-06 in Shanghai), 3% of orders with one
event arriving late (stored after the rest) and 1% with a second scan. Event
data is the dictionary example's with ids, nodes and shipments replaced.

Measured, in one run:
1. reading the whole log through the port (`iter_log`), the floor any loader pays: the reference;
2. the full load into DuckDB (`DuckDBDwellAnalytics.refresh` from position 0): read, bulk insert, steps;
3. an incremental refresh after 1,000 late events for existing orders;
4. heatmap queries (aggregate + heatmap shaping) in the model's time zone and in another one, and the
   whole-network heatmap against the same GROUP BY without percentiles (the reference);
5. the status lens of random orders (ops, and a consumer whose typical durations are derived per role);
6. exporting every step to Parquet.

    .venv/bin/python benchmarks/dwell.py [--orders 100000] [--samples 200] [--db PATH]

With --db the file is kept; a later run with the same --db reuses it (no fill).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import tempfile
import time
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import emit, machine, percentile

from orderloom.bootstrap import Services, build_services
from orderloom.core.envelope import Event, format_time
from orderloom.core.settings import Settings
from orderloom.status.analytics.duck import DuckDBDwellAnalytics
from orderloom.status.analytics.heatmap import heatmap
from orderloom.status.analytics.lens import order_lens
from orderloom.status.analytics.query import parse_dwell_query
from orderloom.store import iter_log
from orderloom.store.port import AppendRequest

CENTRAL = [f"CW-{k:02d}" for k in range(1, 13)]
FORWARD = [f"FW-{k:02d}" for k in range(1, 21)]
# (type, median minutes after the previous event, night-sensitive warehouse step)
CHAIN = (
    ("order.placed", 0, False),
    ("payment.captured", 4, False),
    ("routing.decided", 2, False),
    ("wms.released", 20, True),
    ("pick.completed", 55, True),
    ("pack.completed", 25, True),
    ("outbound.scanned", 40, True),
    ("linehaul.departed", 110, True),
    ("linehaul.arrived", 300, False),
    ("forward_wh.received", 50, True),
)
SHANGHAI = timedelta(hours=8)


class Failed(SystemExit):
    """The benchmark's own check failed: stop with a non-zero exit status."""

    def __init__(self, message: str) -> None:
        super().__init__(f"BENCHMARK FAILED: {message}")


def open_services(path: str) -> Services:
    return build_services(Settings(db_url=f"sqlite:///{os.path.abspath(path)}"))


def _templates(services: Services) -> dict[str, dict[str, Any]]:
    out = {}
    for etype, _, _ in CHAIN:
        example = deepcopy(dict(services.dictionary.types[etype].example))
        example.setdefault("data", {})
        out[etype] = example
    return out


def _data(etype: str, template: dict[str, Any], oid: str, central: str, forward: str) -> dict[str, Any]:
    data = dict(template["data"])
    if "shipment" in data:
        data["shipment"] = f"{oid}-S1"
    if etype == "linehaul.departed":
        data.update(from_node=central, to_node=forward, trip=f"LH-{central}-{forward}")
    elif etype in ("linehaul.arrived", "forward_wh.received"):
        data["node"] = forward
    elif "node" in data:
        data["node"] = central
    return data


def order_events(
    n: int, start: datetime, rng: random.Random, templates: dict[str, dict[str, Any]], speed: dict[str, float]
) -> list[Event]:
    """One order's events in the order the store learns them (a late one goes last)."""
    oid = f"OL-BENCH-{n:07d}"
    central = CENTRAL[int(rng.random() ** 1.5 * len(CENTRAL))]
    forward = FORWARD[rng.randrange(len(FORWARD))]
    at = start
    events = []
    for k, (etype, median, night_sensitive) in enumerate(CHAIN):
        if k:
            minutes = median * math.exp(rng.gauss(0, 0.5))
            node = forward if etype == "forward_wh.received" else central
            minutes *= speed[node]
            if night_sensitive and (at + SHANGHAI).hour < 6:
                minutes *= 2
            at += timedelta(minutes=minutes)
        template = templates[etype]
        events.append(
            Event(
                id=f"{oid}-{k:02d}",
                type=etype,
                source="bench-dwell",
                oid=oid,
                time=format_time(at),
                data=_data(etype, template, oid, central, forward),
                actor=template.get("actor"),
                deviceid=template.get("deviceid"),
                proof=template.get("proof") or {},
            )
        )
        if etype == "outbound.scanned" and rng.random() < 0.01:
            again = events[-1]
            events.append(
                Event(f"{oid}-rescan", etype, again.source, oid, format_time(at + timedelta(minutes=2)), again.data)
            )
    if rng.random() < 0.03:
        events.append(events.pop(rng.randrange(1, len(events) - 1)))
    return events


def fill(services: Services, orders: int, seed: int) -> tuple[int, float]:
    """Append the synthetic log; returns (events, seconds)."""
    rng = random.Random(seed)
    templates = _templates(services)
    speed = {node: 0.6 + 0.9 * rng.random() for node in CENTRAL + FORWARD}
    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30)
    total = 0
    t0 = time.perf_counter()
    last_report = t0
    batch: list[Event] = []
    for n in range(orders):
        # Orders arrive mostly in the daytime (Shanghai), over 28 days.
        day = rng.randrange(28)
        hour = min(23, max(0, int(rng.gauss(14, 4.5))))
        start = first_day + timedelta(days=day, hours=hour, seconds=rng.randrange(3600)) - SHANGHAI
        batch.extend(order_events(n, start, rng, templates, speed))
        if len(batch) >= 10_000 or n == orders - 1:
            services.store.append(AppendRequest(batch))
            total += len(batch)
            batch = []
            now = time.perf_counter()
            if now - last_report >= 10:
                print(f"  ... {total:,} events, {total / (now - t0):,.0f} events/s", flush=True)
                last_report = now
    return total, time.perf_counter() - t0


def late_events(services: Services, count: int, rng: random.Random) -> list[Event]:
    """Forward-warehouse checks for existing orders, learned now but stamped an hour after receipt."""
    out = []
    last = services.store.last_position()
    template = deepcopy(dict(services.dictionary.types["forward_wh.check_passed"].example))
    seen: set[str] = set()
    while len(out) < count:
        e = services.store.read_all(after=rng.randint(0, last - 1), limit=1)[0]
        if e.type != "forward_wh.received" or e.oid in seen:
            continue
        seen.add(e.oid)
        data = {**template["data"], "shipment": f"{e.oid}-S1", "node": e.data["node"]}
        at = e.occurred_at + timedelta(hours=1)
        out.append(
            Event(f"{e.oid}-late-{len(out)}", "forward_wh.check_passed", "bench-dwell", e.oid, format_time(at), data)
        )
    return out


def timed(fn: Any, args: list[Any]) -> list[float]:
    """Milliseconds per call, ascending."""
    out = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the log (~10 events each)")
    parser.add_argument("--samples", type=int, default=200, help="timed heatmaps and lenses of each kind")
    parser.add_argument("--db", help="SQLite file to fill or reuse (kept); default: a temporary file, removed after")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    tmpdir = None
    path = args.db
    if path is None:
        tmpdir = tempfile.mkdtemp(prefix="orderloom-dwell-")
        path = os.path.join(tmpdir, "dwell.db")
    print(f"machine: {machine()}")
    print(f"store:   {path}")
    services = open_services(path)
    try:
        if services.store.last_position() == 0:
            print(f"filling {args.orders:,} orders (store.append directly, no intake validation)", flush=True)
            events, seconds = fill(services, args.orders, args.seed)
            print(f"filled {events:,} events in {seconds:.1f} s: {events / seconds:,.0f} events/s")
        held = services.store.last_position()
        print(f"log: {held:,} events")

        # 1. The reference: reading the log through the port, nothing else.
        t0 = time.perf_counter()
        read = sum(1 for _ in iter_log(services.store))
        read_s = time.perf_counter() - t0
        if read != held:
            raise Failed(f"iter_log read {read:,} events, the log holds {held:,}")

        # 2. The full load.
        model = DuckDBDwellAnalytics(services.store, services.dictionary)
        loaded = model.refresh()
        summary = model.summary()
        if loaded.read != held or summary["events"] == 0:
            raise Failed(f"the load read {loaded.read:,} of {held:,} events")

        # 3. Late events for existing orders: only their orders' steps are recomputed.
        rng = random.Random(args.seed)
        late = late_events(services, 1000, rng)
        services.store.append(AppendRequest(late))
        incremental = model.refresh()
        if incremental.events != len(late) or incremental.orders != len({e.oid for e in late}):
            raise Failed(f"the incremental refresh loaded {incremental.events} events of {len(late)}")
        steps_after = model.summary()["steps"]
        if steps_after != summary["steps"] + len(late):
            raise Failed(f"{len(late)} late events should add as many steps: {summary['steps']:,} -> {steps_after:,}")

        # 4. Heatmaps: every combination the console asks for, in the model's time zone and in UTC.
        d = services.dictionary
        stages = ["warehouse", "transport", "forward_warehouse", None]
        nodes = [None, None, "CW-01", "FW-03"]
        queries = [
            parse_dwell_query(d, by=by, metric=metric, stage=stage, node=node)
            for by in ("hour", "day")
            for metric in ("p50", "p90", "p99")
            for stage in stages
            for node in nodes
        ]
        picked = [queries[rng.randrange(len(queries))] for _ in range(args.samples)]
        for q in picked[:10]:
            heatmap(model.dwell(q), q, d)

        def one_heatmap(q: Any) -> None:
            heatmap(model.dwell(q), q, d)

        heat_ms = timed(one_heatmap, picked)
        utc = [parse_dwell_query(d, by=q.by, metric=q.metric, stage=q.stage, node=q.node, tz="UTC") for q in picked]
        utc_ms = timed(one_heatmap, utc[: max(20, args.samples // 5)])
        whole = parse_dwell_query(d, by="hour")
        whole_ms = timed(one_heatmap, [whole] * 30)
        # Reaches into the adapter on purpose: the same GROUP BY over the same steps without percentiles.
        count_only_ms = timed(
            lambda _: model._db().execute("SELECT node, stage, hour, count(*) FROM steps GROUP BY ALL").fetchall(),
            list(range(30)),
        )
        full = parse_dwell_query(d, by="hour")
        doc = heatmap(model.dwell(full), full, d)
        if doc["steps"] != steps_after or len(doc["columns"]) != 24:
            raise Failed(f"the heatmap counts {doc['steps']:,} steps, the model holds {steps_after:,}")

        # 5. The lens of random orders.
        oids = [f"OL-BENCH-{rng.randrange(args.orders):07d}" for _ in range(args.samples)]
        now = services.clock.now()
        lens_ms = timed(lambda oid: order_lens(services.reader, model, oid, "ops", now=now), oids)
        t0 = time.perf_counter()
        order_lens(services.reader, model, oids[0], "consumer", now=now)
        consumer_first_ms = (time.perf_counter() - t0) * 1000
        consumer_ms = timed(lambda oid: order_lens(services.reader, model, oid, "consumer", now=now), oids[:50])

        # 6. Export every step.
        out = os.path.join(tmpdir or os.path.dirname(os.path.abspath(path)), "steps.parquet")
        t0 = time.perf_counter()
        exported = model.export(full, Path(out), fmt="parquet", rows="steps")
        export_s = time.perf_counter() - t0
        export_mb = os.path.getsize(out) / 1e6
        model.close()
    finally:
        services.close()

    load_rate = loaded.read / loaded.seconds
    read_rate = read / read_s
    print()
    print(
        f"{held:,} events, {summary['orders']:,} orders -> {summary['steps']:,} closed steps, "
        f"{summary['open_steps']:,} open"
    )
    print(f"{'measure':<58} {'figure':>22}")
    print("-" * 81)
    print(f"{'read the log through the port (iter_log), reference':<58} {read_rate:>15,.0f} ev/s")
    print(f"{'full load into DuckDB (read + insert + steps)':<58} {load_rate:>15,.0f} ev/s")
    print(f"{'  = share of the bare read rate':<58} {load_rate / read_rate:>21.0%}")
    print(f"{'  seconds':<58} {loaded.seconds:>20.1f} s")
    print(f"{'incremental refresh, 1,000 late events':<58} {incremental.seconds * 1000:>19.0f} ms")

    def row(label: str, ms: list[float]) -> None:
        print(f"{label:<58} p50 {percentile(ms, 50):>6.1f} p99 {percentile(ms, 99):>6.1f} ms")

    row("heatmap, model's zone (Asia/Shanghai)", heat_ms)
    row("heatmap, another zone (UTC, converted per query)", utc_ms)
    row("heatmap, whole network by hour (no filter)", whole_ms)
    row("  reference: the same GROUP BY, count only", count_only_ms)
    row("lens, ops", lens_ms)
    print(f"{'lens, consumer, first (derives its typical durations)':<58} {consumer_first_ms:>19.0f} ms")
    row("lens, consumer, cached", consumer_ms)
    print(f"{'export all steps to Parquet':<58} {export_s:>12.1f} s {export_mb:>5.1f} MB")
    if exported != steps_after:
        raise Failed(f"the export wrote {exported:,} rows, the model holds {steps_after:,} steps")
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)
    emit(
        {
            "events": held,
            "read_events_per_s": round(read_rate),
            "load_events_per_s": round(load_rate),
            "load_s": round(loaded.seconds, 2),
            "incremental_1000_late_ms": round(incremental.seconds * 1000, 1),
            "heatmap_p50_ms": round(percentile(heat_ms, 50), 2),
            "heatmap_p99_ms": round(percentile(heat_ms, 99), 2),
            "heatmap_other_tz_p99_ms": round(percentile(utc_ms, 99), 2),
            "heatmap_whole_p50_ms": round(percentile(whole_ms, 50), 2),
            "count_only_p50_ms": round(percentile(count_only_ms, 50), 2),
            "lens_p50_ms": round(percentile(lens_ms, 50), 2),
            "lens_p99_ms": round(percentile(lens_ms, 99), 2),
            "consumer_lens_first_ms": round(consumer_first_ms),
            "export_steps_s": round(export_s, 2),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
