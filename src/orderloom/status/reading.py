"""Reading orders: chains and summaries as a role may see them, and verification."""

from __future__ import annotations

from typing import Any

from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import NotFound
from orderloom.core.pii import unseal
from orderloom.dictionary.model import Dictionary
from orderloom.status.chain import build_chain
from orderloom.status.directory import OrderDirectory
from orderloom.status.verify import Verdict, verify_stream
from orderloom.status.views import role_view
from orderloom.store.port import EventStore


class OrderReader:
    """Answers questions about one order from its stream."""

    def __init__(self, store: EventStore, dictionary: Dictionary, directory: OrderDirectory) -> None:
        self.store = store
        self.dictionary = dictionary
        self.directory = directory

    def events(self, oid: str, *, customer_scope: str | None = None) -> list[StoredEvent]:
        """The order's stored events; NotFound also when a consumer asks for someone else's order."""
        head = self.directory.find(oid)
        if head is None or (customer_scope is not None and head.customer != customer_scope):
            raise NotFound(f"no order {oid} is visible to you")
        return self.store.read_stream(oid)

    def chain(self, oid: str, role: str, *, customer_scope: str | None = None) -> dict[str, Any]:
        """The status chain as `role` may see it, personal data readable while the key exists."""
        events = self.events(oid, customer_scope=customer_scope)
        return role_view(build_chain(self.readable(events), self.dictionary), role, self.dictionary)

    def summary(self, oid: str, role: str, *, customer_scope: str | None = None) -> dict[str, Any]:
        """Status, shipments and legs without the step list; refs for staff."""
        view = self.chain(oid, role, customer_scope=customer_scope)
        view.pop("steps")
        if role != "consumer":
            view["source_refs"] = self.store.claims_of(oid)
        return view

    def verify(self, oid: str) -> Verdict:
        """Recompute the order's hash chain."""
        return verify_stream(oid, self.events(oid))

    def readable(self, events: list[StoredEvent]) -> list[StoredEvent]:
        """The events with personal data unsealed while the customer's key exists."""
        if not any((t := self.dictionary.get(e.type)) is not None and t.pii for e in events):
            # Nothing to unseal: skip the key lookup, a database query that every SSE
            # subscriber otherwise paid for every event (a third of PostgreSQL's scans
            # per order in benchmarks/load.py).
            return events
        head = self.directory.find(events[0].oid)
        customer = head.customer if head else None
        key = self.store.customer_keys([customer], create=False).get(customer) if customer else None
        out = []
        for e in events:
            t = self.dictionary.get(e.type)
            if t is None or not t.pii or customer is None:
                out.append(e)
                continue
            data = unseal(e.data, t.pii, key, customer)
            out.append(
                StoredEvent(
                    e.id,
                    e.type,
                    e.source,
                    e.oid,
                    e.time,
                    data,
                    e.actor,
                    e.deviceid,
                    e.proof,
                    e.schemaver,
                    e.seq,
                    e.position,
                    e.prevhash,
                    e.hash,
                    e.recorded,
                )
            )
        return out
