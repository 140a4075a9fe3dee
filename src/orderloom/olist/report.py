"""`orderloom report olist`: every figure computed from the log, printed for people and as one JSON line."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from orderloom.dictionary.model import Dictionary
from orderloom.olist import figures, risk
from orderloom.olist.ledger import OrderRecord, fold
from orderloom.olist.localtime import ZONE
from orderloom.store import EventStore, iter_log

DWELL_STEPS = 8
# DuckDB refuses to scan an all-empty text column of a couple of thousand rows (the analytics adapter's
# `from_node` for a feed without line-haul events), so the dwell model is fed in smaller pages.
DWELL_CHUNK = 1000


def _periods(records: list[OrderRecord]) -> dict[str, Any]:
    """Late rates by band in the model's training period (first 80% by purchase) and its test period."""
    rows = sorted((r for r in records if r.measured and r.purchased), key=lambda r: (r.purchased, r.oid))
    cut = int(len(rows) * risk.TRAIN_SHARE)
    return {"train": figures.late_rates(rows[:cut]), "test": figures.late_rates(rows[cut:])}


def dwell_steps(store: EventStore, dictionary: Dictionary) -> list[dict[str, Any]]:
    """The status capability's dwell analytics over the same log (every order in it): the most frequent steps."""
    from orderloom.status.analytics.duck import DuckDBDwellAnalytics
    from orderloom.status.analytics.visibility import full_mask

    analytics = DuckDBDwellAnalytics(store, dictionary, tz=ZONE, chunk=DWELL_CHUNK)
    try:
        analytics.refresh()
        book = analytics.typical(full_mask(dictionary))
    finally:
        analytics.close()
    pairs = sorted(book.pairs.items(), key=lambda kv: (-kv[1].count, kv[0]))[:DWELL_STEPS]
    return [
        {"from": f, "to": t, "steps": ty.count, "p50_h": round(ty.p50_s / 3600, 2), "p90_h": round(ty.p90_s / 3600, 2)}
        for (f, t), ty in pairs
    ]


def build(store: EventStore, dictionary: Dictionary, *, dwell: bool = True) -> dict[str, Any]:
    """Every figure of the report, from the Olist orders in the log."""
    records = list(fold(iter_log(store), dictionary).values())
    return {
        "orders": len(records),
        "statuses": figures.statuses(records),
        "delivered_out_of_order": sum(1 for r in records if r.measured and r.status != "delivered"),
        "lead_times": figures.lead_times(records),
        "late": figures.late_rates(records),
        "late_by_period": _periods(records),
        "risk": risk.evaluate(risk.dataset(records)),
        "ratings": figures.ratings(records),
        "dwell": dwell_steps(store, dictionary) if dwell and records else [],
    }


def summary(rep: dict[str, Any]) -> dict[str, Any]:
    """The one-line JSON form: the headline figures."""
    late, rk, lt = rep["late"], rep["risk"], rep["lead_times"]
    return {
        "orders": rep["orders"],
        "delivered": late["orders"],
        "late_rate_pct": late["late_rate_pct"],
        "late_by_day_pct": late["late_by_day_pct"],
        "late_rate_by_band_pct": {b["band"]: b["late_rate_pct"] for b in late["bands"]},
        "orders_by_band": {b["band"]: b["orders"] for b in late["bands"]},
        "lead_time_days": {k: {"p50": v["p50_d"], "p90": v["p90_d"]} for k, v in lt.items()},
        "auc_model": rk.get("auc_model"),
        "auc_distance_only": rk.get("auc_distance_only"),
        "auc_gain_ci95": rk.get("auc_gain_ci95"),
        "model": rk.get("model"),
        "train": rk.get("train"),
        "test": rk.get("test"),
        "test_from": rk.get("test_from"),
        "test_late_rate_pct": rk.get("test_late_rate_pct"),
        "mean_rating_on_time": rep["ratings"]["on_time"]["mean_rating"],
        "mean_rating_late": rep["ratings"]["late"]["mean_rating"],
    }


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(rep: dict[str, Any], console: Console) -> None:
    """Print the report's tables."""
    console.print(
        f"[bold]Olist orders in the log:[/bold] {rep['orders']:,}  "
        + ", ".join(f"{k} {v:,}" for k, v in rep["statuses"].items())
    )
    if rep["delivered_out_of_order"]:
        console.print(
            f"{rep['delivered_out_of_order']} delivered orders have milestones out of order in the data (e.g. "
            "delivered before the carrier took them), so their chain ends at an earlier status; "
            "they count as delivered below"
        )
    t = Table("stage (delivered orders)", "orders", "p50", "p90", "mean", "ran backwards", title="Lead times")
    for s in rep["lead_times"].values():
        unit, div = ("h", 1.0) if (s["p90_h"] or 0) < 72 else ("d", 24.0)
        t.add_row(
            s["label"],
            f"{s['orders']:,}",
            f"{_num(None if s['p50_h'] is None else s['p50_h'] / div)} {unit}",
            f"{_num(None if s['p90_h'] is None else s['p90_h'] / div)} {unit}",
            f"{_num(None if s['mean_h'] is None else s['mean_h'] / div)} {unit}",
            str(s["negative"]),
        )
    console.print(t)
    late, periods = rep["late"], rep["late_by_period"]
    console.print(
        f"Late (delivered after the estimated delivery date, read as 00:00 São Paulo time): "
        f"[bold]{_pct(late['late_rate_pct'], 2)}[/bold] of {late['orders']:,} delivered orders "
        f"({_pct(late['late_by_day_pct'], 2)} counting only deliveries on a later calendar day)"
    )
    t = Table(
        "seller → customer", "orders", "late", "first 80% (train)", "last 20% (test)", title="Late rate by distance"
    )
    for b, tr, te in zip(late["bands"], periods["train"]["bands"], periods["test"]["bands"], strict=True):
        t.add_row(
            b["label"],
            f"{b['orders']:,}",
            _pct(b["late_rate_pct"]),
            _pct(tr["late_rate_pct"]),
            _pct(te["late_rate_pct"]),
        )
    unk = late["unknown_distance"]
    t.add_row("unknown (zip prefix not located)", f"{unk['orders']:,}", _pct(unk["late_rate_pct"]), "", "")
    console.print(t)
    rk = rep["risk"]
    if "skipped" in rk:
        console.print(f"Late-delivery risk model: not trained ({rk['skipped']})")
    else:
        console.print(
            f"Late-delivery risk ({rk['model']}, chosen on the last quarter of the training period): "
            f"trained on {rk['train']:,} orders ({_pct(rk['train_late_rate_pct'])} late), "
            f"tested on {rk['test']:,} placed from {rk['test_from']} ({_pct(rk['test_late_rate_pct'])} late)\n"
            f"  AUC model [bold]{_num(rk['auc_model'], 3)}[/bold]   distance only {_num(rk['auc_distance_only'], 3)}"
            f"   gain {_num(rk['auc_gain'], 3)} (95% CI {_num(rk['auc_gain_ci95'][0], 3)}"
            f" to {_num(rk['auc_gain_ci95'][1], 3)})   both candidates on test: "
            + ", ".join(f"{k} {_num(v, 3)}" for k, v in rk["test_auc"].items())
        )
    ra = rep["ratings"]
    console.print(
        f"Review score of delivered orders: on time {_num(ra['on_time']['mean_rating'], 2)} "
        f"({_pct(ra['on_time']['low_rating_pct'])} gave 1-2 stars), late {_num(ra['late']['mean_rating'], 2)} "
        f"({_pct(ra['late']['low_rating_pct'])} gave 1-2 stars)"
    )
    if rep["dwell"]:
        t = Table(
            "from", "to", "steps", "p50 h", "p90 h", title="Dwell analytics on the same log (most frequent steps)"
        )
        for d in rep["dwell"]:
            t.add_row(d["from"], d["to"], f"{d['steps']:,}", _num(d["p50_h"]), _num(d["p90_h"]))
        console.print(t)
