"""The SQL model: chain events in, steps out, dwell percentiles on top (DuckDB dialect).

`events` holds one row per chain event (see `rows.py`), `event_types` the
dictionary's stage and leg of each type, `steps` one row per step: the time an
order (or one shipment of a split order) spent after one event until the next.

A step belongs to its *from* event: its stage and leg are that event's (the
state the order was in while it waited) and its node is where the order was,
the from event's own site (`node`, else `from_node`, else `to_node`) or the
last site seen before it in the same lane. A repeat of the same event type at
the same site (a second scan, another position report) continues the step it
repeats instead of starting a new one. The last event of a lane leaves an
open step (no `to_type`, no duration): the order is still waiting there.

Queries are built from fixed fragments only; every value a caller supplies is
a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderloom.status.analytics.port import Mask

SCHEMA = (
    "CREATE TABLE event_types (type VARCHAR PRIMARY KEY, stage VARCHAR, leg VARCHAR)",
    "CREATE TABLE events (oid VARCHAR, shipment VARCHAR, position BIGINT, id VARCHAR, type VARCHAR,"
    " t TIMESTAMP, node VARCHAR, from_node VARCHAR, to_node VARCHAR)",
    "CREATE TABLE steps (oid VARCHAR, shipment VARCHAR, from_id VARCHAR, to_id VARCHAR, from_type VARCHAR,"
    " to_type VARCHAR, node VARCHAR, stage VARCHAR, leg VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP,"
    " duration_s DOUBLE, hour INTEGER, day DATE)",
    "CREATE TEMP TABLE touched (oid VARCHAR)",
)

STEP_COLUMNS = (
    "oid",
    "shipment",
    "from_id",
    "to_id",
    "from_type",
    "to_type",
    "node",
    "stage",
    "leg",
    "started_at",
    "ended_at",
    "duration_s",
)

# Event times arrive as the envelope's normalised UTC text; DuckDB parses them faster than Python.
BATCH_EVENTS = (
    "SELECT oid, shipment, position, id, type, CAST(time AS TIMESTAMP) AS t, node, from_node, to_node FROM {batch}"
)

# No de-duplication here: the log holds each event id once, and a refresh reads each position once
# (in one transaction with the position it moves to), so nothing can arrive twice.
INSERT_BATCH = "INSERT INTO events " + BATCH_EVENTS
TOUCH = "INSERT INTO touched SELECT DISTINCT oid FROM {batch}"

_STEPS = """
WITH ev AS (
    SELECT s.*, ty.stage, ty.leg, coalesce(s.node, s.from_node, s.to_node) AS site
    FROM ({source}) s JOIN event_types ty ON ty.type = s.type
),
lanes AS (SELECT oid, shipment FROM ev WHERE shipment IS NOT NULL GROUP BY oid, shipment),
split AS (SELECT oid, min(shipment) AS first_lane FROM lanes GROUP BY oid HAVING count(*) > 1),
-- A split order has one lane per shipment; its order-level events belong to every lane.
laned AS (
    SELECT ev.*, CASE WHEN split.oid IS NULL THEN NULL ELSE ev.shipment END AS lane, split.first_lane
    FROM ev LEFT JOIN split ON ev.oid = split.oid
    WHERE split.oid IS NULL OR ev.shipment IS NOT NULL
    UNION ALL BY NAME
    SELECT ev.*, lanes.shipment AS lane, split.first_lane
    FROM ev JOIN split ON ev.oid = split.oid JOIN lanes ON ev.oid = lanes.oid
    WHERE ev.shipment IS NULL
),
marked AS (
    SELECT *, coalesce(type = lag(type) OVER w AND site IS NOT DISTINCT FROM lag(site) OVER w, false) AS repeat
    FROM laned
    WINDOW w AS (PARTITION BY oid, lane ORDER BY t, position)
),
walked AS (
    SELECT *,
        lead(id) OVER w AS to_id,
        lead(type) OVER w AS to_type,
        lead(t) OVER w AS ended_at,
        lead(shipment IS NULL) OVER w AS to_shared,
        last_value(site IGNORE NULLS) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_node
    FROM marked
    WHERE NOT repeat
    WINDOW w AS (PARTITION BY oid, lane ORDER BY t, position)
)
SELECT oid, lane AS shipment, id AS from_id, to_id, type AS from_type, to_type, at_node AS node, stage, leg,
    t AS started_at, ended_at, (epoch_us(ended_at) - epoch_us(t)) / 1e6 AS duration_s
FROM walked
-- A step between two order-level events of a split order is counted once, in its first lane.
WHERE NOT (lane IS NOT NULL AND lane <> first_lane AND shipment IS NULL AND coalesce(to_shared, false))
"""


def steps_query(source: str) -> str:
    """The steps of every order in `source`, a relation with the `events` columns."""
    return _STEPS.format(source=source)


def local_time(column: str) -> str:
    """`column` (naive UTC) as wall-clock time in the time zone bound to $tz."""
    return f"(({column} AT TIME ZONE 'UTC') AT TIME ZONE $tz)"


def materialize_steps(scope: str) -> str:
    """Insert the steps of the orders in `scope` ('all' or 'touched'), with hour and day in $tz."""
    source = "SELECT * FROM events" + (" WHERE oid IN (SELECT oid FROM touched)" if scope == "touched" else "")
    local = local_time("started_at")
    return f"INSERT INTO steps SELECT *, hour({local}), CAST({local} AS DATE) FROM ({steps_query(source)})"


def masked_source(mask: Mask, table: str, where: str = "") -> tuple[str, dict[str, Any]]:
    """A relation over `table` with only the events and site fields a role with `mask` may see."""
    sql = (
        "SELECT oid, shipment, position, id, type, t,"
        " CASE WHEN list_contains($node_types, type) THEN node END AS node,"
        " CASE WHEN list_contains($from_node_types, type) THEN from_node END AS from_node,"
        " CASE WHEN list_contains($to_node_types, type) THEN to_node END AS to_node"
        f" FROM {table} WHERE list_contains($types, type){where}"
    )
    return sql, {
        "types": sorted(mask.types),
        "node_types": sorted(mask.node),
        "from_node_types": sorted(mask.from_node),
        "to_node_types": sorted(mask.to_node),
    }


@dataclass(slots=True)
class Where:
    """A conjunction of fixed SQL conditions and the parameters they bind."""

    conditions: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, condition: str, **params: Any) -> None:
        self.conditions.append(condition)
        self.params.update(params)

    def sql(self) -> str:
        return " AND ".join(self.conditions) or "true"


def step_filters(
    *,
    start: datetime | None,
    end: datetime | None,
    node: str | None,
    stage: str | None,
    types: Sequence[str] | None,
) -> Where:
    """Closed steps that started in [start, end) (naive UTC), at `node`, in `stage`, between `types`."""
    w = Where(["ended_at IS NOT NULL"])
    if start is not None:
        w.add("started_at >= $start", start=start)
    if end is not None:
        w.add("started_at < $end", end=end)
    if node is not None:
        w.add("node = $node", node=node)
    if stage is not None:
        w.add("stage = $stage", stage=stage)
    if types is not None:
        w.add("list_contains($types, from_type) AND list_contains($types, to_type)", types=list(types))
    return w


def bucket_expr(by: str, *, stored: bool) -> str:
    """Hour of day (0-23) or day of a step's start: the stored column when $tz is the model's zone."""
    if stored:
        return by
    local = local_time("started_at")
    return f"hour({local})" if by == "hour" else f"CAST({local} AS DATE)"


def dwell_query(bucket: str, where: Where) -> str:
    """Count and p50/p90/p99 of duration per node x stage x bucket, plus each node x stage over all buckets."""
    return (
        f"SELECT node, stage, {bucket} AS bucket, grouping(bucket) AS total, count(*) AS n,"
        " quantile_cont(duration_s, [0.5, 0.9, 0.99]) AS q"
        f" FROM steps WHERE {where.sql()}"
        " GROUP BY GROUPING SETS ((node, stage, bucket), (node, stage))"
        " ORDER BY node NULLS LAST, stage, bucket NULLS FIRST"
    )


def dwell_rows_query(bucket: str, by: str, where: Where) -> str:
    """The per-bucket aggregates as a flat table, for exports."""
    return (
        f"SELECT node, stage, {bucket} AS {by}, count(*) AS count,"
        " quantile_cont(duration_s, 0.5) AS p50_s, quantile_cont(duration_s, 0.9) AS p90_s,"
        " quantile_cont(duration_s, 0.99) AS p99_s"
        f" FROM steps WHERE {where.sql()} GROUP BY ALL ORDER BY node NULLS LAST, stage, {by}"
    )


def step_rows_query(bucket_hour: str, bucket_day: str, where: Where) -> str:
    """The closed steps themselves, for exports to BI tools."""
    return (
        "SELECT oid, shipment, from_type, to_type, node, stage, leg, started_at AS started_at_utc,"
        f" ended_at AS ended_at_utc, duration_s, {bucket_hour} AS hour, {bucket_day} AS day"
        f" FROM steps WHERE {where.sql()} ORDER BY started_at, oid"
    )


def typical_query(steps: str) -> str:
    """p50/p90 of closed steps by (from, to, node), (from, to), (from, node) and (from)."""
    return (
        "SELECT from_type, to_type, node, grouping(to_type, node) AS level, count(*) AS n,"
        " quantile_cont(duration_s, [0.5, 0.9]) AS q"
        f" FROM ({steps}) WHERE ended_at IS NOT NULL"
        " GROUP BY GROUPING SETS ((from_type, to_type, node), (from_type, to_type), (from_type, node), (from_type))"
    )
