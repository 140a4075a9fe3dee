"""A ceiling, not a forecast: the fluid projection fed with the twin's true future, to show what noise leaves.

It knows what no log can: the real arrival rate of every coming hour (real
promotion uplifts, no estimation error) and the real capacity (faults that have
not happened yet, repairs' real length). Only the Poisson draw of the arrivals
is unknown. Where even this misses the precision and recall target, the target
is beyond any honest forecast on that data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from orderloom.sim.twin import Scenario, city_rates
from orderloom.status.forecast.features import Frame, fluid


def foresight(
    sc: Scenario,
    frame: Frame,
    capacity: Mapping[str, float],
    real_capacity: Mapping[int, Mapping[str, float]],
    *,
    horizon: int,
) -> np.ndarray:
    """Each row's backlog hours at t + horizon by the fluid projection with the true rates and capacities.

    Series index i is the twin's hour i (the series starts at the scenario's start), and a forecast made at the
    end of index i covers hours i+1 .. i+horizon. `real_capacity[h][node]` is the twin's capacity in hour h.
    """
    city_of = {n.id: n.city for n in sc.network.nodes}
    last = int(frame.index.max()) + horizon + 1 if len(frame.index) else 0
    rates = [city_rates(sc, h) for h in range(last)]
    arrivals = np.zeros((len(frame.index), horizon))
    work = np.zeros((len(frame.index), horizon))
    for r, (node, i) in enumerate(zip(frame.nodes, frame.index, strict=True)):
        cap = capacity[node]
        for k in range(horizon):
            h = int(i) + 1 + k
            arrivals[r, k] = rates[h].get(city_of[node], 0.0) / cap
            work[r, k] = real_capacity.get(h, {}).get(node, cap) / cap
    return fluid(frame.column("backlog_h").astype(float), arrivals, work)
