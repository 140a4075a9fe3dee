"""Olist benchmark: replay the real Olist sample through the HTTP API, replay it again, then the report.

The sample (../shared/data/olist from the project root: 6,465 real orders of a
Brazilian marketplace) is mapped to ~36,000 atomic events and posted in batches
of 500 to `POST /v1/events`, each into a fresh SQLite store. Measured, in one run:

1. reference: the same events recorded by the intake directly (validation, sealing, store; no HTTP);
2. through the API in this process without its lifespan (HTTP, auth, JSON, batch answers; no pipeline);
3. through the API as `orderloom import olist` runs it: the app's lifespan too, so the in-process relay and
   consumers (views, monitors) work on the same cores while the replay runs;
4. the same replay again on store 3 (every event a duplicate: the idempotence check);
5. `orderloom report olist` on store 3: fold of the log, figures, the risk model, the dwell analytics.

    .venv/bin/python benchmarks/olist.py [--data DIR] [--batch 500]

Checks (BENCHMARK FAILED when broken): every event accepted the first time, every one a duplicate the second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine

from orderloom.bootstrap import Services, build_services
from orderloom.core.settings import Settings
from orderloom.olist import report
from orderloom.olist.clients import in_process_api
from orderloom.olist.replay import Counts, batches, replay
from orderloom.olist.source import OlistData, load

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "olist"


def _fail(message: str) -> None:
    print(f"BENCHMARK FAILED: {message}", flush=True)
    sys.exit(1)


def _fresh(folder: Path, name: str) -> Services:
    return build_services(Settings(db_url=f"sqlite:///{folder / name}", max_batch=1000))


def direct(data: OlistData, svc: Services, batch: int) -> tuple[int, float]:
    """The reference: the intake records the same batches, no HTTP."""
    started = time.perf_counter()
    n = 0
    for _, events in batches(data, batch):
        results = svc.intake.record(events)
        n += len(events)
        if any(r.status != "accepted" for r in results):
            _fail("the intake refused an Olist event: " + str([r.as_dict() for r in results if r.problems][:1]))
    return n, time.perf_counter() - started


def api_without_lifespan(data: OlistData, svc: Services, batch: int) -> Counts:
    """The app called over HTTP in-process, its lifespan (relay, consumers) not started."""
    from fastapi.testclient import TestClient

    from orderloom.api.app import create_app

    key, _ = svc.keys.create("ops", note="olist benchmark")
    client = TestClient(create_app(services=svc), raise_server_exceptions=False)
    return replay(data, client, key, batch=batch)


def row(label: str, value: str) -> None:
    print(f"{label:<66}{value:>22}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    if not (args.data / "olist_orders_dataset.csv").is_file():
        _fail(f"the Olist sample is not at {args.data}")
    print(machine())
    started = time.perf_counter()
    data = load(args.data)
    load_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="olist-bench-") as tmp:
        folder = Path(tmp)
        ref_svc = _fresh(folder, "direct.db")
        events, ref_s = direct(data, ref_svc, args.batch)
        ref_svc.close()
        bare_svc = _fresh(folder, "bare.db")
        bare = api_without_lifespan(data, bare_svc, args.batch)
        bare_svc.close()
        svc = _fresh(folder, "api.db")
        with in_process_api(svc, actor="bench") as (client, key):
            first = replay(data, client, key, batch=args.batch)
        with in_process_api(svc, actor="bench") as (client, key):
            again = replay(data, client, key, batch=args.batch)
        if first.accepted != first.events or first.rejected:
            _fail(f"first replay: {first.as_dict()} {first.problems[:3]}")
        if again.duplicate != again.events or again.accepted or again.rejected:
            _fail(f"second replay was not all duplicates: {again.as_dict()}")
        log_events = svc.store.last_position()
        started = time.perf_counter()
        rep = report.build(svc.store, svc.dictionary)
        report_s = time.perf_counter() - started
        svc.close()
    ref_rate = events / ref_s
    figures: dict[str, Any] = {
        "orders": len(data.orders),
        "events": events,
        "load_csv_s": round(load_s, 2),
        "direct_intake_events_per_s": round(ref_rate),
        "api_no_lifespan_events_per_s": round(bare.events / bare.seconds),
        "api_events_per_s": round(first.events / first.seconds),
        "api_ratio_to_direct": round(first.events / first.seconds / ref_rate, 3),
        "replay_again_events_per_s": round(again.events / again.seconds),
        "log_events_after": log_events,
        "report_s": round(report_s, 2),
        **report.summary(rep),
    }
    print(f"{len(data.orders):,} Olist orders -> {events:,} events, batches of {args.batch} to POST /v1/events")
    row("read the CSV files", f"{load_s:.1f} s")
    row("intake directly (validation + sealing + store), reference", f"{ref_rate:,.0f} ev/s")
    row("HTTP API in-process, no lifespan", f"{figures['api_no_lifespan_events_per_s']:,} ev/s")
    row("HTTP API in-process with relay + consumers (`import olist`)", f"{figures['api_events_per_s']:,} ev/s")
    row("  = share of the direct intake rate", f"{figures['api_ratio_to_direct']:.0%}")
    row("replay again (all duplicates)", f"{figures['replay_again_events_per_s']:,} ev/s")
    row("log events after both replays (monitor findings included)", f"{log_events:,}")
    row("report from the log (fold, figures, model, dwell)", f"{report_s:.1f} s")
    row("late rate", f"{rep['late']['late_rate_pct']}%")
    row("AUC model / distance only", f"{rep['risk'].get('auc_model')} / {rep['risk'].get('auc_distance_only')}")
    emit(figures)


if __name__ == "__main__":
    main()
