"""Contract health: per contract, which orders got the owed fields present, valid and on time.

An order owes a contract's fields once the contract's anchor event happened on
it (its first occurrence); they are due `latency` later. For contracts keyed by
customer, the customer's profile counts for each of the customer's orders.
Each owed order is then exactly one of:
- on_time: the first delivery that meets the current contract arrived by the due time,
- late: it arrived after the due time,
- missing: nothing valid has arrived and the due time has passed,
- pending: nothing valid yet, but it is not due yet (left out of the rates).
Refused deliveries (`fact.rejected`) are counted by the day they arrived.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.valuestream.contract import Contract
from orderloom.valuestream.results import fetch

DEFAULT_TZ = "Asia/Shanghai"
MAX_DAYS = 366

_OWED = """
WITH anchors AS (
    SELECT oid, min(time) AS anchor_at FROM events WHERE type = $anchor GROUP BY oid
), owed AS (
    SELECT a.oid, o.customer_id, a.anchor_at, a.anchor_at + to_microseconds($latency_us) AS due_at,
           CASE WHEN $key = 'oid' THEN a.oid ELSE o.customer_id END AS subject
    FROM anchors a LEFT JOIN orders o USING (oid)
), delivered AS (
    SELECT subject, min(received_at) FILTER (WHERE valid_now) AS first_valid
    FROM fact_rows WHERE contract = $contract GROUP BY subject
)
SELECT owed.oid, owed.due_at, d.first_valid,
       CASE WHEN d.first_valid IS NOT NULL AND d.first_valid <= owed.due_at THEN 'on_time'
            WHEN d.first_valid IS NOT NULL THEN 'late'
            WHEN owed.due_at <= CAST($now AS TIMESTAMPTZ) THEN 'missing'
            ELSE 'pending' END AS outcome
FROM owed LEFT JOIN delivered d ON d.subject = owed.subject
WHERE owed.due_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
"""

_TOTALS = f"""
SELECT count(*) AS owed,
       count(*) FILTER (WHERE outcome = 'on_time') AS on_time,
       count(*) FILTER (WHERE outcome = 'late') AS late,
       count(*) FILTER (WHERE outcome = 'missing') AS missing,
       count(*) FILTER (WHERE outcome = 'pending') AS pending,
       median(epoch(first_valid - due_at)) FILTER (WHERE outcome = 'late') AS median_late_s
FROM ({_OWED})
"""

_TREND = f"""
SELECT strftime(date_trunc('day', due_at AT TIME ZONE $tz), '%Y-%m-%d') AS day,
       count(*) FILTER (WHERE outcome <> 'pending') AS due,
       count(*) FILTER (WHERE outcome = 'on_time') AS on_time,
       count(*) FILTER (WHERE outcome = 'late') AS late,
       count(*) FILTER (WHERE outcome = 'missing') AS missing
FROM ({_OWED}) GROUP BY 1 ORDER BY 1
"""

_DELIVERIES = """
SELECT count(*) AS stored, count(*) FILTER (WHERE NOT valid_now) AS invalid_now
FROM fact_rows WHERE contract = $contract
  AND received_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
"""

_REJECTED_BY_DAY = """
SELECT strftime(date_trunc('day', received_at AT TIME ZONE $tz), '%Y-%m-%d') AS day, count(*) AS rejected
FROM fact_rejections WHERE contract = $contract
  AND received_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
GROUP BY 1 ORDER BY 1
"""

_REJECTED_BY_RULE = """
SELECT p->>'$.field' AS field, p->>'$.rule' AS rule, count(*) AS count
FROM (
    SELECT unnest(CAST(problems AS JSON[])) AS p FROM fact_rejections
    WHERE contract = $contract AND received_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
)
GROUP BY 1, 2 ORDER BY count DESC, field, rule LIMIT 20
"""


def check_window(days: int, tz: str, con: duckdb.DuckDBPyConnection) -> None:
    """ValidationFailed naming `days` or `tz` when they are unusable."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed([Problem("days", "range", f"days must be a whole number from 1 to {MAX_DAYS}")])
    try:
        con.execute("SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' AT TIME ZONE $tz", {"tz": tz}).fetchall()
    except duckdb.Error:
        raise ValidationFailed(
            [Problem("tz", "time_zone", f"tz {tz!r} is not a time zone name; use one like Asia/Shanghai or UTC")]
        ) from None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def contract_health(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    *,
    now: datetime,
    days: int = 30,
    tz: str = DEFAULT_TZ,
    trend: bool = True,
) -> dict[str, Any]:
    """The contract's health over the last `days` (by due time), with a daily trend in `tz`."""
    cur = con.cursor()
    try:
        check_window(days, tz, cur)
        obj = contract.objects[0]
        params: dict[str, Any] = {
            "anchor": contract.freshness.anchor,
            "latency_us": int(contract.freshness.latency.total_seconds() * 1_000_000),
            "key": obj.key,
            "contract": contract.id,
            "now": format_time(now),
            "days": days,
        }
        (t,) = fetch(cur.sql(_TOTALS, params=params)).records()
        deliveries = fetch(cur.sql(_DELIVERIES, params={k: params[k] for k in ("contract", "now", "days")})).records()
        rejected_params = {k: params[k] for k in ("contract", "now", "days")}
        by_day = fetch(cur.sql(_REJECTED_BY_DAY, params={**rejected_params, "tz": tz})).records()
        by_rule = fetch(cur.sql(_REJECTED_BY_RULE, params=rejected_params)).records()
        days_rows = fetch(cur.sql(_TREND, params={**params, "tz": tz})).records() if trend else []
    finally:
        cur.close()
    due = t["on_time"] + t["late"] + t["missing"]
    rejected = sum(r["rejected"] for r in by_day)
    out: dict[str, Any] = {
        "contract": contract.id,
        "version": contract.version,
        "domain": contract.domain,
        "team": contract.team,
        "sla": {
            "anchor": contract.freshness.anchor,
            "latency_s": contract.freshness.latency.total_seconds(),
            "text": contract.freshness.words(),
        },
        "key": obj.key,
        "owed_fields": list(obj.required),
        "as_of": format_time(now),
        "days": days,
        "orders": {
            "owed": t["owed"],
            "due": due,
            "on_time": t["on_time"],
            "late": t["late"],
            "missing": t["missing"],
            "pending": t["pending"],
        },
        "fulfilment_rate": _rate(t["on_time"], due),
        "late_rate": _rate(t["late"], due),
        "missing_rate": _rate(t["missing"], due),
        "median_late_s": t["median_late_s"],
        "deliveries": {
            "stored": deliveries[0]["stored"],
            "invalid_under_current_contract": deliveries[0]["invalid_now"],
            "rejected": rejected,
        },
        "rejections_by_rule": by_rule,
    }
    if trend:
        out["tz"] = tz
        out["trend"] = _merge_trend(days_rows, by_day)
    return out


def _merge_trend(days_rows: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for r in days_rows:
        merged[r["day"]] = {**r, "rejected": 0}
    for r in rejected:
        row = merged.setdefault(r["day"], {"day": r["day"], "due": 0, "on_time": 0, "late": 0, "missing": 0})
        row["rejected"] = r["rejected"]
    for row in merged.values():
        row["fulfilment_rate"] = _rate(row["on_time"], row["due"])
    return [merged[d] for d in sorted(merged)]
