"""Benchmark: the value-stream loop on the generated shop, from facts in to department tasks and the success rate.

1. The shop's facts through the facts desk (contract checks, due times, ids),
   against the reference of recording the very same `fact.recorded` events
   straight into the log (what the generators did before: no contract check).
2. One detector-schedule tick that fires (one pass over the log: weave,
   evaluate, root cause, evidence packages), and a tick with nothing due.
3. The playbook runner turning the firing into department tasks, and the
   value-stream health view with the trigger success rate.
Everything on the in-memory store. Prints each figure and one JSON line.
Usage: python benchmarks/valuestream_playbooks.py [ORDERS]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from _common import emit, machine

from orderloom.bootstrap import Services, build_services
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.playbook import PlaybookRunner, install_default_playbooks
from orderloom.policy import load_example
from orderloom.policy.log import PolicyLog
from orderloom.store import iter_log
from orderloom.valuestream import generator
from orderloom.valuestream.generator_events import FACT
from orderloom.valuestream.runtime import ValueStream
from orderloom.valuestream.schedule import DetectorScheduler

END = datetime(2026, 5, 1, tzinfo=UTC)


def fresh() -> Services:
    return build_services(Settings(db_url="memory://"), clock=ManualClock(END))


def timed(work: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = work()
    return out, time.perf_counter() - start


def main() -> None:
    """Run the three stages; print the figures and the JSON line."""
    print(f"machine: {machine()}")
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    shop = generator.generate(generator.Plan(orders=orders, seed=7), END)
    svc = fresh()
    _, desk_s = timed(lambda: generator.write(svc.intake, shop))
    stored = [e for e in iter_log(svc.store) if e.type == "fact.recorded"]
    print(f"{orders} orders: {len(stored)} facts through the facts desk in {desk_s:.2f} s (with the orders' events)")

    # Reference: the same events, the facts recorded straight into the log without the desk.
    ref = fresh()
    raws = [r for g in shop for r in generator.events_of(g) if not r.get(FACT)]
    facts = [
        {"id": e.id, "type": e.type, "source": e.source, "oid": e.oid, "time": e.time, "actor": e.actor, "data": e.data}
        for e in stored
    ]

    def direct() -> None:
        for batch in (raws, facts):
            for start in range(0, len(batch), 500):
                ref.intake.record(batch[start : start + 500], allow_internal=True)

    _, direct_s = timed(direct)
    print(f"reference: the same {len(raws) + len(facts)} events recorded directly in {direct_s:.2f} s")

    log = PolicyLog(svc.intake)
    saved = log.save(load_example("headphone_returns"), actor="bench")
    log.publish(saved.name, saved.version, actor="bench")
    install_default_playbooks(svc)
    scheduler = DetectorScheduler(svc, score_health=False)
    fired, tick_s = timed(lambda: scheduler.tick(END))
    _, idle_s = timed(lambda: scheduler.tick(END))
    print(f"detector tick that fires {fired.fired}: {tick_s:.2f} s; a tick with nothing due: {idle_s * 1000:.2f} ms")
    _, run_s = timed(lambda: PlaybookRunner(svc).drain())
    tasks = sum(1 for e in iter_log(svc.store) if e.type == "task.created")
    vs = ValueStream.of(svc)
    view, view_s = timed(lambda: vs.department_view("value_stream_health", "ops"))
    print(f"playbook runner: {tasks} department tasks in {run_s:.2f} s (reading the whole log)")
    print(f"value_stream_health: trigger success rate {view['trigger_success_rate']} in {view_s:.2f} s (first query)")
    vs.close()
    emit(
        {
            "benchmark": "valuestream_playbooks",
            "orders": orders,
            "facts": len(stored),
            "desk_write_s": round(desk_s, 2),
            "direct_write_s": round(direct_s, 2),
            "desk_vs_direct": round(desk_s / direct_s, 2) if direct_s else None,
            "firing_tick_s": round(tick_s, 2),
            "idle_tick_ms": round(idle_s * 1000, 2),
            "runner_s": round(run_s, 2),
            "tasks": tasks,
            "health_view_s": round(view_s, 2),
            "trigger_success_rate": view["trigger_success_rate"],
        }
    )


if __name__ == "__main__":
    main()
