"""Raw events the generators write: orders through the ordinary types, department knowledge as domain facts.

Orders, payments, deliveries, returns and calls are recorded as events; what
departments know goes through the facts intake (`FactDesk`, the path of
`POST /v1/facts/{domain}`), so every generated fact is checked against its
contract and stored exactly as a delivered one would be, stamped with the
simulated time it was delivered: a generated history is indistinguishable from
a lived one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from orderloom.core.envelope import format_time, parse_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.status.intake import Intake
from orderloom.valuestream.catalog import load_contracts
from orderloom.valuestream.facts import FactDesk

SOURCE = "orderloom/generator"
BATCH = 500
FACT = "_fact"  # marks a generated delivery (not an event) among the raws

# domain -> (default schema object, subject key) of the shipped contracts.
CONTRACTS: dict[str, tuple[str, str]] = {
    "marketing": ("marketing_attribution", "oid"),
    "product": ("order_firmware", "oid"),
    "sales": ("customer_profile", "customer_id"),
    "finance": ("payment_history", "customer_id"),
    "customer_service": ("call_sentiment", "oid"),
}


def sha(text: str) -> str:
    """A stand-in SHA-256 for a proof (a photo, a signature) of the generated world."""
    return hashlib.sha256(text.encode()).hexdigest()


def event(eid: str, etype: str, oid: str, at: datetime, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One raw CloudEvent of the generated world."""
    return {"id": eid, "type": etype, "source": SOURCE, "oid": oid, "time": format_time(at), "data": data, **extra}


def fact(
    eid: str, domain: str, subject: str, at: datetime, fields: dict[str, Any], *, obj: str | None = None
) -> dict[str, Any]:
    """A domain fact about an order (`oid` subjects) or a customer, delivered at `at` (recorded by the facts desk).

    `eid` becomes the sender's idempotency key (`_id`), so re-generating the same world stores nothing new.
    """
    default, key = CONTRACTS[domain]
    return {
        FACT: True,
        "domain": domain,
        "object": obj or default,
        "time": format_time(at),
        "record": {key: subject, "_id": eid, **fields},
    }


def record_all(intake: Intake, raws: Sequence[dict[str, Any]]) -> int:
    """Record the events, then the facts through the facts desk; ValidationFailed if the world breaks a rule.

    Events go first so every order exists before a fact describes it (the desk refuses facts about unknown orders).
    """
    written = 0
    events = [r for r in raws if not r.get(FACT)]
    for start in range(0, len(events), BATCH):
        results = intake.record(list(events[start : start + BATCH]), allow_internal=True)
        _raise_refused(results)
        written += sum(1 for r in results if r.status == "accepted")
    desk = FactDesk(intake, load_contracts((), intake.dictionary))
    facts = sorted((r for r in raws if r.get(FACT)), key=lambda r: (r["domain"], r["object"]))
    for (domain, obj), group in groupby(facts, key=lambda r: (r["domain"], r["object"])):
        batch = list(group)
        for start in range(0, len(batch), BATCH):
            part = batch[start : start + BATCH]
            results = desk.record(
                domain,
                [r["record"] for r in part],
                actor=f"system:{domain}-feed",
                source=SOURCE,
                object_name=obj,
                atomic=True,
                received=[parse_time(r["time"]) for r in part],
            )
            _raise_refused(results, "generated fact")
            written += sum(1 for r in results if r.status == "accepted")
    return written


def _raise_refused(results: Sequence[Any], what: str = "generated event") -> None:
    bad = [r for r in results if r.status == "rejected"]
    if bad:
        # In an all-or-nothing batch the others only say so; name the record that broke a rule.
        first = next((r for r in bad if any(p.rule != "all_or_nothing" for p in r.problems)), bad[0])
        raise ValidationFailed(
            [Problem(f"{what} {first.id or first.index}", p.rule, f"{p.field}: {p.message}") for p in first.problems]
            or [Problem("generator", "rejected", f"{len(bad)} generated records were refused")]
        )
