"""Soak: the multi-process setup at a steady rate for 10 minutes; do memory and event -> view lag stay flat?

Starts the same multi-process setup as `load.py` (N API workers, relay,
consumer on a fresh PostgreSQL schema and NATS stream) and drives the same mix
(orders placed, routed, three atomic event batches, chain reads, SSE
subscribers) at a fixed number of orders per second, well under what the
machine sustains. Every `--sample-s` seconds it records each process's RSS and
CPU and the log's head; at the end it computes the event -> view lag of every
write answered in each window, fits a straight line (least squares) through
RSS and lag against time, prints every sample, and saves a plot.

"Flat" means the fitted line moves less over the whole run than 5 % of the
mean RSS (memory); lag does not grow when neither the fitted line nor the median window
p99 from the middle to the last third of the run rises by more than max(20 ms,
25 % of the median window p99). The fit is also given for the second half
alone, after start-up caches have filled.

Usage: python benchmarks/soak.py [--minutes 10] [--rate 5] [--workers 2] [--plot docs/img/soak.png]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine, percentile
from load import CheckpointWatcher, CpuMeter, Recorder, cluster, drive

from orderloom.dictionary import load_dictionary

ROOT = Path(__file__).resolve().parents[1]


def slope(ts: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against ts (per unit of ts); nan with fewer than 3 points."""
    pairs = [(t, y) for t, y in zip(ts, ys, strict=True) if not math.isnan(y)]  # windows without writes
    if len(pairs) < 3:
        return float("nan")
    return float(np.polyfit([t for t, _ in pairs], [y for _, y in pairs], 1)[0])


def window_lag(rec: Recorder, watcher: CheckpointWatcher, start: float, end: float) -> tuple[float, float, int]:
    """p50 and p99 event -> view lag (ms) of the writes answered in [start, end), and how many."""
    lag = sorted(
        max(0.0, seen - t) * 1000
        for t, pos in rec.acks
        if start <= t < end and (seen := watcher.seen_at(pos)) is not None
    )
    return percentile(lag, 50), percentile(lag, 99), len(lag)


def plot(samples: list[dict[str, Any]], names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_min"] for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    for n in names:
        axes[0].plot(t, [s["rss"].get(n, float("nan")) for s in samples], marker=".", label=n)
    axes[0].set_ylabel("RSS (MB)")
    axes[0].set_ylim(bottom=0)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].plot(t, [s["lag_p50_ms"] for s in samples], marker=".", label="p50")
    axes[1].plot(t, [s["lag_p99_ms"] for s in samples], marker=".", label="p99")
    axes[1].set_ylabel("event -> view lag (ms)")
    axes[1].set_ylim(bottom=0)
    axes[1].legend(fontsize=8)
    axes[2].plot(t, [s["events_per_s"] for s in samples], marker=".", color="tab:green")
    axes[2].set_ylabel("events/s stored")
    axes[2].set_ylim(bottom=0)
    axes[2].set_xlabel("minutes since the warm-up ended")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="sampled minutes (after the warm-up)")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds at the same rate before sampling")
    ap.add_argument("--rate", type=float, default=5.0, help="orders per second (11 events each)")
    ap.add_argument("--users", type=int, default=16, help="virtual users available to keep the rate")
    ap.add_argument("--sse", type=int, default=2, help="SSE subscribers")
    ap.add_argument("--workers", type=int, default=2, help="API workers")
    ap.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--plot", default=str(ROOT / "docs" / "img" / "soak.png"), help="PNG to write ('' for none)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(
        f"soak: {args.rate:g} orders/s (~{11 * args.rate:g} events/s) for {args.minutes:g} min after a"
        f" {args.warmup:g} s warm-up; {args.workers} API workers + relay + consumer, PostgreSQL + NATS;"
        f" {args.sse} SSE subscribers; a sample every {args.sample_s:g} s"
    )
    dictionary = load_dictionary()
    with tempfile.TemporaryDirectory(prefix="orderloom-soak-") as tmp:
        dep = cluster(Path(tmp), args.workers)
        try:
            dep.start()
            procs = dep.processes()
            names = [n for n in procs if n != "api"]  # the uvicorn supervisor only forks and waits
            watcher = CheckpointWatcher(dep.checkpoint_reader())
            watcher.start()
            ticks: list[dict[str, Any]] = []
            state: dict[str, Any] = {}

            def on_tick(rec: Recorder) -> None:
                now = time.monotonic()
                head = httpx2.get(dep.base + "/healthz", timeout=10).json()["position"]
                meter = CpuMeter(procs)
                if "meter" in state:
                    _, cores, rss, busy = state["meter"].read()
                    ticks.append(
                        {
                            "start": state["at"],
                            "end": now,
                            "t_min": (now - rec.warm_at) / 60,
                            "rss": rss,
                            "cores": cores,
                            "machine_busy_cores": busy,
                            "events_per_s": (head - state["head"]) / (now - state["at"]),
                        }
                    )
                state.update(meter=meter, at=now, head=head)

            rec = asyncio.run(
                drive(
                    dep,
                    dictionary,
                    users=args.users,
                    sse=args.sse,
                    seconds=args.minutes * 60,
                    warmup=args.warmup,
                    max_orders=10**9,
                    rate=args.rate,
                    on_tick=on_tick,
                    tick_s=args.sample_s,
                )
            )
            head = httpx2.get(dep.base + "/healthz", timeout=10).json()["position"]
            deadline = time.monotonic() + 60
            while watcher.head() < head and time.monotonic() < deadline:
                time.sleep(0.05)
            drained = watcher.head() >= head
            watcher.stop()
            for s in ticks:
                s["lag_p50_ms"], s["lag_p99_ms"], s["writes"] = window_lag(rec, watcher, s["start"], s["end"])
        finally:
            dep.stop()
            dep.cleanup()
    if len(ticks) < 3:
        raise SystemExit("BENCHMARK FAILED: fewer than three samples; run longer")
    print(f"\n{'min':>5} {'ev/s':>6} {'lag p50':>8} {'lag p99':>8} {'busy':>5}  RSS MB: " + "  ".join(names))
    for s in ticks:
        mem = "  ".join(f"{s['rss'].get(n, float('nan')):>{len(n)}.1f}" for n in names)
        print(
            f"{s['t_min']:>5.1f} {s['events_per_s']:>6.0f} {s['lag_p50_ms']:>8.1f} {s['lag_p99_ms']:>8.1f}"
            f" {s['machine_busy_cores']:>5.2f}  RSS MB: {mem}"
        )
    t = [s["t_min"] for s in ticks]
    half = len(ticks) // 2
    span = t[-1] - t[0]
    out: dict[str, Any] = {
        "soak_minutes": round(span, 1),
        "soak_events_per_s": round(sum(s["events_per_s"] for s in ticks) / len(ticks), 1),
    }
    print(f"\nfitted slopes over {span:.1f} min (whole run / second half):")
    verdicts = []
    for n in names:
        ys = [s["rss"].get(n, float("nan")) for s in ticks]
        whole, late = slope(t, ys), slope(t[half:], ys[half:])
        mean = float(np.nanmean(ys))
        flat = abs(whole * span) < 0.05 * mean
        verdicts.append(flat)
        print(
            f"  RSS {n:<16} mean {mean:6.1f} MB  {whole:+7.3f} / {late:+7.3f} MB/min"
            f"  -> {whole * span:+6.1f} MB over the run: {'flat' if flat else 'GROWING'}"
        )
        out[f"rss_{n.replace('-', '_')}_mb_per_min"] = round(whole, 3)
        out[f"rss_{n.replace('-', '_')}_mean_mb"] = round(mean, 1)
    p99 = [s["lag_p99_ms"] for s in ticks]
    lag_whole, lag_late = slope(t, p99), slope(t[half:], p99[half:])
    median_p99 = float(np.nanmedian(p99))
    thirds = [float(np.nanmedian(p99[k * len(p99) // 3 : (k + 1) * len(p99) // 3])) for k in range(3)]
    # Growth only counts upwards: a lag that falls after start-up is not a problem. One
    # noisy window moves a least-squares line a lot on a shared machine, so the verdict
    # compares the medians of the middle and last thirds as well as the fitted line.
    allowed = max(20.0, 0.25 * median_p99)
    lag_flat = lag_whole * span < allowed and thirds[2] - thirds[1] < allowed
    print(
        f"  lag p99 (windows)     median {median_p99:6.1f} ms  {lag_whole:+7.3f} / {lag_late:+7.3f} ms/min"
        f"  -> {lag_whole * span:+6.1f} ms over the run; medians by third of the run"
        f" {thirds[0]:.0f} / {thirds[1]:.0f} / {thirds[2]:.0f} ms: {'not growing' if lag_flat else 'GROWING'}"
    )
    every = sorted(
        max(0.0, seen - t0) * 1000
        for t0, pos in rec.acks
        if rec.measured(t0) and (seen := watcher.seen_at(pos)) is not None
    )
    bad = {k: v for k, v in rec.statuses.items() if not k.split()[-1].startswith("2")}
    print(
        f"all writes: lag p50 {percentile(every, 50):.1f} ms, p99 {percentile(every, 99):.1f} ms over {len(every):,};"
        f" views drained at the end: {drained}; {rec.orders:,} orders; non-2xx/client errors: {bad or 'none'};"
        f" SSE overflows: {rec.sse_overflows}"
    )
    mem_flat = all(verdicts)
    print(f"verdict: memory {'flat' if mem_flat else 'NOT flat'}, lag {'flat' if lag_flat else 'NOT flat'}")
    if args.plot:
        title = (
            f"Soak: {args.rate:g} orders/s (~{out['soak_events_per_s']:.0f} events/s), {args.workers} API workers +"
            f" relay + consumer on PostgreSQL + NATS, {span:.0f} min (2 shared cores)"
        )
        plot(ticks, names, Path(args.plot), title)
        print(f"plot: {args.plot}")
    out.update(
        {
            "lag_p50_ms": round(percentile(every, 50), 1),
            "lag_p99_ms": round(percentile(every, 99), 1),
            "lag_p99_median_window_ms": round(median_p99, 1),
            "lag_p99_thirds_ms": [round(x, 1) for x in thirds],
            "lag_p99_ms_per_min": round(lag_whole, 3),
            "memory_flat": mem_flat,
            "lag_flat": lag_flat,
            "server_errors": sum(v for k, v in rec.statuses.items() if k.split()[-1].startswith("5")),
            "machine_busy_cores_mean": round(sum(s["machine_busy_cores"] for s in ticks) / len(ticks), 2),
            "load_generator_rss_mb": round(psutil.Process().memory_info().rss / 1e6, 1),
        }
    )
    emit(out)
    if not drained:
        print("BENCHMARK FAILED: the views did not catch up with the log after the run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
