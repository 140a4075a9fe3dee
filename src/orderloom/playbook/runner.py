"""The playbook runner: follows the log from a checkpoint, starts the playbooks events trigger, keeps the views.

It reads the log in position order (like the relay), so it needs no bus. It
learns which playbooks exist from the `policy.version_saved` events it reads
and acts only on trigger events appended after a playbook was first
published: publishing a playbook today does not act on last month's findings.
Runs are idempotent (see `run.py`), so a batch re-read after a crash or by a
second runner does no harm; the views (tasks, runs, counters) and the
checkpoint commit in one view-store transaction, so they are exactly-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import ValidationFailed
from orderloom.playbook.plan import matches, trigger_of
from orderloom.playbook.run import RunExecutor, RunReport
from orderloom.playbook.runs import RUN_EVENTS, RUNS_VIEW, STATS_VIEW, apply_run, apply_stats
from orderloom.playbook.tasks import VIEW as TASKS_VIEW
from orderloom.playbook.tasks import apply_task, view_key
from orderloom.policy.log import PolicyLog
from orderloom.policy.runtime import PolicyRuntime
from orderloom.views.port import Doc, ViewTx

log = logging.getLogger("orderloom.playbook")
CHECKPOINT = "playbooks"
CATALOG_VIEW = "pb_catalog"
CATALOG_KEY = "playbooks"
_POLICY_PREFIX = "sys.policy."


class PlaybookRunner:
    """Matches log events against the published playbooks and runs them."""

    def __init__(
        self,
        svc: Services,
        *,
        runtime: PolicyRuntime | None = None,
        batch: int = 500,
        idle_s: float = 0.2,
        on_run: Callable[[RunReport], None] | None = None,
    ) -> None:
        self.svc = svc
        self.runtime = runtime or PolicyRuntime(PolicyLog(svc.intake))
        self.executor = RunExecutor(svc.intake, svc.clock, self.runtime.state)
        self.batch = batch
        self.idle_s = idle_s
        self.on_run = on_run
        self.runs = 0
        self.failed = 0

    def checkpoint(self) -> int:
        """The last log position whose events are fully handled."""
        return self.svc.views.checkpoint(CHECKPOINT)

    def step(self) -> int:
        """Handle one batch after the checkpoint; how many events were read (0: nothing new)."""
        views = self.svc.views
        after = views.checkpoint(CHECKPOINT)
        events = self.svc.store.read_all(after, self.batch)
        if not events:
            return 0
        catalog: dict[str, int | None] = dict((views.read(CATALOG_VIEW, CATALOG_KEY) or {}).get("playbooks", {}))
        triggers = self._trigger_types(catalog)
        for e in events:
            if e.oid.startswith(_POLICY_PREFIX) and self._learn(e, catalog):
                triggers = self._trigger_types(catalog)
            for name in triggers.get(e.type, ()):
                try:
                    self._consider(name, catalog.get(name), e)
                except ValidationFailed:
                    # Our own event was refused: a bug, not bad luck. Retrying would block every later trigger.
                    log.exception("playbook %s could not record its run for event %s; skipped", name, e.id)
        with views.transaction() as tx:
            if tx.checkpoint(CHECKPOINT) != after:
                return len(events)  # another runner handled this batch first; its views stand
            _fold(tx, events)
            tx.put_many(CATALOG_VIEW, {CATALOG_KEY: {"playbooks": catalog}})
            tx.set_checkpoint(CHECKPOINT, events[-1].position)
        return len(events)

    def drain(self, max_batches: int = 100_000) -> int:
        """Handle everything in the log now; how many events were read."""
        total = 0
        for _ in range(max_batches):
            n = self.step()
            if n == 0:
                break
            total += n
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until `stop` is set; wait for appends only when there is nothing new."""
        while not stop.is_set():
            try:
                moved = await asyncio.to_thread(self.step)
            except Exception:
                log.exception("the playbook runner could not handle a batch; retrying in 1 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                continue
            if moved == 0 and not stop.is_set():
                await asyncio.to_thread(self.svc.store.wait_for_appends, self.idle_s)

    def _learn(self, e: StoredEvent, catalog: dict[str, int | None]) -> bool:
        """Note a new playbook or its first publication; True when the set of triggers may have changed."""
        name = e.oid[len(_POLICY_PREFIX) :]
        if e.type == "policy.version_saved" and e.data.get("kind") == "playbook":
            catalog.setdefault(name, None)
        elif e.type == "policy.published" and name in catalog and catalog[name] is None:
            catalog[name] = e.position
        if name not in catalog:
            return False
        # Serve what the log now says, not what was cached up to REFRESH_S ago.
        self.runtime.invalidate(name)
        return True

    def _trigger_types(self, catalog: dict[str, int | None]) -> dict[str, list[str]]:
        """Event type -> the published playbooks any of whose versions it could start."""
        out: dict[str, list[str]] = {}
        for name, active_from in sorted(catalog.items()):
            if active_from is None:
                continue
            for version in self.runtime.state(name).versions.values():
                try:
                    event = self.executor.playbook(version).event
                except ValidationFailed:
                    continue  # saved before a lint rule existed; it cannot run
                if name not in out.setdefault(event, []):
                    out[event].append(name)
        return out

    def _consider(self, name: str, active_from: int | None, e: StoredEvent) -> None:
        # A playbook never starts on its own events, and only on events after it was first published.
        if active_from is None or e.position <= active_from or e.actor == f"playbook:{name}":
            return
        chosen = self.executor.choose(name, e)
        if chosen is None:
            return
        version, arm = chosen
        if not matches(self.executor.playbook(version), trigger_of(e), self.svc.clock.now()):
            return
        report = self.executor.execute(version, arm, e)
        if report.outcome == "already_finished":
            return
        self.runs += 1
        self.failed += report.outcome == "failed"
        log.info("playbook %s v%d on %s: %s", name, version.version, e.oid, report.outcome)
        if self.on_run is not None:
            self.on_run(report)


def _fold(tx: ViewTx, events: list[StoredEvent]) -> None:
    """Apply the batch's task and run events to their views."""
    pending: dict[tuple[str, str], Doc] = {}

    def update(view: str, key: str, apply: Callable[[Doc | None, StoredEvent], Doc], e: StoredEvent) -> None:
        current = pending.get((view, key))
        if current is None:
            current = tx.get(view, key)
        pending[(view, key)] = apply(current, e)

    for e in events:
        if e.type in ("task.created", "task.updated"):
            update(TASKS_VIEW, view_key(e.data["team"], e.data["task_id"]), apply_task, e)
        elif e.type in RUN_EVENTS:
            update(RUNS_VIEW, e.data["run"], apply_run, e)
            if e.type != "playbook.step_done":
                update(STATS_VIEW, e.data["playbook"], apply_stats, e)
    by_view: dict[str, dict[str, Any]] = {}
    for (view, key), doc in pending.items():
        by_view.setdefault(view, {})[key] = doc
    for view, docs in by_view.items():
        tx.put_many(view, docs)
