"""Detectors (and the customer health score) on a schedule: in the API's process or in their own.

Every tick the scheduler learns new detector policies from the log (reading
only what was appended since the last tick), asks which published detectors
have not fired yet for their cohort in their current period, and evaluates
just those. A detector that fired this period is not looked at again until the
next one; a quiet one is re-evaluated each tick, because the returns that make
it fire keep arriving. Firing ids are the detector, its cohort and its period
(`detectors.fired_id`), so two schedulers (the API's and `orderloom detectors
schedule`) or a manual run never record the same firing twice.

When a health model has been trained, each tick also scores the B2B customers
whose two hours after payment have passed (`score_due`, idempotent), so an
at-risk customer starts its playbook without anyone running a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderloom.bootstrap import Services
from orderloom.policy.log import PolicyLog
from orderloom.valuestream.config import ValueStreamConfig

log = logging.getLogger("orderloom.detectors")
_POLICY = "policy.version_saved"
KIND = "detector"  # the policy kind (detectors.KIND; not imported here: that pulls in SciPy at the API's start)
_BATCH = 5000


@dataclass(slots=True)
class Tick:
    """What one tick did."""

    at: datetime
    evaluated: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    scored: int = 0
    at_risk: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "at": self.at.isoformat(),
            "evaluated": self.evaluated,
            "fired": self.fired,
            "scored": self.scored,
            "at_risk": self.at_risk,
        }


class DetectorScheduler:
    """Runs the due detectors every `interval_s` seconds, and scores customer health when a model exists."""

    def __init__(self, svc: Services, *, interval_s: float = 900.0, score_health: bool = True) -> None:
        self.svc = svc
        self.interval_s = interval_s
        self.score_health = score_health
        self.detectors: set[str] = set()
        self._position = 0

    @classmethod
    def from_env(cls, svc: Services) -> DetectorScheduler:
        """The scheduler with its interval from ORDERLOOM_DETECTORS_EVERY_S."""
        return cls(svc, interval_s=ValueStreamConfig.from_env().detectors_every_s)

    def learn(self) -> None:
        """Note the detector policies saved since the last call (reads only the new part of the log)."""
        while events := self.svc.store.read_all(self._position, _BATCH):
            for e in events:
                if e.type == _POLICY and e.data.get("kind") == KIND:
                    self.detectors.add(str(e.data.get("name")))
            self._position = events[-1].position

    def due(self, now: datetime) -> list[str]:
        """The published detectors with no firing yet for their cohort in the period `now` falls in."""
        from orderloom.valuestream.detectors import fired_id, period_start
        from orderloom.valuestream.detectors_document import parse_detector

        policies = PolicyLog(self.svc.intake)
        out = []
        for name in sorted(self.detectors):
            state = policies.state(name)
            if state.stable is None:
                continue
            version = state.versions[state.stable]
            d = parse_detector(version.document, version.input_schema)
            if self.svc.store.get(fired_id(name, period_start(d, now), d)) is None:
                out.append(name)
        return out

    def tick(self, now: datetime | None = None) -> Tick:
        """One pass: evaluate the due detectors, then score customers due a health score."""
        from orderloom.valuestream.detectors import run_detectors
        from orderloom.valuestream.health_scoring import latest_model, score_due

        now = now or self.svc.clock.now()
        self.learn()
        done = Tick(now)
        due = self.due(now)
        if due:
            for row in run_detectors(self.svc, now, only=set(due)):
                done.evaluated.append(row["detector"])
                if row.get("status") == "fired":
                    done.fired.append(row["detector"])
        if self.score_health and latest_model(self.svc) is not None:
            scored = [s for s in score_due(self.svc, now) if s["status"] == "scored"]
            done.scored, done.at_risk = len(scored), sum(bool(s["at_risk"]) for s in scored)
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every `interval_s` seconds until `stop` is set; a failed tick is logged and retried next time."""
        while not stop.is_set():
            try:
                done = await asyncio.to_thread(self.tick)
                if done.fired or done.at_risk:
                    log.info("detectors fired: %s; customers at risk: %d", done.fired, done.at_risk)
            except Exception:
                log.exception("the detector schedule could not run; trying again in %.0f s", self.interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
