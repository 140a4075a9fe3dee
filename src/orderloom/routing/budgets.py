"""Budget goals of a routing profile: soft limits on average spend over a period, held by a price on cost.

"East-China new-customer acquisition cost ≤ ¥86 this quarter" is a goal over
many orders, not a rule for one: a single expensive order is fine if the
quarter's average stays under the limit. So each budget keeps its running
average from the log (the `cost` of every routing decision for the orders it
covers) and, while that average is over the limit, makes cost count more for
those orders — a multiplier that grows with the overrun (a Lagrange multiplier
by another name). Under the limit it is 0 and the budget changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import Problem

PERIODS = ("month", "quarter", "year")
FIELDS = {"id", "label", "regions", "cities", "new_customers", "max_avg_cost", "period", "gain"}
ROUTED = ("routing.decided", "routing.rerouted")
MAX_MULTIPLIER = 3.0  # cost never counts more than 4× for a budget, however far over it is


@dataclass(frozen=True, slots=True)
class Budget:
    """One goal: the orders it covers and the average ¥ per order it allows per period."""

    id: str
    max_avg_cost: float
    period: str = "quarter"
    regions: frozenset[str] = frozenset()  # destination.region values; empty: any
    cities: frozenset[str] = frozenset()  # destination.city values; empty: any
    new_customers: bool = False  # only orders of customers marked new_customer
    gain: float = 4.0  # multiplier per unit of relative overrun (10 % over → 0.4)
    label: str = ""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Budget:
        """A budget from a linted profile document entry."""
        return cls(
            id=str(raw["id"]),
            max_avg_cost=float(raw["max_avg_cost"]),
            period=str(raw.get("period", "quarter")),
            regions=frozenset(raw.get("regions") or ()),
            cities=frozenset(raw.get("cities") or ()),
            new_customers=bool(raw.get("new_customers", False)),
            gain=float(raw.get("gain", 4.0)),
            label=str(raw.get("label", "")),
        )

    def covers(self, placed: Mapping[str, Any]) -> bool:
        """Whether an `order.placed` payload falls under this budget."""
        dest = placed.get("destination") or {}
        if self.regions and str(dest.get("region", "")) not in self.regions:
            return False
        if self.cities and str(dest.get("city", "")) not in self.cities:
            return False
        return not self.new_customers or bool((placed.get("customer") or {}).get("new_customer"))

    def period_of(self, at: datetime) -> str:
        """The period an instant belongs to, e.g. 2026-Q4."""
        if self.period == "month":
            return f"{at.year}-{at.month:02d}"
        if self.period == "year":
            return str(at.year)
        return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


@dataclass(slots=True)
class Spend:
    """What a budget has spent in one period."""

    orders: int = 0
    cost: float = 0.0

    @property
    def average(self) -> float:
        return self.cost / self.orders if self.orders else 0.0


@dataclass(slots=True)
class BudgetBook:
    """Running spend per budget and period, folded from the log."""

    budgets: tuple[Budget, ...] = ()
    spend: dict[tuple[str, str], Spend] = field(default_factory=dict)
    _placed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # oid -> ids of the budgets covering it
    _counted: dict[tuple[str, str], float] = field(default_factory=dict)  # (budget, oid) -> cost counted
    position: int = 0

    def configure(self, budgets: tuple[Budget, ...]) -> None:
        """Use these budgets from now on (a new profile version); spend is re-folded when they change."""
        if budgets != self.budgets:
            self.budgets = budgets
            self.spend.clear()
            self._placed.clear()
            self._counted.clear()
            self.position = 0

    def follow(self, read_all: Any) -> None:
        """Fold in what the log holds after `position` (the store's `read_all`)."""
        while page := read_all(self.position, 5000):
            self.learn(page)
            self.position = page[-1].position

    def learn(self, events: Iterable[StoredEvent]) -> None:
        """Count each covered order's latest routing cost once, in the period it was routed."""
        if not self.budgets:
            return
        for e in events:
            if e.type == "order.placed":
                self._placed[e.oid] = tuple(b.id for b in self.budgets if b.covers(e.data))
            elif e.type in ROUTED and e.oid in self._placed and "cost" in e.data:
                for b in self.budgets:
                    if b.id in self._placed[e.oid]:
                        self._count(b, e.oid, float(e.data["cost"]), e.occurred_at)

    def _count(self, b: Budget, oid: str, cost: float, at: datetime) -> None:
        spend = self.spend.setdefault((b.id, b.period_of(at)), Spend())
        before = self._counted.get((b.id, oid))
        if before is None:
            spend.orders += 1
        else:
            spend.cost -= before  # a re-route replaces the order's cost, it does not add an order
        spend.cost += cost
        self._counted[(b.id, oid)] = cost

    def multiplier(self, placed: Mapping[str, Any], at: datetime) -> tuple[float, list[str]]:
        """How much more cost counts for this order now, and why, over every budget that covers it."""
        total = 0.0
        why: list[str] = []
        for b in self.budgets:
            if not b.covers(placed):
                continue
            period = b.period_of(at)
            spend = self.spend.get((b.id, period), Spend())
            over = spend.average / b.max_avg_cost - 1.0 if b.max_avg_cost > 0 else 0.0
            m = min(MAX_MULTIPLIER, b.gain * over) if over > 0 else 0.0
            total += m
            name = b.label or b.id
            state = f"cost counts ×{1 + m:.2f}" if m > 0 else "within budget"
            why.append(
                f"budget {name}: average ¥{spend.average:.2f} over {spend.orders} orders in {period}"
                f" vs ≤ ¥{b.max_avg_cost:g}; {state}"
            )
        return total, why


def budget_problems(raw: Any, where: str = "document.budgets") -> list[Problem]:
    """Lint a profile's `budgets` list; every problem names the budget and field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return [Problem(where, "type", "budgets must be a list of budget goals")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, b in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(b, dict):
            problems.append(Problem(at, "type", 'a budget is an object like {"id": "east_new", "max_avg_cost": 86}'))
            continue
        bid = b.get("id")
        if not isinstance(bid, str) or not bid:
            problems.append(Problem(f"{at}.id", "required", "each budget needs an id"))
        elif bid in seen:
            problems.append(Problem(f"{at}.id", "unique", f"budget id {bid!r} is used twice"))
        else:
            seen.add(bid)
        limit = b.get("max_avg_cost")
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
            problems.append(Problem(f"{at}.max_avg_cost", "range", "max_avg_cost must be ¥ per order, above 0"))
        if b.get("period", "quarter") not in PERIODS:
            problems.append(Problem(f"{at}.period", "enum", f"period must be one of {', '.join(PERIODS)}"))
        gain = b.get("gain", 4.0)
        if isinstance(gain, bool) or not isinstance(gain, int | float) or gain < 0:
            problems.append(Problem(f"{at}.gain", "range", "gain must be a number of 0 or more"))
        for key in ("regions", "cities"):
            v = b.get(key)
            if v is not None and (not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
                problems.append(Problem(f"{at}.{key}", "type", f"{key} must be a list of names"))
        if "new_customers" in b and not isinstance(b["new_customers"], bool):
            problems.append(Problem(f"{at}.new_customers", "type", "new_customers must be true or false"))
        problems += [
            Problem(f"{at}.{k}", "unknown_field", f"{k!r} is not a field of a budget ({', '.join(sorted(FIELDS))})")
            for k in sorted(set(b) - FIELDS)
        ]
    return problems
