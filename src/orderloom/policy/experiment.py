"""A/B reports for policy versions: outcomes from the log, per arm, with uncertainty and an SRM check.

An order belongs to the arm recorded by its first `policy.decided` event for
the policy. Its outcomes are read from its own stream: delivered on time
(before the window's end), complaint, return, split. Each metric's difference
(candidate − stable) comes with a 95% confidence interval; the sample-ratio
check flags an experiment whose arms are not the size the rollout asked for,
the usual sign that assignment or logging is broken and nothing else can be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orderloom.core.envelope import StoredEvent, parse_time
from orderloom.dictionary.model import Dictionary

DECIDED = "policy.decided"
SRM_ALPHA = 0.001


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one order, or None where it is not known yet."""

    on_time: bool | None
    complaint: bool
    returned: bool
    split: bool
    cost: float | None = None  # fulfilment cost from the order's routing decisions, in the order's currency


def outcome(events: list[StoredEvent], dictionary: Dictionary) -> Outcome:
    """An order's outcome from its events (a pure function)."""
    window_end = None
    delivered_at = None
    for e in events:
        if e.type == "order.placed":
            window_end = (e.data.get("window") or {}).get("end")
        t = dictionary.get(e.type)
        status = dictionary.statuses.get(t.status or "") if t else None
        if status is not None and status.kind == "delivered":
            delivered_at = e.occurred_at if delivered_at is None else max(delivered_at, e.occurred_at)
    on_time = None
    if delivered_at is not None and window_end:
        on_time = delivered_at <= parse_time(window_end)
    types = {e.type for e in events}
    costs = [float(e.data["cost"]) for e in events if e.type == "routing.decided" and "cost" in e.data]
    return Outcome(
        on_time,
        "complaint.opened" in types,
        "return.requested" in types,
        "order.split" in types,
        sum(costs) if costs else None,
    )


def assignments(log: Iterable[StoredEvent], policy: str) -> dict[str, tuple[str, int]]:
    """order id → (arm, version) of its first decision by `policy`."""
    out: dict[str, tuple[str, int]] = {}
    for e in log:
        if e.type == DECIDED and e.data.get("policy") == policy and e.oid not in out:
            out[e.oid] = (str(e.data["arm"]), int(e.data["version"]))
    return out


def compare(successes: tuple[int, int], totals: tuple[int, int]) -> dict[str, float | None]:
    """Rates of (stable, candidate), their difference and its 95% confidence interval (Wald)."""
    (xs, xc), (ns, nc) = successes, totals
    if ns == 0 or nc == 0:
        return {"stable": None, "candidate": None, "difference": None, "ci_low": None, "ci_high": None}
    ps, pc = xs / ns, xc / nc
    se = math.sqrt(ps * (1 - ps) / ns + pc * (1 - pc) / nc)
    diff = pc - ps
    return {"stable": ps, "candidate": pc, "difference": diff, "ci_low": diff - 1.96 * se, "ci_high": diff + 1.96 * se}


def compare_means(stable: list[float], candidate: list[float]) -> dict[str, float | None]:
    """Means of (stable, candidate), their difference and its 95% confidence interval (Welch)."""
    if len(stable) < 2 or len(candidate) < 2:
        return {"stable": None, "candidate": None, "difference": None, "ci_low": None, "ci_high": None}
    ms, mc = sum(stable) / len(stable), sum(candidate) / len(candidate)
    vs = sum((x - ms) ** 2 for x in stable) / (len(stable) - 1)
    vc = sum((x - mc) ** 2 for x in candidate) / (len(candidate) - 1)
    se = math.sqrt(vs / len(stable) + vc / len(candidate))
    diff = mc - ms
    return {"stable": ms, "candidate": mc, "difference": diff, "ci_low": diff - 1.96 * se, "ci_high": diff + 1.96 * se}


def sample_ratio(counts: tuple[int, int], candidate_share: float) -> dict[str, float | bool]:
    """Chi-square test (1 df) of the arm sizes against the share the rollout asked for."""
    total = counts[0] + counts[1]
    expected = (total * (1 - candidate_share), total * candidate_share)
    chi2 = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0)
    p = math.erfc(math.sqrt(chi2 / 2))  # survival function of chi-square with one degree of freedom
    return {"chi2": chi2, "p_value": p, "mismatch": p < SRM_ALPHA}


def report(
    log: Iterable[StoredEvent], streams: Any, dictionary: Dictionary, policy: str, candidate_share: float | None
) -> dict[str, Any]:
    """The experiment report: arm sizes, each metric per arm with its difference and CI, and the SRM check.

    `streams(oid)` returns an order's events (the store's `read_stream`).
    """
    assigned = assignments(log, policy)
    arms: dict[str, list[Outcome]] = {"stable": [], "candidate": []}
    versions: dict[str, set[int]] = {"stable": set(), "candidate": set()}
    for oid, (arm, version) in assigned.items():
        arms.setdefault(arm, []).append(outcome(streams(oid), dictionary))
        versions.setdefault(arm, set()).add(version)
    s, c = arms["stable"], arms["candidate"]
    metrics: dict[str, Any] = {}
    for name in ("on_time", "complaint", "returned", "split"):
        known_s = [getattr(o, name) for o in s if getattr(o, name) is not None]
        known_c = [getattr(o, name) for o in c if getattr(o, name) is not None]
        metrics[name] = {
            "n": [len(known_s), len(known_c)],
            **compare((sum(known_s), sum(known_c)), (len(known_s), len(known_c))),
        }
    costs_s = [o.cost for o in s if o.cost is not None]
    costs_c = [o.cost for o in c if o.cost is not None]
    metrics["cost_per_order"] = {"n": [len(costs_s), len(costs_c)], **compare_means(costs_s, costs_c)}
    doc: dict[str, Any] = {
        "policy": policy,
        "orders": {"stable": len(s), "candidate": len(c)},
        "versions": {arm: sorted(v) for arm, v in versions.items()},
        "metrics": metrics,
    }
    if candidate_share is not None and s and c:
        doc["sample_ratio"] = sample_ratio((len(s), len(c)), candidate_share)
    return doc
