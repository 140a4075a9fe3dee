"""Counterfactual explanations: the smallest change of a signal that would have flipped the choice.

"Why not Shanghai? It would have won if its backlog were under 3.4 h." The
answer is found by re-planning with the runner-up's backlog lowered (bisection
over the scorer itself, so every term — load, waiting, lateness risk — moves
as it really would). It costs a dozen plans, so it runs when a decision is
recorded or explained, not inside batch optimisation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orderloom.routing.network import Network
from orderloom.routing.scoring import IDLE, Decision, Order, Signals, Weights, plan

STEPS = 12


def why_not(
    order: Order,
    network: Network,
    signals: Signals,
    weights: Weights,
    decision: Decision,
    **scoring: Any,
) -> list[str]:
    """For each single-node runner-up held back by its backlog: the backlog under which it would have won."""
    if decision.chosen is None:
        return []
    out = []
    for alt in decision.alternatives:
        if len(alt.node_ids) != 1:
            continue
        node = alt.node_ids[0]
        sig = signals.nodes.get(node, IDLE)
        if sig.backlog_hours <= 0 or not _wins(order, network, signals, weights, node, backlog=0.0, scoring=scoring):
            continue
        low, high = 0.0, sig.backlog_hours  # wins at `low`, loses at `high`
        for _ in range(STEPS):
            mid = (low + high) / 2
            if _wins(order, network, signals, weights, node, backlog=mid, scoring=scoring):
                low = mid
            else:
                high = mid
        out.append(f"{node} would have won if its backlog were under {low:.1f} h (it is {sig.backlog_hours:.1f} h)")
    return out


def _wins(
    order: Order,
    network: Network,
    signals: Signals,
    weights: Weights,
    node: str,
    *,
    backlog: float,
    scoring: dict[str, Any],
) -> bool:
    nodes = dict(signals.nodes)
    nodes[node] = replace(nodes.get(node, IDLE), backlog_hours=backlog)
    d = plan(order, network, replace(signals, nodes=nodes), weights, **scoring)
    return d.chosen is not None and d.chosen.node_ids == (node,)
