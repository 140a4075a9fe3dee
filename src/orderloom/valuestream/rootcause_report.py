"""The root-cause report an ops person reads: the cohort, the subgroups that explain it, and when the events came."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orderloom.valuestream.rootcause import Discovery, Settings, Subgroup, Unit, discover
from orderloom.valuestream.rootcause_timing import Timing, fastest_window, pace, timing

MAX_REPORTED = 5


@dataclass(frozen=True, slots=True)
class Wording:
    """How to name things in sentences: the cohort, the comparison, the event (plural noun and verb)."""

    cohort: str
    comparison: str
    verb: str = "returned"
    noun: str = "returns"


def report(
    units: Sequence[Unit],
    names: Sequence[str],
    wording: Wording,
    *,
    settings: Settings | None = None,
    elsewhere: Sequence[Unit] = (),
    later: Sequence[str] = (),
) -> dict[str, Any]:
    """Discover, time and explain: the JSON report with `sentences` first.

    `elsewhere` are the comparison's units outside the cohort (for contrast in time patterns); `later` names
    attributes that were only known after delivery and so were not searched.
    """
    settings = settings or Settings()
    found = discover(units, names, settings)
    events = [u for u in units if u.event]
    cohort_timing = timing([u.minutes_to_event for u in events], [u.reason for u in events])
    other = [u for u in elsewhere if u.event]
    other_timing = timing([u.minutes_to_event for u in other], [u.reason for u in other])
    groups = [_group(units, s) for s in found.subgroups[:MAX_REPORTED]]
    return {
        "sentences": _sentences(found, wording, settings, timings=(cohort_timing, other_timing), groups=groups)
        + _later(later),
        "cohort": {
            "size": found.cohort_size,
            "events": found.cohort_events,
            "rate": round(found.cohort_rate, 4),
            "timing": cohort_timing.as_dict(),
        },
        "elsewhere_timing": other_timing.as_dict() if other else None,
        "subgroups": [{**s.as_dict(), "timing": t.as_dict()} for s, t, _ in groups],
        "search": {
            "attributes": list(found.attributes),
            "tested": found.tested,
            "max_conditions": settings.max_conditions,
            "min_support": settings.min_support,
            "min_events": settings.min_events,
            "alpha": settings.alpha,
            "correction": settings.correction,
            "test": "one-sided Fisher exact (hypergeometric) against the rest of the cohort",
            "known_only_after_delivery": list(later),
        },
    }


def _group(units: Sequence[Unit], s: Subgroup) -> tuple[Subgroup, Timing, Timing]:
    inside = [u for u, m in zip(units, s.members, strict=True) if m and u.event]
    outside = [u for u, m in zip(units, s.members, strict=True) if not m and u.event]
    return (
        s,
        timing([u.minutes_to_event for u in inside], [u.reason for u in inside]),
        timing([u.minutes_to_event for u in outside], [u.reason for u in outside]),
    )


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _sentences(
    found: Discovery,
    w: Wording,
    settings: Settings,
    *,
    timings: tuple[Timing, Timing],
    groups: list[tuple[Subgroup, Timing, Timing]],
) -> list[str]:
    cohort_timing, other_timing = timings
    out = [f"{w.cohort}: {found.cohort_events} of {found.cohort_size} orders {w.verb} ({_pct(found.cohort_rate)})."]
    if cohort_timing.timed:
        window = fastest_window(cohort_timing, other_timing)
        if window is not None:
            words, share, rest = window
            line = f"{_pct(share)} of these {w.noun} came within {words} of delivery (unboxing)"
            out.append(line + (f"; elsewhere in {w.comparison} {_pct(rest)}." if other_timing.timed else "."))
        else:
            out.append(f"No unusual timing: {pace(cohort_timing)} of delivery (unboxing).")
    if not groups:
        method = "Holm" if settings.correction == "holm" else "Benjamini-Hochberg"
        out.append(
            f"No combination of up to {settings.max_conditions} attributes stands out: {found.tested} "
            f"combinations were tested ({method} correction, α = {settings.alpha:g}); the excess is spread "
            "across the cohort, or its cause is in data not joined yet."
        )
        return out
    for n, (s, inside, outside) in enumerate(groups):
        lead = "Most likely cause" if n == 0 else "Also stands out"
        line = (
            f"{lead}: {s.text()} — {s.size} orders, {s.events} {w.verb} ({_pct(s.rate)}, {s.lift:.1f}× the cohort's "
            f"{_pct(found.cohort_rate)}; {_q(s.q_value)})."
        )
        if n == 0 and inside.timed:
            window = fastest_window(inside, outside)
            if window is not None:
                words, share, rest = window
                line += f" {_pct(share)} of their {w.noun} came within {words} of delivery"
                line += f" (rest of the cohort {_pct(rest)})"
                if inside.top_reason and inside.top_reason_share is not None:
                    line += f", most citing {inside.top_reason} ({_pct(inside.top_reason_share)})"
                line += "."
        out.append(line)
    return out


def _later(names: Sequence[str]) -> list[str]:
    if not names:
        return []
    return [
        "Not searched, because they were only known after delivery (consequences rather than causes): "
        f"{', '.join(names)}."
    ]
