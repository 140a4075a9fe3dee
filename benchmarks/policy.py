"""Policy benchmark: decision evaluation p50/p99, and publish-to-effect time across two processes.

1. Evaluation: the seed's Douyin decision table through `PolicyRuntime.decide`
   (sticky bucket, JSON Schema input check, zen `engine.evaluate` with a loader)
   and through the bare evaluator, on varied inputs.
2. Publish to effect: process A publishes a new version on PostgreSQL; process B,
   an API worker's runtime, decides in a loop; the time from A's publish call
   returning to B's first decision on the new version. Repeated; p50/p99/max.
   Target (issue): within 1 s, without a restart.

Loopback only; stops by itself. Usage: python benchmarks/policy.py [--evals 20000] [--publishes 10]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine, percentile

from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.policy import PolicyVersion, load_example
from orderloom.policy.log import PolicyLog
from orderloom.policy.runtime import PolicyRuntime

PG = os.environ.get("ORDERLOOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NAME = "douyin_first_order"


def variant(threshold: int) -> PolicyVersion:
    """The example with another ¥ threshold and no golden cases (they pin ¥299)."""
    ex = load_example(NAME)
    doc = copy.deepcopy(ex.document)
    for node in doc["nodes"]:
        for rule in node.get("content", {}).get("rules", []):
            for k, cell in list(rule.items()):
                if cell == ">= 299":
                    rule[k] = f">= {threshold}"
    return PolicyVersion(NAME, 0, ex.kind, doc, ex.input_schema, (), f"threshold {threshold}")


def evaluation(evals: int) -> dict[str, float]:
    svc = build_services(Settings(db_url="memory://"))
    log = PolicyLog(svc.intake)
    v = log.save(load_example(NAME), actor="bench")
    log.publish(NAME, v.version, actor="bench")
    runtime = PolicyRuntime(log)
    inputs: list[dict[str, Any]] = [
        {
            "channel": ("douyin", "taobao", "jd")[i % 3],
            "customer": {"first_order": i % 2 == 0},
            "order_total": float(100 + (i * 37) % 600),
        }
        for i in range(evals)
    ]
    for i in range(200):  # warm-up: load the version, fill caches
        runtime.decide(NAME, f"OL-{i}", inputs[i % len(inputs)])
    decide_ms, bare_ms = [], []
    for i, data in enumerate(inputs):
        t0 = time.perf_counter()
        runtime.decide(NAME, f"OL-{i}", data)
        decide_ms.append((time.perf_counter() - t0) * 1000)
    for data in inputs:
        t0 = time.perf_counter()
        runtime.evaluator.evaluate(NAME, v.version, data)
        bare_ms.append((time.perf_counter() - t0) * 1000)
    svc.close()
    decide_ms.sort()
    bare_ms.sort()
    return {
        "decide_p50_ms": percentile(decide_ms, 50),
        "decide_p99_ms": percentile(decide_ms, 99),
        "evaluate_p50_ms": percentile(bare_ms, 50),
        "evaluate_p99_ms": percentile(bare_ms, 99),
    }


def follower(url: str, ready: Any, seen: Any, stop: Any) -> None:
    """Process B: decide in a loop and report each new version the moment it is served."""
    svc = build_services(Settings(db_url=url))
    runtime = PolicyRuntime(PolicyLog(svc.intake))
    data = {"channel": "douyin", "customer": {"first_order": True}, "order_total": 350.0}
    last = None
    ready.set()
    while not stop.is_set():
        version = runtime.decide(NAME, "OL-BENCH", data).version
        if version != last:
            seen.put((version, time.time()))
            last = version
        time.sleep(0.001)
    svc.close()


def publish_to_effect(publishes: int) -> list[float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{PG}?schema={schema}"
    svc = build_services(Settings(db_url=url))
    log = PolicyLog(svc.intake)
    try:
        first = log.save(load_example(NAME), actor="bench")
        log.publish(NAME, first.version, actor="bench")
        ctx = mp.get_context("spawn")
        ready, stop, seen = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=follower, args=(url, ready, seen, stop))
        proc.start()
        ready.wait(60)
        assert seen.get(timeout=30)[0] == first.version
        delays = []
        for k in range(publishes):
            v = log.save(variant(300 + k), actor="bench")
            published_at = time.time()
            log.publish(NAME, v.version, actor="bench")
            version, at = seen.get(timeout=30)
            if version != v.version:
                raise SystemExit(f"BENCHMARK FAILED: process B served version {version}, expected {v.version}")
            # Measured from the publish call's start: the effect may land before the call returns.
            delays.append((at - published_at) * 1000)
            time.sleep(0.3)
        stop.set()
        proc.join(30)
        return sorted(delays)
    finally:
        svc.close()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--evals", type=int, default=20_000)
    ap.add_argument("--publishes", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    ev = evaluation(args.evals)
    print(
        f"decision (runtime.decide: bucket + schema check + zen): p50 {ev['decide_p50_ms'] * 1000:.0f} µs,"
        f" p99 {ev['decide_p99_ms'] * 1000:.0f} µs;  bare evaluator: p50 {ev['evaluate_p50_ms'] * 1000:.0f} µs,"
        f" p99 {ev['evaluate_p99_ms'] * 1000:.0f} µs  over {args.evals:,} decisions"
    )
    delays = publish_to_effect(args.publishes)
    p99 = percentile(delays, 99)
    print(
        f"publish → first decision on the new version in another process (PostgreSQL), {len(delays)} publishes:"
        f" p50 {percentile(delays, 50):.0f} ms, p99 {p99:.0f} ms, max {delays[-1]:.0f} ms"
        f"  (target within 1,000 ms: {'met' if delays[-1] <= 1000 else 'MISSED'})"
    )
    emit(
        {
            "decide_p50_us": round(ev["decide_p50_ms"] * 1000, 1),
            "decide_p99_us": round(ev["decide_p99_ms"] * 1000, 1),
            "evaluate_p50_us": round(ev["evaluate_p50_ms"] * 1000, 1),
            "evaluate_p99_us": round(ev["evaluate_p99_ms"] * 1000, 1),
            "publish_to_effect_p50_ms": round(percentile(delays, 50), 1),
            "publish_to_effect_max_ms": round(delays[-1], 1),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
