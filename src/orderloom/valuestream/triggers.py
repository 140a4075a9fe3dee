"""The trigger success rate: of the value-stream findings, the share that led to every task their playbooks owed.

A finding is a detector firing (`detector.fired`) or an at-risk customer
(`customer.at_risk`). It **succeeded** when at least one playbook ran on it,
every run finished `done`, and every `create_task` step those runs carried out
left its task in the log; it **failed** when a run failed, a task is missing, or
no playbook started on it within the grace period (nobody was told); it is
**pending** while a run is still going or the grace period has not passed.
Rate = succeeded / (succeeded + failed). Read from the staff tables of the
query database (`tables.py`): `findings`, `playbook_runs`, `tasks`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

from orderloom.core.envelope import format_time
from orderloom.valuestream.results import fetch

# How long a finding may wait for its playbook run before it counts as one nobody acted on.
GRACE = timedelta(minutes=15)

_PER_FINDING = """
    WITH f AS (
        SELECT id, type, subject, stream, time FROM findings
        WHERE time >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
          AND time <= CAST($now AS TIMESTAMPTZ)
    ), made AS (
        SELECT run, count(*) AS created FROM tasks GROUP BY run
    ), r AS (
        SELECT p.trigger_id, count(*) AS runs, count(*) FILTER (WHERE p.outcome = 'running') AS running,
               count(*) FILTER (WHERE p.outcome = 'failed') AS failed, sum(p.tasks_owed) AS owed,
               sum(coalesce(m.created, 0)) AS created, list(p.playbook ORDER BY p.playbook) AS playbooks
        FROM playbook_runs p LEFT JOIN made m USING (run)
        WHERE p.trigger_id IS NOT NULL GROUP BY 1
    ), s AS (
        SELECT f.id, f.type, f.subject, f.time, coalesce(r.runs, 0) AS runs, coalesce(r.running, 0) AS running,
               coalesce(r.failed, 0) AS failed_runs, coalesce(r.owed, 0) AS tasks_owed,
               coalesce(r.created, 0) AS tasks_created, coalesce(r.playbooks, []) AS playbooks
        FROM f LEFT JOIN r ON r.trigger_id = f.id
    )
    SELECT *, CASE
        WHEN runs = 0 AND time > CAST($grace_from AS TIMESTAMPTZ) THEN 'pending'
        WHEN runs = 0 THEN 'no_playbook'
        WHEN running > 0 THEN 'pending'
        WHEN failed_runs = 0 AND tasks_created >= tasks_owed THEN 'succeeded'
        ELSE 'failed' END AS outcome
    FROM s
"""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    succeeded = sum(r["outcome"] == "succeeded" for r in rows)
    failed = sum(r["outcome"] in ("failed", "no_playbook") for r in rows)
    return {
        "findings": len(rows),
        "succeeded": succeeded,
        "failed": failed,
        "no_playbook": sum(r["outcome"] == "no_playbook" for r in rows),
        "pending": sum(r["outcome"] == "pending" for r in rows),
        "tasks_owed": sum(int(r["tasks_owed"]) for r in rows),
        "tasks_created": sum(int(r["tasks_created"]) for r in rows),
        "trigger_success_rate": _rate(succeeded, succeeded + failed),
    }


def trigger_success(con: duckdb.DuckDBPyConnection, *, now: datetime, days: int, limit: int) -> dict[str, Any]:
    """Findings of the last `days`: overall, per source (detector or at-risk), the latest ones, tasks by team."""
    params = {"now": format_time(now), "days": days, "grace_from": format_time(now - GRACE)}
    rows = fetch(con.sql(_PER_FINDING, params=params)).records()
    rows.sort(key=lambda r: (r["time"], r["id"]), reverse=True)
    sources: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        name = r["subject"] if r["type"] == "detector.fired" else "(customers at risk)"
        sources.setdefault((r["type"], str(name)), []).append(r)
    return {
        **_counts(rows),
        "grace_minutes": int(GRACE.total_seconds() // 60),
        "by_source": [
            {"type": kind, "source": name, **_counts(found)} for (kind, name), found in sorted(sources.items())
        ],
        "recent": rows[:limit],
        "tasks_by_team": _tasks(con, params),
    }


def _tasks(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Per team, the tasks value-stream findings' playbooks created in the window, by state."""
    sql = """
        SELECT t.team, count(*) AS tasks,
               count(*) FILTER (WHERE t.state = 'open') AS open,
               count(*) FILTER (WHERE t.state = 'in_progress') AS in_progress,
               count(*) FILTER (WHERE t.state = 'done') AS done,
               count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled,
               count(*) FILTER (WHERE t.state IN ('open', 'in_progress') AND t.due < CAST($now AS TIMESTAMPTZ))
                   AS overdue,
               count(*) FILTER (WHERE t.owner IS NOT NULL) AS owned
        FROM tasks t JOIN playbook_runs p USING (run) JOIN findings f ON f.id = p.trigger_id
        WHERE f.time >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
          AND f.time <= CAST($now AS TIMESTAMPTZ)
        GROUP BY 1 ORDER BY tasks DESC, team
    """
    return fetch(con.sql(sql, params={k: params[k] for k in ("now", "days")})).records()
