"""Forgetting a customer: destroy their data key and record that it was done."""

from __future__ import annotations

from orderloom.core.envelope import format_time
from orderloom.core.ids import ulid
from orderloom.status.intake import Intake

STREAM = "sys.erasure"


def forget_customer(intake: Intake, customer: str, *, actor: str, reason: str = "") -> bool:
    """Destroy the key (personal fields become unreadable everywhere); chains still verify."""
    existed = intake.store.forget_customer(customer)
    intake.forget_cached_key(customer)
    intake.record(
        [
            {
                "id": f"forgotten-{ulid()}",
                "type": "customer.forgotten",
                "source": "orderloom/erasure",
                "oid": STREAM,
                "time": format_time(intake.clock.now()),
                "actor": actor,
                "data": {"customer": customer, "reason": reason[:200]},
            }
        ],
        allow_internal=True,
    )
    return existed
