"""Department views: the few numbers each department asks for, as SQL over the query tables.

- marketing: 30-day repurchase rate per channel,
- supply chain: rush-order frequency per customer (from the supply-chain contract's rush flag),
- finance: days to cash per customer (placement, or the invoice, to payment captured),
- value stream: contract fulfilment rates and the trigger success rate (findings whose playbooks created
  every task they owed, `triggers.py`), with the runs per playbook.
They run on the full (admin) tables; who may read which view is decided in `VIEWS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary
from orderloom.valuestream.catalog import ContractCatalog
from orderloom.valuestream.fulfilment import DEFAULT_TZ, contract_health
from orderloom.valuestream.results import fetch
from orderloom.valuestream.triggers import trigger_success

# Core payment events (core dictionary); days to cash runs from the invoice when there is one.
CAPTURED = "payment.captured"
INVOICED = "invoice.issued"
RUSH_DOMAIN, RUSH_FIELD = "supply_chain", "rush_order"
CHANNEL_DOMAIN, CHANNEL_FIELD = "marketing", "channel_id"


@dataclass(frozen=True, slots=True)
class Ask:
    """The parameters a department view takes."""

    now: datetime
    days: int
    limit: int = 100
    channel: str = "order"
    tz: str = DEFAULT_TZ


@dataclass(frozen=True, slots=True)
class View:
    """A department view: who may read it and how it is computed."""

    name: str
    department: str
    title: str
    roles: tuple[str, ...]
    default_days: int
    compute: Callable[[duckdb.DuckDBPyConnection, ContractCatalog, Dictionary, Ask], dict[str, Any]]


def _days(ask: Ask) -> dict[str, Any]:
    return {"now": format_time(ask.now), "days": ask.days}


def _rate(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def repurchase(
    con: duckdb.DuckDBPyConnection, catalog: ContractCatalog, dictionary: Dictionary, ask: Ask
) -> dict[str, Any]:
    """Per channel: of the orders placed at least `days` ago, the share whose customer ordered again within `days`."""
    del dictionary
    if ask.channel == "order":
        source, join = "o.channel", ""
    elif ask.channel == "attribution":
        found = catalog.find_field(CHANNEL_DOMAIN, CHANNEL_FIELD)
        if found is None:
            raise ValidationFailed(
                [Problem("channel", "contract", "no marketing contract owes channel_id; use channel=order")]
            )
        source = f"coalesce(a.{CHANNEL_FIELD}, o.channel)"
        join = f'LEFT JOIN "{found[1]}" a ON a.oid = o.oid'
    else:
        raise ValidationFailed([Problem("channel", "enum", "channel must be order or attribution")])
    sql = f"""
        WITH o AS (
            SELECT o.oid, o.customer_id, o.placed_at, {source} AS channel FROM orders o {join}
            WHERE o.customer_id IS NOT NULL
        ), n AS (
            SELECT *, lead(placed_at) OVER (PARTITION BY customer_id ORDER BY placed_at, oid) AS next_at FROM o
        ), w AS (
            SELECT *, placed_at <= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER)) AS observed FROM n
        )
        SELECT coalesce(channel, '(none)') AS channel, count(*) AS orders,
               count(*) FILTER (WHERE observed) AS observed,
               count(*) FILTER (WHERE observed AND next_at <= placed_at + to_days(CAST($days AS INTEGER)))
                   AS repurchased,
               count(DISTINCT customer_id) AS customers
        FROM w GROUP BY 1 ORDER BY orders DESC, channel
    """
    rows = fetch(con.sql(sql, params=_days(ask))).records()
    for r in rows:
        r["repurchase_rate"] = _rate(r["repurchased"], r["observed"])
    observed = sum(r["observed"] for r in rows)
    return {
        "window_days": ask.days,
        "channel_source": ask.channel,
        "channels": rows,
        "overall": {
            "orders": sum(r["orders"] for r in rows),
            "observed": observed,
            "repurchased": sum(r["repurchased"] for r in rows),
            "repurchase_rate": _rate(sum(r["repurchased"] for r in rows), observed),
        },
        "note": "observed = orders placed at least window_days before as_of, so each had the full window",
    }


def rush_orders(
    con: duckdb.DuckDBPyConnection, catalog: ContractCatalog, dictionary: Dictionary, ask: Ask
) -> dict[str, Any]:
    """Per customer: orders placed in the last `days`, how many carry a rush flag, how many were rushed."""
    del dictionary
    found = catalog.find_field(RUSH_DOMAIN, RUSH_FIELD)
    if found is None:
        raise NotFound("no supply-chain contract owes rush_order, so rush orders cannot be counted")
    sql = f"""
        SELECT o.customer_id, count(*) AS orders, count(r.oid) AS flagged,
               count(*) FILTER (WHERE r.{RUSH_FIELD}) AS rush_orders,
               sum(CASE WHEN r.{RUSH_FIELD} THEN o.total END) AS rush_value
        FROM orders o LEFT JOIN "{found[1]}" r ON r.oid = o.oid
        WHERE o.customer_id IS NOT NULL
          AND o.placed_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
        GROUP BY 1
    """
    ranked = f"SELECT * FROM ({sql}) ORDER BY rush_orders DESC, orders DESC, customer_id LIMIT {int(ask.limit)}"
    rows = fetch(con.sql(ranked, params=_days(ask))).records()
    (total,) = fetch(
        con.sql(
            f"SELECT count(*) AS customers, coalesce(sum(orders), 0) AS orders, coalesce(sum(flagged), 0) AS flagged, "
            f"coalesce(sum(rush_orders), 0) AS rush_orders FROM ({sql})",
            params=_days(ask),
        )
    ).records()
    for r in rows:
        r["rush_share"] = _rate(r["rush_orders"], r["orders"])
    return {
        "window_days": ask.days,
        "contract": found[0].id,
        "customers": rows,
        "overall": {**total, "rush_share": _rate(total["rush_orders"], total["orders"])},
    }


def days_to_cash(
    con: duckdb.DuckDBPyConnection, catalog: ContractCatalog, dictionary: Dictionary, ask: Ask
) -> dict[str, Any]:
    """Per customer: for orders placed in the last `days`, days from placement (and from invoice) to cash."""
    del catalog
    missing = [t for t in (CAPTURED, INVOICED) if t not in dictionary.types]
    if missing:
        raise NotFound(f"the dictionary has no {', '.join(missing)} events, so days to cash cannot be measured")
    sql = """
        WITH paid AS (SELECT oid, min(time) AS paid_at FROM events WHERE type = $captured GROUP BY oid),
        inv AS (SELECT oid, min(time) AS invoiced_at FROM events WHERE type = $invoiced GROUP BY oid),
        o AS (
            SELECT o.oid, o.customer_id, o.total, epoch(p.paid_at - o.placed_at) / 86400 AS from_placed,
                   CASE WHEN i.invoiced_at <= p.paid_at THEN epoch(p.paid_at - i.invoiced_at) / 86400 END
                       AS from_invoice,
                   p.paid_at IS NOT NULL AS paid
            FROM orders o LEFT JOIN paid p USING (oid) LEFT JOIN inv i USING (oid)
            WHERE o.customer_id IS NOT NULL
              AND o.placed_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER))
        )
        SELECT customer_id, count(*) AS orders, count(*) FILTER (WHERE paid) AS paid,
               count(*) FILTER (WHERE NOT paid) AS unpaid,
               sum(total) FILTER (WHERE NOT paid) AS unpaid_value,
               round(avg(from_placed), 3) AS avg_days_to_cash, round(median(from_placed), 3) AS median_days_to_cash,
               round(max(from_placed), 3) AS max_days_to_cash, round(avg(from_invoice), 3) AS avg_days_invoice_to_cash
        FROM o GROUP BY 1
    """
    params = {**_days(ask), "captured": CAPTURED, "invoiced": INVOICED}
    ranked = (
        f"SELECT * FROM ({sql}) ORDER BY avg_days_to_cash DESC NULLS LAST, unpaid DESC, customer_id "
        f"LIMIT {int(ask.limit)}"
    )
    rows = fetch(con.sql(ranked, params=params)).records()
    (total,) = fetch(
        con.sql(
            f"SELECT count(*) AS customers, coalesce(sum(orders), 0) AS orders, coalesce(sum(paid), 0) AS paid, "
            f"round(sum(avg_days_to_cash * paid) / nullif(sum(paid), 0), 3) AS avg_days_to_cash FROM ({sql})",
            params=params,
        )
    ).records()
    return {"window_days": ask.days, "customers": rows, "overall": total}


def value_stream(
    con: duckdb.DuckDBPyConnection, catalog: ContractCatalog, dictionary: Dictionary, ask: Ask
) -> dict[str, Any]:
    """Contract fulfilment per contract and overall, and the playbooks' trigger success rate."""
    del dictionary
    contracts = []
    for c in catalog.list():
        h = contract_health(con, c, now=ask.now, days=ask.days, tz=ask.tz, trend=False)
        contracts.append(
            {
                "contract": c.id,
                "domain": c.domain,
                **{k: h["orders"][k] for k in ("due", "on_time", "late", "missing", "pending")},
                "rejected": h["deliveries"]["rejected"],
                "fulfilment_rate": h["fulfilment_rate"],
            }
        )
    due = sum(c["due"] for c in contracts)
    runs = fetch(
        con.sql(
            "SELECT playbook, count(*) AS started, count(*) FILTER (WHERE outcome = 'done') AS done, "
            "count(*) FILTER (WHERE outcome = 'failed') AS failed, count(*) FILTER (WHERE outcome = 'running') "
            "AS running FROM playbook_runs "
            "WHERE started_at >= CAST($now AS TIMESTAMPTZ) - to_days(CAST($days AS INTEGER)) "
            "GROUP BY 1 ORDER BY started DESC, playbook",
            params=_days(ask),
        )
    ).records()
    for r in runs:
        r["success_rate"] = _rate(r["done"], r["done"] + r["failed"])
    done, failed = sum(r["done"] for r in runs), sum(r["failed"] for r in runs)
    triggers = trigger_success(con, now=ask.now, days=ask.days, limit=ask.limit)
    return {
        "window_days": ask.days,
        "contracts": contracts,
        "contract_fulfilment_rate": _rate(sum(c["on_time"] for c in contracts), due),
        "playbooks": runs,
        "playbook_trigger_success_rate": _rate(done, done + failed),
        "trigger_success_rate": triggers["trigger_success_rate"],
        "triggers": triggers,
        "note": "a playbook run succeeds when it finished done; running runs are not counted in the rate. "
        "trigger_success_rate: of the detector firings and at-risk customers, the share whose playbooks created "
        "every task they owed (no playbook within the grace period counts as a failure; pending ones are left out)",
    }


VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View(
            "repurchase_by_channel",
            "marketing",
            "30-day repurchase rate per channel",
            ("cs", "ops", "admin"),
            30,
            repurchase,
        ),
        View(
            "rush_orders_by_customer",
            "supply_chain",
            "Rush-order frequency per customer",
            ("ops", "admin"),
            90,
            rush_orders,
        ),
        View(
            "days_to_cash_by_customer",
            "finance",
            "Days to cash per customer",
            ("finance", "ops", "admin"),
            90,
            days_to_cash,
        ),
        View(
            "value_stream_health",
            "value_stream",
            "Contract fulfilment and playbook success",
            ("cs", "finance", "ops", "admin"),
            30,
            value_stream,
        ),
    )
}


def view(name: str) -> View:
    """The department view called `name` (NotFound lists them)."""
    found = VIEWS.get(name)
    if found is None:
        raise NotFound(f"no department view {name!r}; views: {', '.join(VIEWS)}")
    return found
