"""Root causes: what the orders with a finding have in common (a device model, a firmware, a site, a carrier...).

For one monitor, every order it applies to is a yes/no (did it get the
finding?) with attributes read from its events: device id, device model and
firmware (proof), site (data.node), carrier (data.carrier) and operator
(actor), each qualified by the leg it was seen on (`forward_wh.firmware`),
plus pairs of attributes seen on the same leg (firmware x model). Events of
the types the monitor waits for are left out, since their absence is the
outcome itself; for a missing step, a finding the step itself resolved later
(a late upload) counts as late, not missing.

Each group with enough orders is tested against all other orders with a
one-sided Fisher exact test; p-values are corrected for the number of groups
tested (Holm by default, or Benjamini-Hochberg). The most significant group
becomes a cause, made more specific when the excess sits in one of its pairs
(firmware 3.4.1 is only bad on one model) or broader when a pair's parent is
bad everywhere; its orders are set aside and the rest tested again, so
groups that only ride along (the devices of that model, the sites that use
them) are reported as explained rather than as causes of their own.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import fisher_exact

from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.dictionary.model import Dictionary
from orderloom.status.monitors.model import MISSING_STEP, SLA_RISK, STALL, Monitor
from orderloom.status.monitors.state import OPENED, RESOLVED
from orderloom.store.follow import iter_log
from orderloom.store.port import EventStore

Item = tuple[str, str]  # ("forward_wh.firmware", "3.4.1")
GroupKey = tuple[Item, ...]
_SKIP_ACTORS = ("customer:", "system:", "key:", "playbook:", "admin:")
_VERBS = {"missing_step": ("missing", "缺失"), "stall": ("stalled", "停滞"), "sla_risk": ("at risk", "有风险")}
_NAMES_ZH = {
    "model": "型号",
    "firmware": "固件",
    "device": "设备",
    "node": "站点",
    "carrier": "承运商",
    "operator": "操作员",
}
CORRECTIONS = ("holm", "bh")


@dataclass(frozen=True, slots=True)
class Profile:
    """One order the monitor applies to: whether it had the finding, and its attributes."""

    oid: str
    hit: bool
    attrs: frozenset[Item]


@dataclass(frozen=True, slots=True)
class Settings:
    """How strict the analysis is."""

    min_support: int = 30
    min_hits: int = 3
    alpha: float = 0.01
    correction: str = "holm"
    min_lift: float = 2.0
    max_causes: int = 5
    pairs: bool = True

    def check(self) -> None:
        """ValidationFailed naming each setting out of range."""
        problems = []
        if self.min_support < 2:
            problems.append(Problem("min_support", "minimum", "min_support must be at least 2 orders"))
        if self.min_hits < 1:
            problems.append(Problem("min_hits", "minimum", "min_hits must be at least 1 order with the finding"))
        if not 0 < self.alpha < 1:
            problems.append(Problem("alpha", "range", "alpha must be between 0 and 1, e.g. 0.01"))
        if self.correction not in CORRECTIONS:
            problems.append(Problem("correction", "enum", "correction must be holm or bh (Benjamini-Hochberg)"))
        if self.min_lift < 1:
            problems.append(Problem("min_lift", "minimum", "min_lift must be at least 1 (the rate inside / outside)"))
        if problems:
            raise ValidationFailed(problems)


@dataclass(slots=True)
class Group:
    """A group of orders sharing one attribute or a pair, with its rate against everyone else."""

    items: GroupKey
    n: int
    hits: int
    rest_n: int
    rest_hits: int
    p: float = 1.0
    p_adjusted: float = 1.0
    explained_by: str | None = None
    sentence: str = ""
    sentence_zh: str = ""

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else 0.0

    @property
    def rest_rate(self) -> float:
        return self.rest_hits / self.rest_n if self.rest_n else 0.0

    @property
    def lift(self) -> float:
        rest = self.rest_rate
        return float("inf") if rest == 0 else self.rate / rest

    def document(self) -> dict[str, Any]:
        """The group as JSON."""
        return {
            "attributes": [{"attribute": k, "value": v} for k, v in self.items],
            "n": self.n,
            "with_finding": self.hits,
            "rate": round(self.rate, 6),
            "elsewhere_n": self.rest_n,
            "elsewhere_with_finding": self.rest_hits,
            "elsewhere_rate": round(self.rest_rate, 6),
            "lift": None if self.lift == float("inf") else round(self.lift, 3),
            "p": self.p,
            "p_adjusted": self.p_adjusted,
            "explained_by": self.explained_by,
            "sentence": self.sentence,
            "sentence_zh": self.sentence_zh,
        }


@dataclass(slots=True)
class Report:
    """The root causes of one monitor's findings."""

    monitor: str
    kind: str
    orders: int
    with_finding: int
    tested: int
    settings: Settings
    causes: list[Group] = field(default_factory=list)
    explained: list[Group] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The report as JSON (what the API returns)."""
        return {
            "monitor": self.monitor,
            "kind": self.kind,
            "orders": self.orders,
            "with_finding": self.with_finding,
            "baseline_rate": round(self.with_finding / self.orders, 6) if self.orders else 0.0,
            "groups_tested": self.tested,
            "causes": [g.document() for g in self.causes],
            "explained": [g.document() for g in self.explained],
            "settings": {
                "min_support": self.settings.min_support,
                "min_hits": self.settings.min_hits,
                "alpha": self.settings.alpha,
                "correction": self.settings.correction,
                "min_lift": self.settings.min_lift,
            },
        }


# -- profiles -------------------------------------------------------------------


def _attributes(e: StoredEvent, leg: str) -> list[Item]:
    out: list[Item] = []
    proof, data = e.proof or {}, e.data or {}
    values = {
        "device": e.deviceid,
        "operator": e.actor if e.actor and not e.actor.startswith(_SKIP_ACTORS) else None,
        "model": proof.get("model") or proof.get("device_model"),
        "firmware": proof.get("firmware"),
        "node": data.get("node"),
        "carrier": data.get("carrier"),
    }
    for name, value in values.items():
        if isinstance(value, str) and value:
            out.append((f"{leg}.{name}", value))
    return out


def _applies(monitor: Monitor, types: set[str]) -> bool:
    if monitor.kind == SLA_RISK:
        return any(d.event in types for d in monitor.deadlines)
    if not types.intersection(monitor.when):
        return False
    return monitor.kind != MISSING_STEP or all(t in types for t in monitor.only_if)


def profiles(events: Iterable[StoredEvent], dictionary: Dictionary, monitor: Monitor) -> list[Profile]:
    """One profile per order the monitor applies to, from the log's events (any order)."""
    outcome = set(monitor.expect) if monitor.kind in (STALL, MISSING_STEP) else set()
    types: dict[str, set[str]] = {}
    attrs: dict[str, set[Item]] = {}
    opened: Counter[str] = Counter()
    late: Counter[str] = Counter()
    legs = {t.id: t.leg for t in dictionary.types.values() if not t.internal}
    for e in events:
        if e.type in (OPENED, RESOLVED):
            if e.data.get("monitor") != monitor.id:
                continue
            if e.type == OPENED:
                opened[e.oid] += 1
            elif monitor.kind == MISSING_STEP and (e.data.get("resolved_by") or {}).get("type") in outcome:
                # The step turned up after all (a late upload): it was late, not missing.
                late[e.oid] += 1
            continue
        leg = legs.get(e.type)
        if leg is None or e.oid.startswith("sys."):
            continue
        types.setdefault(e.oid, set()).add(e.type)
        if e.type not in outcome:
            attrs.setdefault(e.oid, set()).update(_attributes(e, leg))
    hit = {oid for oid, n in opened.items() if n > late[oid]}
    return [
        Profile(oid, oid in hit, frozenset(attrs.get(oid, ())))
        for oid in sorted(types)
        if oid in hit or _applies(monitor, types[oid])
    ]


def profiles_from_store(store: EventStore, dictionary: Dictionary, monitor: Monitor) -> list[Profile]:
    """The profiles, reading the log once from the start."""
    return profiles(iter_log(store), dictionary, monitor)


# -- testing --------------------------------------------------------------------


def _groups(attrs: frozenset[Item], pairs: bool) -> list[GroupKey]:
    ordered = sorted(attrs)
    out: list[GroupKey] = [(a,) for a in ordered]
    if pairs:
        for a, b in itertools.combinations(ordered, 2):
            leg_a, name_a = a[0].rsplit(".", 1)
            leg_b, name_b = b[0].rsplit(".", 1)
            if leg_a == leg_b and name_a != name_b:
                out.append((a, b))
    return out


def _adjust(ps: Sequence[float], method: str, family: int = 0) -> list[float]:
    """Holm (family-wise) or Benjamini-Hochberg (false discovery rate) adjusted p-values.

    `family` is the number of hypotheses to correct for when it is more than those given
    (later rounds test fewer groups, but they were chosen after looking at the data).
    """
    # Hypotheses beyond those given count as p = 1: they rank last and never lower anyone's bound.
    k = len(ps)
    m = max(k, family)
    order = sorted(range(k), key=lambda i: ps[i])
    out = [1.0] * k
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * ps[i]))
            out[i] = running
    else:
        running = 1.0
        for rank in range(k - 1, -1, -1):
            i = order[rank]
            running = min(running, 1.0, ps[i] * m / (rank + 1))
            out[i] = running
    return out


def _fisher(hits: int, n: int, rest_hits: int, rest_n: int) -> float:
    table = [[hits, n - hits], [rest_hits, rest_n - rest_hits]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def root_causes(
    found: Sequence[Profile], monitor: Monitor, dictionary: Dictionary, settings: Settings | None = None
) -> Report:
    """Rank the groups whose finding rate stands out; nothing when nothing does."""
    s = settings or Settings()
    s.check()
    members = [_groups(p.attrs, s.pairs) for p in found]
    total_n = len(found)
    total_hits = sum(p.hit for p in found)
    n: Counter[GroupKey] = Counter()
    h: Counter[GroupKey] = Counter()
    for p, groups in zip(found, members, strict=True):
        for key in groups:
            n[key] += 1
            h[key] += p.hit
    # A pair holding exactly the orders of one of its parts (a device always on one firmware) says nothing new.
    candidates = [
        k
        for k in n
        if n[k] >= s.min_support
        and h[k] >= s.min_hits
        and n[k] < total_n
        and not (len(k) == 2 and n[k] in (n[k[:1]], n[k[1:]]))
    ]
    report = Report(monitor.id, monitor.kind, total_n, total_hits, len(candidates), s)
    if not candidates or total_hits == 0:
        return report
    wanted = set(candidates)
    members = [[k for k in groups if k in wanted] for groups in members]
    left = list(range(total_n))
    first: dict[GroupKey, Group] = {}
    for round_no in range(s.max_causes):
        tested = _test_round(found, members, left, candidates, s, family=len(first))
        if round_no == 0:
            first = {g.items: g for g in tested}
        significant = [g for g in tested if g.p_adjusted <= s.alpha and g.lift >= s.min_lift]
        if not significant:
            break
        best = min(significant, key=lambda g: (g.p_adjusted, g.p, -g.rate, len(g.items), g.items))
        best = _refine(best, {g.items: g for g in tested}, s)
        # Reported as tested: against all orders for the first cause, against those left for the next.
        best.sentence, best.sentence_zh = describe(best, monitor, dictionary)
        report.causes.append(best)
        left = [i for i in left if best.items not in members[i]]
        candidates = [k for k in candidates if k != best.items]
    causes = {c.items for c in report.causes}
    for g in sorted(first.values(), key=lambda g: (g.p_adjusted, g.items)):
        if g.items in causes or g.p_adjusted > s.alpha or g.lift < s.min_lift:
            continue
        g.explained_by = _explainer(g, report.causes, found, members)
        report.explained.append(g)
    report.explained = report.explained[:20]
    for g in report.explained:
        g.sentence, g.sentence_zh = describe(g, monitor, dictionary)
    return report


def _test_round(
    found: Sequence[Profile],
    members: list[list[GroupKey]],
    left: list[int],
    groups: list[GroupKey],
    s: Settings,
    *,
    family: int,
) -> list[Group]:
    """Every group tested against the other orders still left, with corrected p-values."""
    wanted = set(groups)
    n: Counter[GroupKey] = Counter()
    h: Counter[GroupKey] = Counter()
    for i in left:
        hit = found[i].hit
        for key in members[i]:
            if key in wanted:
                n[key] += 1
                h[key] += hit
    total_n = len(left)
    total_hits = sum(found[i].hit for i in left)
    # Only support is asked of a group here: filtering on its findings would shrink the family unfairly.
    tested = [
        Group(k, n[k], h[k], total_n - n[k], total_hits - h[k]) for k in groups if s.min_support <= n[k] < total_n
    ]
    for g in tested:
        g.p = _fisher(g.hits, g.n, g.rest_hits, g.rest_n)
    for g, q in zip(tested, _adjust([g.p for g in tested], s.correction, family), strict=True):
        g.p_adjusted = q
    return tested


def _refine(best: Group, tested: dict[GroupKey, Group], s: Settings) -> Group:
    """The cause at the right level: a pair when the excess sits in it, its parent when the parent is bad throughout."""
    if len(best.items) == 1:
        inside = []
        for key, pair in tested.items():
            if len(key) != 2 or best.items[0] not in key or pair.p_adjusted > s.alpha:
                continue
            # The rest of the single group, without the pair, against everything outside the single group.
            rest_n, rest_hits = best.n - pair.n, best.hits - pair.hits
            if rest_n == 0 or _fisher(rest_hits, rest_n, best.rest_hits, best.rest_n) > s.alpha:
                inside.append(pair)
        if inside:
            return min(inside, key=lambda g: (g.p_adjusted, g.p, g.items))
        return best
    for parent_item in best.items:
        parent = tested.get((parent_item,))
        if parent is None or parent.p_adjusted > s.alpha:
            continue
        rest_n, rest_hits = parent.n - best.n, parent.hits - best.hits
        if rest_n >= s.min_support and _fisher(rest_hits, rest_n, parent.rest_hits, parent.rest_n) <= s.alpha:
            rest_rate = rest_hits / rest_n
            if parent.rest_rate == 0 or rest_rate >= s.min_lift * parent.rest_rate:
                return parent
    return best


def _explainer(g: Group, causes: list[Group], found: Sequence[Profile], members: list[list[GroupKey]]) -> str | None:
    """The cause that covers most of this group's orders with the finding."""
    best, share = None, 0.0
    for c in causes:
        both = sum(1 for i, p in enumerate(found) if p.hit and g.items in members[i] and c.items in members[i])
        if g.hits and both / g.hits > share:
            best, share = c, both / g.hits
    if best is None or share < 0.5:
        return None
    return best.sentence or _plain(best.items)


# -- words ----------------------------------------------------------------------


def _plain(items: GroupKey) -> str:
    return " × ".join(f"{k}={v}" for k, v in items)


def _leg_words(dictionary: Dictionary, leg: str) -> tuple[str, str]:
    term = dictionary.legs.get(leg)
    if term is None:
        return leg, leg
    return term.label.get("en", leg).lower(), term.label.get("zh", leg)


def _p_text(p: float) -> str:
    return "p<1e-300" if p <= 0 else f"p={p:.0e}" if p < 0.001 else f"p={p:.3f}"


def describe(g: Group, monitor: Monitor, dictionary: Dictionary) -> tuple[str, str]:
    """The group in words: "firmware 3.4.1 on model UROVO-DT50 (forward warehouse): 12.1% missing vs 0.3% ..."."""
    names = {k.rsplit(".", 1)[1]: v for k, v in g.items}
    leg = g.items[0][0].rsplit(".", 1)[0]
    if set(names) == {"firmware", "model"}:
        what = f"firmware {names['firmware']} on model {names['model']}"
    else:
        what = " and ".join(f"{k} {v}" for k, v in names.items())
    what_zh = " ".join(f"{_NAMES_ZH.get(k, k)} {v}" for k, v in names.items())
    verb, verb_zh = _VERBS.get(monitor.kind, ("flagged", "触发"))
    leg_en, leg_zh = _leg_words(dictionary, leg)
    stats = f"n={g.n}, {_p_text(g.p)}"
    en = f"{what} ({leg_en}): {g.rate:.1%} {verb} vs {g.rest_rate:.1%} elsewhere ({stats})"
    zh = f"{leg_zh} {what_zh}：{verb_zh}率 {g.rate:.1%}，其他 {g.rest_rate:.1%}（{stats}）"
    return en, zh
