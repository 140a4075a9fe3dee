"""Domain facts intake: records checked against the domain's contract, stored as `fact.recorded` events.

A fact about an order goes on the order's stream; a fact about a customer on
`cust.<customer id>`. Records that break the contract are answered with the
field and the rule, and each refused delivery is also recorded as
`fact.rejected` on `contract.<contract id>` so contract health can count it
(one per distinct record and day: a feed re-sending the same bad row all day
counts once that day). Valid records of a batch are stored in one store
transaction even if others are refused, unless the caller asks for
all-or-nothing; either way nothing is half-written.

Event ids are derived from the contract, the subject and the fields (or the
sender's `_id`), so re-sending a delivery is a harmless duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from orderloom.core.envelope import format_time
from orderloom.core.errors import NotFound, Problem, ValidationFailed
from orderloom.status.intake import Intake, ItemResult
from orderloom.valuestream.catalog import ContractCatalog
from orderloom.valuestream.conformance import Checked, check_record
from orderloom.valuestream.contract import Contract, ContractObject

RECORDED = "fact.recorded"
REJECTED = "fact.rejected"
CUSTOMER_STREAM = "cust."
CONTRACT_STREAM = "contract."
MAX_PROBLEMS = 50


def subject_stream(key: str, subject: str) -> str:
    """The stream a fact about this subject goes on."""
    return subject if key == "oid" else CUSTOMER_STREAM + subject


def _digest(*parts: Any) -> str:
    try:
        body = orjson.dumps(parts, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # e.g. a whole number beyond 64 bits from a CSV cell: still a stable digest
        body = repr(parts).encode()
    return hashlib.sha256(body).hexdigest()[:32]


class FactDesk:
    """Checks and records domain facts for every contract of a catalog."""

    def __init__(self, intake: Intake, catalog: ContractCatalog) -> None:
        self.intake = intake
        self.catalog = catalog

    def contract(self, domain: str) -> Contract:
        """The contract facts of `domain` are checked against (NotFound names the known domains)."""
        return self.catalog.for_domain(domain)

    def record(
        self,
        domain: str,
        records: Sequence[Any],
        *,
        actor: str,
        source: str | None = None,
        atomic: bool = False,
        object_name: str | None = None,
        first_index: int = 0,
        received: Sequence[datetime] | None = None,
    ) -> list[ItemResult]:
        """Check and store a batch; per record accepted, duplicate or rejected (with the field and the rule).

        `received` (one time per record) is for replaying a history in process (the data generators): each fact
        is stamped as delivered then instead of now. The HTTP API never passes it.
        """
        contract = self.contract(domain)
        if received is not None and len(received) != len(records):
            raise ValueError("received must give one time per record")
        obj = contract.object(object_name)
        if obj is None:
            names = ", ".join(o.name for o in contract.objects)
            raise ValidationFailed(
                [Problem("object", "known_object", f"{contract.id} has no schema object {object_name!r}; use {names}")]
            )
        now = self.intake.clock.now()
        checked = [check_record(obj, r) for r in records]
        due = self._due(contract, obj, checked)
        results = [ItemResult(first_index + i, None, "rejected", problems=c.problems) for i, c in enumerate(checked)]
        raws: dict[int, dict[str, Any]] = {}
        for i, c in enumerate(checked):
            if c.problems or c.subject is None:
                continue
            raws[i] = self._event(
                contract,
                obj,
                c,
                due=due.get(c.subject),
                now=now if received is None else received[i],
                actor=actor,
                source=source or f"facts/{domain}",
            )
        self._known(raws, results)
        invalid = [i for i, r in enumerate(results) if r.problems]
        self._reject(contract, obj, records, checked, invalid=invalid, now=now, actor=actor, first_index=first_index)
        if atomic and invalid:
            for r in results:
                if not r.problems:
                    r.status = "rejected"
                    r.problems = [Problem("(batch)", "all_or_nothing", "not stored: another record was rejected")]
            return results
        fresh = [i for i in raws if results[i].status != "duplicate"]
        if fresh:
            stored = self.intake.record([raws[i] for i in fresh], atomic=atomic, allow_internal=True)
            for i, r in zip(fresh, stored, strict=True):
                r.index = first_index + i
                results[i] = r
        return results

    def sink(self, docs: Sequence[dict[str, Any]], actor: str) -> list[ItemResult]:
        """Connector sink: each mapped document names its `domain`; the rest are the contract's fields."""
        results: list[ItemResult] = []
        for i, doc in enumerate(docs):
            body = dict(doc) if isinstance(doc, dict) else {}
            domain = body.pop("domain", None)
            if not isinstance(domain, str):
                results.append(
                    ItemResult(i, None, "rejected", problems=[Problem("domain", "required", "name the domain")])
                )
                continue
            try:
                results.extend(self.record(domain, [body], actor=actor, first_index=i))
            except (NotFound, ValidationFailed) as exc:
                problems = exc.problems if isinstance(exc, ValidationFailed) else [Problem("domain", "known", str(exc))]
                results.append(ItemResult(i, None, "rejected", problems=problems))
        return results

    # -- steps

    def _due(self, contract: Contract, obj: ContractObject, checked: list[Checked]) -> dict[str, str | None]:
        """For facts about orders: when each order's fields are owed (None until the anchor event happened).

        An order that does not exist is refused here: a fact may not start a stream, since an order's
        stream must begin with its placement.
        """
        if obj.key != "oid":
            return {}
        due: dict[str, str | None] = {}
        anchor, latency = contract.freshness.anchor, contract.freshness.latency
        for c in checked:
            if c.problems or c.subject is None or c.subject in due:
                continue
            head = self.intake.directory.find(c.subject)
            if head is None or head.customer is None:
                c.problems.append(
                    Problem("oid", "known_order", f"no order {c.subject} exists; facts can only describe placed orders")
                )
                continue
            first = next((e for e in self.intake.store.read_stream(c.subject) if e.type == anchor), None)
            due[c.subject] = format_time(first.occurred_at + latency) if first is not None else None
        return due

    def _event(
        self,
        contract: Contract,
        obj: ContractObject,
        c: Checked,
        *,
        due: str | None,
        now: datetime,
        actor: str,
        source: str,
    ) -> dict[str, Any]:
        assert c.subject is not None
        identity = c.record_id if c.record_id is not None else c.fields
        return {
            "id": "fact-" + _digest(contract.id, obj.name, obj.key, c.subject, identity),
            "type": RECORDED,
            "source": source[:256],
            "oid": subject_stream(obj.key, c.subject),
            "time": format_time(now),
            "actor": actor[:128],
            "data": {
                "domain": contract.domain,
                "contract": contract.id,
                "version": contract.version,
                "object": obj.name,
                "subject": {"kind": obj.key, "id": c.subject},
                "fields": c.fields,
                "received_at": format_time(now),
                "due_at": due,
                "anchor": contract.freshness.anchor,
            },
        }

    def _known(self, raws: dict[int, dict[str, Any]], results: list[ItemResult]) -> None:
        """Mark deliveries already stored as duplicates; their received time stays the first one."""
        for i, raw in raws.items():
            found = self.intake.store.get(raw["id"])
            if found is not None:
                r = results[i]
                r.status, r.id, r.oid, r.seq, r.position = "duplicate", found.id, found.oid, found.seq, found.position

    def _reject(
        self,
        contract: Contract,
        obj: ContractObject,
        records: Sequence[Any],
        checked: list[Checked],
        *,
        invalid: list[int],
        now: datetime,
        actor: str,
        first_index: int,
    ) -> None:
        """Record each refused delivery on the contract's stream (an audit record: the facts stay unwritten)."""
        raws = []
        day = now.date().isoformat()
        for i in invalid:
            c = checked[i]
            problems = [
                {"field": p.field[:200], "rule": p.rule[:64], "message": p.message[:500]}
                for p in c.problems[:MAX_PROBLEMS]
            ]
            eid = "factrej-" + _digest(contract.id, obj.name, records[i], day)
            if self.intake.store.get(eid) is not None:
                continue
            subject = {"kind": obj.key, "id": c.subject} if c.subject and len(c.subject) <= 64 else None
            raws.append(
                {
                    "id": eid,
                    "type": REJECTED,
                    "source": f"facts/{contract.domain}",
                    "oid": CONTRACT_STREAM + contract.id,
                    "time": format_time(now),
                    "actor": actor[:128],
                    "data": {
                        "domain": contract.domain,
                        "contract": contract.id,
                        "version": contract.version,
                        "object": obj.name,
                        "subject": subject,
                        "index": first_index + i,
                        "problems": problems,
                        "received_at": format_time(now),
                    },
                }
            )
        if raws:
            self.intake.record(raws, allow_internal=True)
