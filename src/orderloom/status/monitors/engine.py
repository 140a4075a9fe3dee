"""The monitor engine: folds the log into per-order monitor state from a checkpoint and opens/resolves findings.

Two things move it. Folding new log events (`step`) settles what the events
themselves show: a missing step, a reading over its limit, a late fact that
resolves a finding, a stall proved by the order's own later events. Scanning
(`scan(now)`) adds what only the clock shows: stalls that are now due and
delivery windows at risk. A scan reads only the orders a small index says
are due (and judges delivery risk from the index), never the whole log.

Findings are appended to the order's own stream as internal events with
deterministic ids, then folded from the log like any other event; the state,
the findings' documents and the checkpoint commit in one view-store
transaction, so a crash or a second engine never opens a finding twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.clock import Clock
from orderloom.core.envelope import StoredEvent, format_time
from orderloom.packs.loading import pack_monitor_files
from orderloom.status.monitors.config import load_monitors, paths_from_env
from orderloom.status.monitors.model import SLA_RISK, MonitorSet
from orderloom.status.monitors.remaining import RemainingTimes
from orderloom.status.monitors.rules import Evaluation, done_row, moment, sla_summary
from orderloom.status.monitors.state import FINDING_TYPES, OPENED, TYPE, Context, T, add_event, blank, touches
from orderloom.status.monitors.views import (
    ALL_VIEWS,
    CHECKPOINT,
    FINDINGS_VIEW,
    INDEX_VIEW,
    LEARN_VIEW,
    OPEN_KEY,
    OPEN_VIEW,
    STATE_VIEW,
    apply_finding_doc,
    apply_open_index,
)
from orderloom.views.port import Doc

log = logging.getLogger("orderloom.monitors")
_PAGE = 1000


@dataclass(slots=True)
class ScanReport:
    """What one pass did: findings opened and resolved, log events read, the position reached."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0
    position: int = 0

    def note(self, raws: Iterable[Mapping[str, Any]]) -> None:
        """Record appended finding events."""
        for raw in raws:
            d = raw["data"]
            item = {"finding_id": d["finding_id"], "monitor": d["monitor"], "oid": raw["oid"], "time": raw["time"]}
            if raw["type"] == OPENED:
                self.opened.append({**item, "kind": d["kind"], "severity": d["severity"], "evidence": d["evidence"]})
            else:
                self.resolved.append({**item, "resolved_by": d["resolved_by"]})


class MonitorEngine:
    """Keeps the monitors' state from the log and appends their findings to the orders."""

    def __init__(
        self,
        svc: Services,
        monitors: MonitorSet | None = None,
        *,
        clock: Clock | None = None,
        batch: int = 2000,
        interval_s: float = 30.0,
        idle_s: float = 0.5,
    ) -> None:
        self.svc = svc
        self.monitors = (
            monitors
            if monitors is not None
            else load_monitors(svc.dictionary, [*pack_monitor_files(svc.store), *paths_from_env()])
        )
        self.ctx = Context.build(svc.dictionary, self.monitors)
        self.clock = clock or svc.clock
        self.batch = batch
        self.interval_s = interval_s
        self.idle_s = idle_s
        self._sla = self.monitors.of_kind(SLA_RISK)
        self._learning: dict[str, RemainingTimes] | None = None
        self._due: dict[str, str] | None = None
        self._risk: dict[str, dict[str, list[Any]]] | None = None
        self._report: ScanReport | None = None  # set while a scan collects what it did

    # -- positions and memory --------------------------------------------------

    def checkpoint(self) -> int:
        """The last log position folded into the monitors' state."""
        return self.svc.views.checkpoint(CHECKPOINT)

    def _forget(self) -> None:
        """Drop what is cached from the views (another engine wrote them, or a write failed)."""
        self._learning = None
        self._due = None
        self._risk = None

    def _models(self) -> dict[str, RemainingTimes]:
        if self._learning is None:
            self._learning = {m.id: RemainingTimes(self.svc.views.read(LEARN_VIEW, m.id)) for m in self._sla}
        return self._learning

    def _index(self) -> tuple[dict[str, str], dict[str, dict[str, list[Any]]]]:
        if self._due is None or self._risk is None:
            due: dict[str, str] = {}
            risk: dict[str, dict[str, list[Any]]] = {}
            after: str | None = None
            while page := self.svc.views.scan(INDEX_VIEW, _PAGE, after):
                for oid, doc in page:
                    if doc.get("due"):
                        due[oid] = doc["due"]
                    if doc.get("sla"):
                        risk[oid] = doc["sla"]
                after = page[-1][0]
            self._due, self._risk = due, risk
        return self._due, self._risk

    def _remember(self, docs: Mapping[str, Doc]) -> dict[str, Doc]:
        """Index documents for the orders written, and the in-memory index kept in step."""
        out = {oid: {"due": d.get("next_due"), "sla": d.get("sla")} for oid, d in docs.items()}
        if self._due is not None and self._risk is not None:
            for oid, entry in out.items():
                for mine, value in ((self._due, entry["due"]), (self._risk, entry["sla"])):
                    if value:
                        mine[oid] = value
                    else:
                        mine.pop(oid, None)
        return out

    # -- folding the log -------------------------------------------------------

    def step(self) -> int:
        """Fold one batch after the checkpoint and settle what it shows; how many log events were read."""
        views = self.svc.views
        after = views.checkpoint(CHECKPOINT)
        events = self.svc.store.read_all(after, self.batch)
        if not events:
            return 0
        try:
            self._fold(after, events)
        except Exception:
            self._forget()  # the in-memory models may hold this batch; the views do not
            raise
        return len(events)

    def _fold(self, after: int, events: list[StoredEvent]) -> None:
        views = self.svc.views
        by_oid: dict[str, list[StoredEvent]] = {}
        findings: list[StoredEvent] = []
        for e in events:
            if touches(e, self.ctx):
                by_oid.setdefault(e.oid, []).append(e)
                if e.type in FINDING_TYPES:
                    findings.append(e)
        with views.transaction() as tx:
            docs = tx.get_many(STATE_VIEW, by_oid)
        models = self._models()
        learned: set[str] = set()
        raws: list[dict[str, Any]] = []
        for oid, mine in by_oid.items():
            doc = docs.get(oid) or blank(oid)
            business = False
            for e in mine:
                add_event(doc, e, self.ctx)
                business = business or e.type not in FINDING_TYPES
            if business and doc["rows"]:
                learned |= self._learn(doc, models)
                raws += Evaluation(doc, self.ctx, moment(doc["rows"][-1][T]), learning=models).run()
            doc["sla"] = sla_summary(doc, self.ctx)
            docs[oid] = doc
        self._append(raws, docs)
        with views.transaction() as tx:
            if tx.checkpoint(CHECKPOINT) != after:
                # Another engine folded this batch first; its documents stand, ours may be stale.
                self._forget()
                return
            tx.put_many(STATE_VIEW, docs)
            tx.put_many(INDEX_VIEW, self._remember(docs))
            self._write_findings(tx, findings)
            if learned:
                tx.put_many(LEARN_VIEW, {m: models[m].document() for m in learned})
            tx.set_checkpoint(CHECKPOINT, events[-1].position)
        if self._report is not None:
            self._report.read += len(events)

    def _learn(self, doc: Doc, models: dict[str, RemainingTimes]) -> set[str]:
        """Teach the SLA models an order's remaining times, once, when it is first complete."""
        changed = set()
        for m in self._sla:
            if m.id in doc["learned"]:
                continue
            done = done_row(doc, m.done)
            if done is None:
                continue
            end = moment(done[T])
            for r in doc["rows"]:
                if r[TYPE] in self.ctx.rank and r[TYPE] not in m.done and r[T] <= done[T]:
                    models[m.id].add(r[TYPE], (end - moment(r[T])).total_seconds())
            doc["learned"].append(m.id)
            changed.add(m.id)
        return changed

    def _write_findings(self, tx: Any, events: list[StoredEvent]) -> None:
        if not events:
            return
        docs = tx.get_many(FINDINGS_VIEW, {e.data["finding_id"] for e in events if "finding_id" in e.data})
        index = tx.get(OPEN_VIEW, OPEN_KEY)
        for e in events:
            fid = e.data.get("finding_id")
            if not isinstance(fid, str):
                continue
            docs[fid] = apply_finding_doc(docs.get(fid), e)
            index = apply_open_index(index, docs[fid])
        tx.put_many(FINDINGS_VIEW, docs)
        tx.put_many(OPEN_VIEW, {OPEN_KEY: index or {"findings": {}}})

    def _append(self, raws: list[dict[str, Any]], docs: dict[str, Doc]) -> None:
        """Append decided findings; one already in the log (a re-run, a second engine) is adopted as stored."""
        if not raws:
            return
        fresh = []
        for raw in raws:
            stored = self.svc.store.get(raw["id"])
            if stored is None:
                fresh.append(raw)
            elif raw["oid"] in docs:
                add_event(docs[raw["oid"]], stored, self.ctx)
        results = self.svc.intake.record(fresh, allow_internal=True) if fresh else []
        appended = []
        for raw, result in zip(fresh, results, strict=True):
            if result.status == "rejected":
                stored = self.svc.store.get(raw["id"])
                if stored is not None and raw["oid"] in docs:
                    add_event(docs[raw["oid"]], stored, self.ctx)
                else:
                    log.error("monitor finding %s was refused: %s", raw["id"], result.as_dict())
            elif result.status == "accepted":
                appended.append(raw)
        if self._report is not None:
            self._report.note(appended)

    def catch_up(self, max_batches: int = 1_000_000) -> int:
        """Fold everything the log holds now; how many events were read."""
        total = 0
        for _ in range(max_batches):
            n = self.step()
            if n == 0:
                break
            total += n
        return total

    # -- scanning --------------------------------------------------------------

    def scan(self, now: datetime | None = None) -> ScanReport:
        """Catch up with the log, then open the stalls now due and the delivery windows now at risk."""
        self._report = report = ScanReport()
        try:
            self.catch_up()
            at = now or self.clock.now()
            due, risk = self._index()
            stamp = format_time(at)
            candidates = {oid for oid, when in due.items() if when <= stamp}
            candidates |= self._at_risk(risk, at)
            if candidates:
                try:
                    self._judge(sorted(candidates), at)
                except Exception:
                    self._forget()
                    raise
            self.catch_up()  # fold the findings just appended
        finally:
            self._report = None
        report.position = self.checkpoint()
        return report

    def _at_risk(self, risk: Mapping[str, Mapping[str, list[Any]]], at: datetime) -> set[str]:
        """Orders whose delivery-risk estimate is over a threshold and not yet flagged (from the index alone)."""
        models = self._models()
        out = set()
        for oid, per in risk.items():
            for mid, (deadline, step, step_time, flagged) in per.items():
                m = self.monitors.get(mid)
                if flagged or m is None or models[mid].samples(step) < m.min_samples:
                    continue
                dwell = (at - moment(step_time)).total_seconds()
                left = (moment(deadline) - at).total_seconds()
                if models[mid].p_late(step, dwell, left) > m.threshold:
                    out.add(oid)
        return out

    def _judge(self, oids: list[str], at: datetime) -> None:
        views = self.svc.views
        position = views.checkpoint(CHECKPOINT)
        with views.transaction() as tx:
            docs = tx.get_many(STATE_VIEW, oids)
        models = self._models()
        raws: list[dict[str, Any]] = []
        for doc in docs.values():
            horizon = max(at, moment(doc["rows"][-1][T])) if doc["rows"] else at
            raws += Evaluation(doc, self.ctx, horizon, now=at, learning=models).run()
            doc["sla"] = sla_summary(doc, self.ctx)
        self._append(raws, docs)
        with views.transaction() as tx:
            if tx.checkpoint(CHECKPOINT) != position:
                self._forget()  # the log moved under us; the findings appended are folded by whoever reads on
                return
            tx.put_many(STATE_VIEW, docs)
            tx.put_many(INDEX_VIEW, self._remember(docs))

    def rebuild(self, now: datetime | None = None) -> ScanReport:
        """Drop the monitors' views and fold the whole log again (findings already in the log are kept)."""
        with self.svc.views.transaction() as tx:
            for view in ALL_VIEWS:
                tx.clear(view)
        self._forget()
        return self.scan(now)

    # -- running ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log and scan every `interval_s` seconds (the first after one interval) until `stop` is set.

        Until the first scan only the log moves the engine, so a process that just
        started (tests, `serve`) sees findings only in answer to events for a while.
        """
        last_scan = time.monotonic()
        while not stop.is_set():
            try:
                moved = await asyncio.to_thread(self.step)
                if time.monotonic() - last_scan >= self.interval_s:
                    report = await asyncio.to_thread(self.scan)
                    last_scan = time.monotonic()
                    if report.opened or report.resolved:
                        log.info("monitors: %d findings opened, %d resolved", len(report.opened), len(report.resolved))
            except Exception:
                log.exception("the monitor engine could not handle a batch; retrying in 1 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                continue
            if moved == 0 and not stop.is_set():
                wait = max(0.01, min(self.idle_s, self.interval_s - (time.monotonic() - last_scan)))
                await asyncio.to_thread(self.svc.store.wait_for_appends, wait)
