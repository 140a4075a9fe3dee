"""Raw events the generators write: orders through the ordinary types, department knowledge as domain facts.

Facts are written as the facts intake writes them (`fact.recorded` on the
order's stream or on `cust.<customer id>`), stamped with the simulated time they
were delivered, so a generated history is indistinguishable from a lived one.
Some generated fields go beyond today's shipped contracts (age band, prior
category use, deal figures); `fact.recorded` carries any fields, and the
contracts can adopt them when real feeds deliver them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.status.intake import Intake

SOURCE = "orderloom/generator"
BATCH = 500

# domain -> (contract id, object, subject kind): the shape the facts intake gives these deliveries.
CONTRACTS: dict[str, tuple[str, str, str]] = {
    "marketing": ("marketing_attribution", "marketing_attribution", "oid"),
    "product": ("product_firmware", "order_firmware", "oid"),
    "sales": ("sales_customer_profile", "customer_profile", "customer_id"),
    "finance": ("finance_payment_history", "payment_history", "customer_id"),
    "customer_service": ("cs_call_sentiment", "call_sentiment", "oid"),
}


def sha(text: str) -> str:
    """A stand-in SHA-256 for a proof (a photo, a signature) of the generated world."""
    return hashlib.sha256(text.encode()).hexdigest()


def event(eid: str, etype: str, oid: str, at: datetime, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One raw CloudEvent of the generated world."""
    return {"id": eid, "type": etype, "source": SOURCE, "oid": oid, "time": format_time(at), "data": data, **extra}


def fact(eid: str, domain: str, subject: str, at: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    """A domain fact about an order (`oid` subjects) or a customer, delivered at `at`."""
    contract, obj, kind = CONTRACTS[domain]
    stream = subject if kind == "oid" else f"cust.{subject}"
    data = {
        "domain": domain,
        "contract": contract,
        "version": "1.0.0",
        "object": obj,
        "subject": {"kind": kind, "id": subject},
        "fields": fields,
        "received_at": format_time(at),
        "due_at": None,
        "anchor": None,
    }
    return event(eid, "fact.recorded", stream, at, data, actor=f"system:{domain}-feed")


def record_all(intake: Intake, raws: Sequence[dict[str, Any]]) -> int:
    """Record the events in batches (orders placed first); ValidationFailed if the generated world breaks a rule."""
    written = 0
    for start in range(0, len(raws), BATCH):
        results = intake.record(list(raws[start : start + BATCH]), allow_internal=True)
        bad = [r for r in results if r.status == "rejected"]
        if bad:
            first = bad[0]
            raise ValidationFailed(
                [Problem(f"generated event {first.id}", p.rule, p.message) for p in first.problems]
                or [Problem("generator", "rejected", f"{len(bad)} generated events were refused")]
            )
        written += sum(1 for r in results if r.status == "accepted")
    return written
