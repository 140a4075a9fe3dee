"""Dwell percentiles shaped for a heatmap: one row per node x stage, one column per hour (0-23) or day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from orderloom.dictionary.model import Dictionary
from orderloom.status.analytics.port import Cell
from orderloom.status.analytics.query import DwellQuery

NO_NODE = "(no node)"
# A day heatmap wider than this is unreadable; the caller narrows from/to.
MAX_DAYS = 400


def _metric(cell: Cell, metric: str) -> float:
    return round({"p50": cell.p50_s, "p90": cell.p90_s, "p99": cell.p99_s}[metric], 3)


def _columns(by: str, buckets: Sequence[Any]) -> list[Any]:
    if by == "hour":
        return list(range(24))
    days = sorted(b for b in buckets if isinstance(b, date))
    if not days:
        return []
    span = (days[-1] - days[0]).days + 1
    first = days[-1] - timedelta(days=min(span, MAX_DAYS) - 1)  # the most recent days when too many
    return [first + timedelta(days=k) for k in range(min(span, MAX_DAYS))]


def heatmap(cells: Sequence[Cell], query: DwellQuery, dictionary: Dictionary) -> dict[str, Any]:
    """Rows (node x stage with overall figures), columns, a values matrix of the chosen metric, a counts matrix,
    and `data` as [column, row, value, count] for an ECharts heatmap; empty cells are null with count 0."""
    totals = [c for c in cells if c.bucket is None]
    order = {s: k for k, s in enumerate(dictionary.stages)}
    totals.sort(key=lambda c: (c.node is None, c.node or "", order.get(c.stage, len(order)), c.stage))
    columns = _columns(query.by, [c.bucket for c in cells if c.bucket is not None])
    row_of = {(c.node, c.stage): k for k, c in enumerate(totals)}
    col_of = {b: k for k, b in enumerate(columns)}
    values: list[list[float | None]] = [[None] * len(columns) for _ in totals]
    counts: list[list[int]] = [[0] * len(columns) for _ in totals]
    data: list[list[Any]] = []
    for c in cells:
        if c.bucket is None or c.bucket not in col_of:
            continue
        y, x = row_of[(c.node, c.stage)], col_of[c.bucket]
        values[y][x] = _metric(c, query.metric)
        counts[y][x] = c.count
        data.append([x, y, values[y][x], c.count])
    rows = []
    for c in totals:
        stage = dictionary.stages.get(c.stage)
        label = dict(stage.label) if stage else {"zh": c.stage, "en": c.stage}
        rows.append(
            {
                "node": c.node,
                "stage": c.stage,
                "label": {lang: f"{c.node or NO_NODE} · {text}" for lang, text in label.items()},
                "count": c.count,
                "p50_s": round(c.p50_s, 3),
                "p90_s": round(c.p90_s, 3),
                "p99_s": round(c.p99_s, 3),
            }
        )
    shown = [v for row in values for v in row if v is not None]
    return {
        **query.describe(),
        "unit": "seconds",
        "steps": sum(c.count for c in totals),
        "columns": [col.isoformat() if isinstance(col, date) else col for col in columns],
        "rows": rows,
        "values": values,
        "counts": counts,
        "data": data,
        "truncated": any(c.bucket is not None and c.bucket not in col_of for c in cells),
        "min": min(shown) if shown else None,
        "max": max(shown) if shown else None,
    }
