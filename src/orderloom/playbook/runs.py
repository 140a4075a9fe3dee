"""Runs and their health as read models: pure folds over the `playbook.*` events."""

from __future__ import annotations

from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.store.port import EventStore
from orderloom.views.port import Doc, ViewStore

RUNS_VIEW = "pb_runs"
STATS_VIEW = "pb_stats"
RUN_EVENTS = ("playbook.run_started", "playbook.step_done", "playbook.run_finished")
RECENT = 50


def apply_run(doc: Doc | None, e: StoredEvent) -> Doc:
    """A run after one of its events."""
    d = e.data
    run = dict(
        doc
        or {
            "run": d["run"],
            "playbook": d["playbook"],
            "version": d["version"],
            "stream": e.oid,
            "outcome": "running",
            "steps": [],
        }
    )
    if e.type == "playbook.run_started":
        run.update(arm=d.get("arm", "stable"), trigger=d.get("trigger"), started_at=e.time, label=d.get("label"))
    elif e.type == "playbook.step_done":
        step = {k: d[k] for k in ("step", "type", "status", "branch", "reason", "output") if k in d}
        run["steps"] = [*(s for s in run["steps"] if s["step"] != d["step"]), step]
    elif e.type == "playbook.run_finished":
        run.update(outcome=d["outcome"], finished_at=e.time, error=d.get("error"), failed_step=d.get("failed_step"))
    return run


def apply_stats(doc: Doc | None, e: StoredEvent) -> Doc:
    """A playbook's counters after a run started or finished (the trigger success rate's parts)."""
    d = e.data
    stats = dict(doc or {"playbook": d["playbook"], "versions": {}, "recent": []})
    versions = dict(stats["versions"])
    v = dict(versions.get(str(d["version"]), {"started": 0, "done": 0, "failed": 0}))
    if e.type == "playbook.run_started":
        v["started"] += 1
        stats["recent"] = [*(r for r in stats["recent"] if r != d["run"]), d["run"]][-RECENT:]
    elif e.type == "playbook.run_finished":
        v[d["outcome"]] = v.get(d["outcome"], 0) + 1
    versions[str(d["version"])] = v
    stats["versions"] = versions
    return stats


def runs_on_stream(store: EventStore, stream: str) -> list[Doc]:
    """Every run an event on this stream (an order) started, read from the log itself, oldest first."""
    runs: dict[str, Doc] = {}
    for e in store.read_stream(stream):
        if e.type in RUN_EVENTS:
            runs[e.data["run"]] = apply_run(runs.get(e.data["run"]), e)
    return sorted(runs.values(), key=lambda r: (r.get("started_at") or "", r["run"]))


def recent_runs(views: ViewStore, limit: int = 20, playbook: str | None = None) -> list[Doc]:
    """The latest runs of every playbook (or one), newest first."""
    ids: list[str] = []
    for _, stats in views.scan(STATS_VIEW, 1000):
        if playbook is None or stats["playbook"] == playbook:
            ids += stats["recent"]
    runs = [r for r in (views.read(RUNS_VIEW, i) for i in ids) if r is not None]
    runs.sort(key=lambda r: (r.get("started_at") or "", r["run"]), reverse=True)
    return runs[:limit]


def health(views: ViewStore) -> dict[str, Any]:
    """Per playbook and version: runs started, finished without error, failed, and the success rate."""
    playbooks = []
    total = {"started": 0, "done": 0, "failed": 0}
    for name, stats in views.scan(STATS_VIEW, 1000):
        versions = []
        for version, v in sorted(stats["versions"].items(), key=lambda kv: int(kv[0])):
            versions.append({"version": int(version), **_counts(v)})
            for k in total:
                total[k] += v.get(k, 0)
        sums = {k: sum(v[k] for v in versions) for k in ("started", "done", "failed")}
        playbooks.append({"playbook": name, **_counts(sums), "versions": versions})
    return {**_counts(total), "playbooks": playbooks}


def _counts(v: dict[str, int]) -> dict[str, Any]:
    started, done, failed = v.get("started", 0), v.get("done", 0), v.get("failed", 0)
    return {
        "started": started,
        "done": done,
        "failed": failed,
        "running": max(started - done - failed, 0),
        # Runs still going count against the rate: a run that never finishes is not a success.
        "success_rate": round(done / started, 4) if started else None,
    }
