"""Customer service's answer pack for a firing: the cohort's reasons, what to say, and whom to call first.

The reasons, their shares and timing, the devices' firmware and app versions
and the call sentiment all come from the cohort's own orders; the wording per
reason comes from an editable library (`data/answers.yaml`) whose placeholders
are filled with those figures. The call list holds the cohort's recent buyers
who match the most likely cause and have not returned yet: the ones a call
can still help.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml

from orderloom.valuestream.detectors_document import Detector
from orderloom.valuestream.detectors_eval import had_event
from orderloom.valuestream.detectors_table import OrderRecord, Woven
from orderloom.valuestream.rootcause_conditions import label

REASONS = 3
CALL_LIST = 20
RECENT = timedelta(days=7)
QUICK_MINUTES = 30
SENTIMENT = "customer_service.sentiment"
TOPIC = "customer_service.topic"
FIRMWARE = "product.firmware_version"
MIN_APP = "product.min_app_version"
CRASH = "product.crash_signature"


@cache
def library() -> dict[str, Any]:
    """The answer library (read once, on first use)."""
    text = resources.files("orderloom.valuestream").joinpath("data", "answers.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


class _Blank(dict[str, str]):
    """Placeholders the cohort has no figure for read as a dash rather than failing."""

    def __missing__(self, key: str) -> str:
        return "—"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _common(values: list[Any]) -> str | None:
    found = Counter(label(v) for v in values if v not in (None, ""))
    return found.most_common(1)[0][0] if found else None


def answer_pack(
    woven: Woven, d: Detector, now: datetime, cohort: list[OrderRecord], cause: dict[str, Any]
) -> dict[str, Any]:
    """The pack: top reasons with suggested answers (zh, en), call sentiment and topics, and the call list."""
    hit = [o for o in cohort if had_event(o, d, now)]
    reasons = Counter(_reason(o, woven, d) for o in hit)
    answers = []
    for reason, count in reasons.most_common(REASONS):
        mine = [o for o in hit if _reason(o, woven, d) == reason]
        answers.append(_answer(woven, reason, count, len(hit), mine))
    attrs = [woven.attributes(o) for o in hit]
    return {
        "title": {"zh": "建议答复包", "en": "Suggested answer pack"},
        "events": len(hit),
        "answers": answers,
        "sentiment": _counts(a.get(SENTIMENT) for a in attrs),
        "topics": _counts(a.get(TOPIC) for a in attrs),
        "call_first": _call_list(woven, d, now, cohort, cause),
    }


def _reason(o: OrderRecord, woven: Woven, d: Detector) -> str:
    if d.metric == "return_rate":
        return o.return_reason or "other"
    return str(woven.attributes(o).get(TOPIC) or "other")


def _answer(woven: Woven, reason: str, count: int, total: int, mine: list[OrderRecord]) -> dict[str, Any]:
    attrs = [woven.attributes(o) for o in mine]
    minutes = [m for o in mine if (m := _minutes(o)) is not None]
    figures = _Blank(
        reason=reason,
        share=_pct(count / total if total else None),
        quick_share=_pct(sum(m <= QUICK_MINUTES for m in minutes) / len(minutes) if minutes else None),
        median_minutes=f"{statistics.median(minutes):.0f}" if minutes else "—",
        firmware=_common([a.get(FIRMWARE) for a in attrs]) or "—",
        min_app_version=_common([a.get(MIN_APP) for a in attrs]) or "—",
        signature=_common([a.get(CRASH) for a in attrs]) or "—",
    )
    entries = library()
    template = entries["answers"].get(reason) or entries["fallback"]
    return {
        "reason": reason,
        "count": count,
        "share": round(count / total, 4) if total else None,
        "figures": dict(figures),
        "answer": {lang: " ".join(str(template[lang]).format_map(figures).split()) for lang in ("zh", "en")},
        "from_library": reason in entries["answers"],
    }


def _minutes(o: OrderRecord) -> float | None:
    if o.return_minutes is not None:
        return o.return_minutes
    if o.complained_at is not None and o.delivered_at is not None:
        return (o.complained_at - o.delivered_at).total_seconds() / 60
    return None


def _counts(values: Any) -> dict[str, int]:
    return dict(Counter(label(v) for v in values if v not in (None, "")).most_common())


def _call_list(
    woven: Woven, d: Detector, now: datetime, cohort: list[OrderRecord], cause: dict[str, Any]
) -> dict[str, Any]:
    """The cohort's buyers of the last 7 days in the most likely cause's subgroup who have not returned yet."""
    top = (cause.get("subgroups") or [None])[0]
    conditions = top["conditions"] if top else []
    recent = [
        o
        for o in cohort
        if o.delivered_at is not None
        and o.delivered_at > now - RECENT
        and not had_event(o, d, now)
        # The cause was found on what was known at delivery; the same is asked of these orders.
        and all(satisfies(c, woven.attributes(o, at=o.delivered_at).get(c["attribute"])) for c in conditions)
    ]
    recent.sort(key=lambda o: o.delivered_at or now, reverse=True)
    return {
        "why": top["text"] if top else "recent buyers in the cohort (no single cause stood out)",
        "count": len(recent),
        "oids": [o.oid for o in recent[:CALL_LIST]],
    }


def satisfies(condition: dict[str, str], value: Any) -> bool:
    """Whether a value meets a root-cause condition (`=`, or `>=` / `<=` a band or number)."""
    if value is None or value == "":
        return False
    text, want, op = label(value), condition["value"], condition["op"]
    if op == "=":
        return text == want
    low, high = _bounds(text), _bounds(want)
    if low is None or high is None:
        return False
    # Bands such as 35-44 compare by their start; numeric bands (quartiles) "a-b" likewise.
    return low[0] >= high[0] if op == ">=" else low[0] <= high[1]


def _bounds(text: str) -> tuple[float, float] | None:
    head = text.rstrip("+")
    parts = head.split("-") if not head.startswith("-") else [head]
    try:
        numbers = [float(p) for p in parts if p]
    except ValueError:
        return None
    if not numbers:
        return None
    return numbers[0], numbers[-1] if not text.endswith("+") else float("inf")
