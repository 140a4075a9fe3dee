"""Time-to-event patterns: how soon after delivery (unboxing) the events came, and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# (minutes, words): the windows an ops person thinks in.
WINDOWS: tuple[tuple[int, str], ...] = ((30, "30 minutes"), (24 * 60, "24 hours"), (7 * 24 * 60, "7 days"))


@dataclass(frozen=True, slots=True)
class Timing:
    """Shares of a group's events within each window after the anchor, and the most cited reason."""

    events: int
    timed: int  # events whose time after the anchor is known
    within: tuple[tuple[str, float], ...]  # (window words, share of timed events)
    median_minutes: float | None
    top_reason: str | None
    top_reason_share: float | None

    def share(self, words: str) -> float | None:
        """The share within the window named `words` (e.g. "30 minutes"), None when nothing was timed."""
        return next((s for w, s in self.within if w == words), None) if self.timed else None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "events": self.events,
            "timed": self.timed,
            "within": {w: round(s, 4) for w, s in self.within},
            "median_minutes": None if self.median_minutes is None else round(self.median_minutes, 1),
            "top_reason": self.top_reason,
            "top_reason_share": None if self.top_reason_share is None else round(self.top_reason_share, 4),
        }


def timing(minutes: Sequence[float | None], reasons: Sequence[str | None] = ()) -> Timing:
    """The time pattern of a group's events: `minutes` after the anchor per event (None: unknown)."""
    known = sorted(m for m in minutes if m is not None)
    within = tuple(
        (words, sum(1 for m in known if m <= limit) / len(known) if known else 0.0) for limit, words in WINDOWS
    )
    median = known[len(known) // 2] if known else None
    counted = Counter(r for r in reasons if r)
    top = counted.most_common(1)[0] if counted else None
    return Timing(
        events=len(minutes),
        timed=len(known),
        within=within,
        median_minutes=median,
        top_reason=top[0] if top else None,
        top_reason_share=top[1] / sum(counted.values()) if top else None,
    )


def pace(t: Timing) -> str:
    """The shares within each window as words, e.g. "10% within 30 minutes, 45% within 24 hours"."""
    return ", ".join(f"{100 * share:.0f}% within {words}" for words, share in t.within)


def fastest_window(group: Timing, rest: Timing) -> tuple[str, float, float] | None:
    """The shortest window in which the group's share stands out from the rest's: (words, group, rest), or None."""
    if not group.timed:
        return None
    for words, share in group.within:
        other = rest.share(words) or 0.0
        # "Stands out": at least half the group's events, and clearly more than elsewhere.
        if share >= 0.5 and share >= other + 0.2:
            return words, share, other
    return None
