"""The status lens: an order's steps against the typical duration of each, and where it is waiting now.

Everything is seen through one role: the steps are derived from the events the
role may see (a hidden event is skipped, so the step spans it), sites only
from node fields the role is granted, typical durations from every order seen
the same way, and expected next events only when the role may see that type.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from orderloom.core.envelope import format_utc
from orderloom.dictionary.model import Dictionary
from orderloom.status.analytics.port import DwellAnalytics, Mask, Step
from orderloom.status.analytics.typical import Typical, TypicalBook
from orderloom.status.analytics.visibility import role_mask
from orderloom.status.chain import build_chain
from orderloom.status.reading import OrderReader
from orderloom.status.views import role_view

# Fewer closed steps than this and a p90 says too little to call anything slow.
MIN_SAMPLES = 5
DONE = ("delivered", "closed")


def _label(dictionary: Dictionary, role: str, type_id: str) -> dict[str, str]:
    t = dictionary.get(type_id)
    if t is None:
        return {"zh": type_id, "en": type_id}
    return dict(t.view(role).label or t.label)


def _event(dictionary: Dictionary, role: str, event_id: str, type_id: str, at: datetime) -> dict[str, Any]:
    return {"id": event_id, "type": type_id, "label": _label(dictionary, role, type_id), "time": format_utc(at)}


def _trusted(typical: Typical | None, min_samples: int) -> bool:
    return typical is not None and typical.count >= min_samples


def _finished(chain: dict[str, Any], lane: str | None) -> bool:
    """Delivered or closed: nothing more is expected (a later return request reopens it)."""
    order_kind = chain["status"].get("kind")
    if order_kind == "closed":
        return True
    if lane is None:
        return order_kind in DONE
    kinds = {sh["shipment"]: sh["status"].get("kind") for sh in chain["shipments"]}
    return kinds.get(lane) in DONE


def _expected(
    step: Step, book: TypicalBook, dictionary: Dictionary, *, role: str, mask: Mask, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What usually comes next (share of orders) and what the dictionary's timers wait for."""
    expected: dict[str, dict[str, Any]] = {}
    for type_id, share in book.next_types(step.from_type):
        expected[type_id] = {
            "type": type_id,
            "label": _label(dictionary, role, type_id),
            "share": round(share, 3),
            "timers": [],
        }
    timers = []
    t = dictionary.get(step.from_type)
    since = step.started_at.replace(tzinfo=UTC)
    for timer in t.timers if t else ():
        visible = [x for x in timer.expect if x in mask.types]
        if not visible:
            continue
        due = since + timer.after
        timers.append(
            {
                "id": timer.id,
                "label": dict(timer.label) if timer.label else None,
                "severity": timer.severity,
                "after_s": timer.after.total_seconds(),
                "due_at": format_utc(due),
                "overdue": now >= due,
                "expect": visible,
            }
        )
        for type_id in visible:
            entry = expected.setdefault(
                type_id, {"type": type_id, "label": _label(dictionary, role, type_id), "share": None, "timers": []}
            )
            entry["timers"].append(timer.id)
    return list(expected.values()), timers


def lens_document(
    *,
    chain: dict[str, Any],
    steps: Sequence[Step],
    book: TypicalBook,
    dictionary: Dictionary,
    role: str,
    mask: Mask,
    now: datetime,
    min_samples: int = MIN_SAMPLES,
) -> dict[str, Any]:
    """The lens for one order from its role view (`chain`), its role-derived steps and the typical durations."""
    done = []
    waiting = []
    for s in steps:
        if s.to_type is None or s.to_id is None or s.ended_at is None or s.duration_s is None:
            waiting.append(_waiting(s, chain, book, dictionary, role=role, mask=mask, now=now, min_samples=min_samples))
            continue
        typical = book.step(s.from_type, s.to_type, s.node)
        done.append(
            {
                "shipment": s.shipment,
                "from": _event(dictionary, role, s.from_id, s.from_type, s.started_at),
                "to": _event(dictionary, role, s.to_id, s.to_type, s.ended_at),
                "stage": s.stage,
                "leg": s.leg,
                "node": s.node,
                "duration_s": s.duration_s,
                "typical": typical.as_dict() if typical else None,
                "slow": bool(typical and _trusted(typical, min_samples) and s.duration_s > typical.p90_s),
            }
        )
    stuck = [w for w in waiting if w["stuck"]]

    def lateness(w: dict[str, Any]) -> float:
        typical = w["typical"]
        elapsed = float(w["elapsed_s"])
        return elapsed / float(typical["p90_s"]) if typical and typical["p90_s"] > 0 else elapsed

    return {
        "oid": chain["oid"],
        "role": role,
        "status": chain["status"],
        "now": format_utc(now.astimezone(UTC)),
        "steps": done,
        "waiting": waiting,
        "stuck": bool(stuck),
        "stuck_at": max(stuck, key=lateness) if stuck else None,
    }


def _waiting(
    s: Step,
    chain: dict[str, Any],
    book: TypicalBook,
    dictionary: Dictionary,
    *,
    role: str,
    mask: Mask,
    now: datetime,
    min_samples: int,
) -> dict[str, Any]:
    """Where one lane is now: its last event, how long ago, what should come next, and whether that is late."""
    elapsed = max(0.0, (now - s.started_at.replace(tzinfo=UTC)).total_seconds())
    finished = _finished(chain, s.shipment)
    typical = book.waiting(s.from_type, s.node)
    expected, timers = ([], []) if finished else _expected(s, book, dictionary, role=role, mask=mask, now=now)
    over_p90 = None if not _trusted(typical, min_samples) or typical is None else elapsed > typical.p90_s
    return {
        "shipment": s.shipment,
        "last": _event(dictionary, role, s.from_id, s.from_type, s.started_at),
        "stage": s.stage,
        "leg": s.leg,
        "node": s.node,
        "elapsed_s": elapsed,
        "finished": finished,
        "typical": typical.as_dict() if typical else None,
        "over_typical_p90": None if finished else over_p90,
        "expected_next": expected,
        "timers": timers,
        "stuck": not finished and (bool(over_p90) or any(t["overdue"] for t in timers)),
    }


def order_lens(
    reader: OrderReader,
    analytics: DwellAnalytics,
    oid: str,
    role: str,
    *,
    now: datetime,
    customer_scope: str | None = None,
    min_samples: int = MIN_SAMPLES,
) -> dict[str, Any]:
    """The lens of order `oid` as `role` sees it; NotFound when the caller may not see the order."""
    dictionary = reader.dictionary
    events = reader.events(oid, customer_scope=customer_scope)
    chain = role_view(build_chain(reader.readable(events), dictionary), role, dictionary)
    mask = role_mask(dictionary, role)
    analytics.refresh()
    return lens_document(
        chain=chain,
        steps=analytics.order_steps(events, mask),
        book=analytics.typical(mask),
        dictionary=dictionary,
        role=role,
        mask=mask,
        now=now,
        min_samples=min_samples,
    )
