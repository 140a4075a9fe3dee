"""Root cause: which combination of attributes (up to 3) explains a flagged cohort's events.

Subgroup discovery over the joined cross-domain attributes of the cohort's units
(orders): every combination of conditions on different attributes with enough
support is tested with a one-sided Fisher exact test (the hypergeometric tail:
are the events over-represented in the subgroup compared with the rest of the
cohort?). P-values are corrected for the number of combinations tested
(Holm by default, Benjamini-Hochberg on request), and a combination is only
reported if each of its conditions earns its place: without any one of them
the events must stand out less (otherwise "short video, no prior use, firmware
3.2.1" would be reported beside "short video, no prior use" merely by chance).
Of overlapping subgroups the one explaining the most excess events is kept
(a small slice of a cause can show a higher lift by chance alone); what is
left is ranked by lift: the subgroup's event rate over the cohort's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.stats import hypergeom

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.valuestream.rootcause_conditions import Condition, Mask, attributes, conditions

Correction = Literal["holm", "bh"]
MAX_CONDITIONS = 3


@dataclass(frozen=True, slots=True)
class Unit:
    """One member of the cohort: its joined attributes, whether the event happened and how long after the anchor."""

    key: str
    attributes: Mapping[str, Any]
    event: bool
    minutes_to_event: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """How hard to look: support floors, significance level and correction."""

    max_conditions: int = MAX_CONDITIONS
    min_support: int = 30  # units in a subgroup
    min_share: float = 0.02  # ... and at least this share of the cohort
    min_events: int = 5
    alpha: float = 0.05
    correction: Correction = "holm"

    def problems(self) -> list[Problem]:
        """What is wrong with these settings, in words."""
        out = []
        if not 1 <= self.max_conditions <= MAX_CONDITIONS:
            out.append(Problem("max_conditions", "range", f"combine 1 to {MAX_CONDITIONS} attributes"))
        if self.min_support < 1 or self.min_events < 1:
            out.append(Problem("min_support", "range", "the minimum support and events must be 1 or more"))
        if not 0 < self.alpha < 1:
            out.append(Problem("alpha", "range", "the significance level must be between 0 and 1, e.g. 0.05"))
        if self.correction not in ("holm", "bh"):
            out.append(Problem("correction", "enum", "the correction is holm or bh (Benjamini-Hochberg)"))
        return out


@dataclass(frozen=True, slots=True)
class Subgroup:
    """A combination of conditions, how many units and events it holds, and how unusual that is."""

    conditions: tuple[Condition, ...]
    size: int
    events: int
    rate: float
    lift: float
    p_value: float
    q_value: float  # corrected for every combination tested
    members: Mask = field(repr=False, compare=False)

    def text(self) -> str:
        """The conditions joined with "and"."""
        return " and ".join(c.text() for c in self.conditions)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (without the member mask)."""
        return {
            "conditions": [c.as_dict() for c in self.conditions],
            "text": self.text(),
            "size": self.size,
            "events": self.events,
            "rate": round(self.rate, 4),
            "lift": round(self.lift, 3),
            "p_value": float(f"{self.p_value:.3g}"),
            "q_value": float(f"{self.q_value:.3g}"),
        }


@dataclass(frozen=True, slots=True)
class Discovery:
    """The outcome of a search: what was tested and the subgroups that stand out, best first."""

    cohort_size: int
    cohort_events: int
    tested: int
    attributes: tuple[str, ...]
    subgroups: tuple[Subgroup, ...]

    @property
    def cohort_rate(self) -> float:
        """The cohort's event rate."""
        return self.cohort_events / self.cohort_size if self.cohort_size else 0.0


@dataclass(slots=True)
class _Candidate:
    conditions: tuple[Condition, ...]
    mask: Mask
    size: int
    events: int


def discover(units: Sequence[Unit], names: Sequence[str], settings: Settings | None = None) -> Discovery:
    """Search the combinations of conditions on `names` for subgroups where the events concentrate."""
    settings = settings or Settings()
    if problems := settings.problems():
        raise ValidationFailed(problems)
    outcome = np.array([u.event for u in units], dtype=bool)
    size, events = len(units), int(outcome.sum())
    attrs = attributes([u.attributes for u in units], names)
    empty = Discovery(size, events, 0, tuple(a.name for a in attrs), ())
    if size == 0 or events in (0, size):
        return empty  # nothing to explain, or nothing to contrast with
    floor = max(settings.min_support, int(np.ceil(settings.min_share * size)))
    every = [conditions(a) for a in attrs]
    masks = {c: m for conds in every for c, m in conds}
    candidates = _candidates(every, outcome, floor, settings.max_conditions)
    if not candidates:
        return empty
    sizes = np.array([c.size for c in candidates])
    hits = np.array([c.events for c in candidates])
    # P(X >= hits) for X hypergeometric: the one-sided Fisher exact test of subgroup against the rest.
    p = hypergeom.sf(hits - 1, size, events, sizes)
    q = _correct(p, settings.correction)
    rate = events / size
    found = []
    for i, c in enumerate(candidates):
        if q[i] > settings.alpha or c.events < settings.min_events or c.events / c.size <= rate:
            continue
        if not _productive(c, outcome, masks, settings.alpha):
            continue
        found.append(
            Subgroup(c.conditions, c.size, c.events, c.events / c.size, c.events / c.size / rate, p[i], q[i], c.mask)
        )
    # Overlapping subgroups are settled by how many excess events each explains, then the survivors rank by lift.
    found.sort(key=lambda s: (-(s.events - s.size * rate), len(s.conditions), -s.lift))
    found = _not_explained(found, outcome, settings.alpha / len(candidates))
    found.sort(key=lambda s: (-s.lift, -s.size, len(s.conditions)))
    return Discovery(size, events, len(candidates), tuple(a.name for a in attrs), tuple(found))


def _not_explained(ranked: list[Subgroup], outcome: Mask, alpha: float) -> list[Subgroup]:
    """Drop subgroups whose excess is only that of a better one they overlap.

    `ranked` comes most excess events first (events beyond what the cohort's rate
    predicts): the subgroup explaining most of the problem. "Short video, 25 and
    older, no prior use" stands out only because it contains "short video, 35 and
    older, no prior use", and "one short-video campaign, no prior use" only
    because it is mostly made of it: without those members what is left is
    ordinary. Each subgroup is re-tested without the members of the subgroups
    already kept, against the cohort without them, at the level a single test
    gets under Bonferroni: the re-test is one more look at the same search.
    """
    kept: list[Subgroup] = []
    covered = np.zeros(outcome.shape[0], dtype=bool)
    for s in ranked:
        rest = s.members & ~covered
        pool = ~covered
        n, k = int(rest.sum()), int(outcome[rest].sum())
        if kept and (n == 0 or hypergeom.sf(k - 1, int(pool.sum()), int(outcome[pool].sum()), n) > alpha):
            continue
        kept.append(s)
        covered |= s.members
    return kept


def _candidates(every: list[list[tuple[Condition, Mask]]], outcome: Mask, floor: int, depth: int) -> list[_Candidate]:
    """Every combination with at least `floor` units, each coverage once (the simplest description wins)."""
    per_attr = [[(c, m) for c, m in conds if int(m.sum()) >= floor] for conds in every]
    level = [_Candidate((c,), m, int(m.sum()), int(outcome[m].sum())) for conds in per_attr for c, m in conds]
    index = {c: i for i, conds in enumerate(per_attr) for c, _ in conds}
    out: list[_Candidate] = []
    seen: set[bytes] = set()
    for n in range(1, depth + 1):
        if n > 1:
            level = _extend(level, per_attr, index, outcome, floor)
        for cand in level:
            # Pruning by support is sound because a narrower combination never covers more units.
            key = np.packbits(cand.mask).tobytes()
            if key not in seen:
                seen.add(key)
                out.append(cand)
    return out


def _extend(
    level: list[_Candidate],
    per_attr: list[list[tuple[Condition, Mask]]],
    index: dict[Condition, int],
    outcome: Mask,
    floor: int,
) -> list[_Candidate]:
    nxt = []
    for cand in level:
        # Conditions are added in attribute order, so each combination is built exactly once.
        last = index[cand.conditions[-1]]
        for j in range(last + 1, len(per_attr)):
            for cond, m in per_attr[j]:
                both = cand.mask & m
                n = int(both.sum())
                if n >= floor:
                    nxt.append(_Candidate((*cand.conditions, cond), both, n, int(outcome[both].sum())))
    return nxt


def _correct(p: np.ndarray[Any, Any], method: Correction) -> np.ndarray[Any, Any]:
    """Holm (family-wise) or Benjamini-Hochberg (false discovery rate) adjusted p-values."""
    m = len(p)
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, ranked * (m - np.arange(m))))
    else:
        adjusted = np.minimum.accumulate(np.minimum(1.0, ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = adjusted
    return out


def _productive(
    c: _Candidate,
    outcome: Mask,
    masks: Mapping[Condition, Mask],
    alpha: float,
) -> bool:
    """Whether every condition adds something: without any one of them, the events would stand out less."""
    if len(c.conditions) == 1:
        return True  # its only wider combination is the whole cohort, which the main test already compared
    for wider in _wider(c.conditions):
        mask = _mask(wider, masks, c.mask.shape[0])
        n, k = int(mask.sum()), int(outcome[mask].sum())
        if n == c.size:
            return False  # the extra condition removes nobody: the wider description says the same
        if hypergeom.sf(c.events - 1, n, k, c.size) > alpha:
            return False
    return True


def _wider(conds: tuple[Condition, ...]) -> list[tuple[Condition, ...]]:
    # Only dropping a condition: a narrower band of the same attribute ("45 and older" inside "35 and older")
    # is settled by the excess events each explains, since a small slice can rarely prove itself different.
    return [conds[:i] + conds[i + 1 :] for i in range(len(conds))]


def _mask(conds: tuple[Condition, ...], masks: Mapping[Condition, Mask], n: int) -> Mask:
    mask = np.ones(n, dtype=bool)
    for cond in conds:
        mask &= masks[cond]
    return mask
