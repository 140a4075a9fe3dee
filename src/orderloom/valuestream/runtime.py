"""The value-stream capability wired together once: contracts, the facts desk, the query engine and the views."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orderloom.core.clock import Clock
from orderloom.core.errors import Forbidden
from orderloom.dictionary.model import Dictionary
from orderloom.status.intake import Intake
from orderloom.store.port import EventStore
from orderloom.valuestream.catalog import ContractCatalog, load_contracts
from orderloom.valuestream.config import ValueStreamConfig
from orderloom.valuestream.departments import Ask, view
from orderloom.valuestream.facts import FactDesk
from orderloom.valuestream.fulfilment import DEFAULT_TZ, contract_health
from orderloom.valuestream.query import Limits, QueryEngine
from orderloom.valuestream.sources import Source, load_sources
from orderloom.valuestream.streammap import value_stream_map
from orderloom.valuestream.triggers import trigger_success

# Health and department views read every table: they run on the admin database, and the caller's role
# decides only whether they may see the (aggregate) answer.
FULL = "admin"


class ValueStream:
    """Everything the value-stream routes and commands use."""

    def __init__(
        self,
        store: EventStore,
        dictionary: Dictionary,
        intake: Intake,
        clock: Clock,
        config: ValueStreamConfig | None = None,
        *,
        sources: Sequence[Source] | None = None,
        extension_dir: Path | None = None,
    ) -> None:
        self.config = config or ValueStreamConfig()
        self.dictionary = dictionary
        self.clock = clock
        self.catalog: ContractCatalog = load_contracts(self.config.contract_paths, dictionary)
        self.desk = FactDesk(intake, self.catalog)
        if sources is None:
            sources = load_sources(self.config.sources_path) if self.config.sources_path else []
        self.engine = QueryEngine(
            store,
            dictionary,
            self.catalog,
            sources,
            limits=Limits(self.config.max_rows, self.config.max_seconds),
            threads=self.config.threads,
            memory_limit=self.config.memory_limit,
            extension_dir=extension_dir,
        )

    @classmethod
    def of(cls, svc: Any, config: ValueStreamConfig | None = None, **kwargs: Any) -> ValueStream:
        """Built from the composition root's Services."""
        return cls(svc.store, svc.dictionary, svc.intake, svc.clock, config, **kwargs)

    def health(self, contract_id: str, role: str, *, days: int = 30, tz: str = DEFAULT_TZ) -> dict[str, Any]:
        """One contract's health, for a role that may read the contract."""
        contract = self.catalog.get(contract_id)
        if not contract.may_read(role):
            raise Forbidden(f"the {role} role may not read the {contract.id} contract's facts")
        db = self.engine.database(FULL)
        return contract_health(db.connection(), contract, now=self.clock.now(), days=days, tz=tz)

    def department_view(
        self, name: str, role: str, *, days: int | None = None, limit: int = 100, channel: str = "order"
    ) -> dict[str, Any]:
        """A department view, for a role allowed to read it."""
        v = view(name)
        if role not in v.roles:
            raise Forbidden(f"the {role} role may not read the {name} view (roles allowed: {', '.join(v.roles)})")
        ask = Ask(now=self.clock.now(), days=days or v.default_days, limit=limit, channel=channel)
        db = self.engine.database(FULL)
        cur = db.connection().cursor()
        try:
            body = v.compute(cur, self.catalog, self.dictionary, ask)
        finally:
            cur.close()
        return {
            "view": v.name,
            "department": v.department,
            "title": v.title,
            "as_of": ask.now.isoformat(),
            "position": db.position,
            **body,
        }

    def findings(self, *, days: int = 30, limit: int = 100) -> dict[str, Any]:
        """The value-stream findings of the last `days` with their outcome and the trigger success rate."""
        db = self.engine.database(FULL)
        cur = db.connection().cursor()
        now = self.clock.now()
        try:
            body = trigger_success(cur, now=now, days=days, limit=limit)
        finally:
            cur.close()
        return {"as_of": now.isoformat(), "position": db.position, "window_days": days, **body}

    def map(self, lang: str = "en") -> dict[str, Any]:
        """The value-stream map."""
        return value_stream_map(self.catalog, self.dictionary, lang)

    def close(self) -> None:
        self.engine.close()
