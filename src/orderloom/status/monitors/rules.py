"""The four kinds of monitor as rules over one order's state: which findings open, which resolve, what is due next.

Times are occurrence times. `horizon` is how far time is known to have gone:
while folding the log it is the order's latest event (an order whose own
events show four silent hours has stalled, whatever the wall clock says);
in a scan it is the clock's now. Each decision is folded into the state at
once, so the rules never decide the same thing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orderloom.core.envelope import format_time
from orderloom.status.monitors.findings import opened_event, resolved_event
from orderloom.status.monitors.model import MISSING_STEP, SIGNAL_RULE, SLA_RISK, STALL, Monitor
from orderloom.status.monitors.remaining import RemainingTimes
from orderloom.status.monitors.state import (
    ID,
    SHIP,
    TYPE,
    Context,
    T,
    apply_finding,
    cold_chain,
    known_shipment,
    ship_key,
)
from orderloom.views.port import Doc

Row = list[Any]


def moment(text: str) -> datetime:
    """A stored (normalised UTC) time as an aware datetime."""
    return datetime.fromisoformat(text)


def _same_shipment(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def done_row(doc: Doc, done: tuple[str, ...]) -> Row | None:
    """The event that completed the order (every shipment it named handed over), if it is complete."""
    need = set(doc["shipments"])
    for r in doc["rows"]:
        if r[TYPE] not in done:
            continue
        if r[SHIP] is None or not need:
            return list(r)
        need.discard(r[SHIP])
        if not need:
            return list(r)
    return None


def closing_row(doc: Doc, ctx: Context) -> Row | None:
    """The first event that closed the order (cancelled, returned), if any."""
    return next((list(r) for r in doc["rows"] if r[TYPE] in ctx.closing), None)


def step_row(doc: Doc, ctx: Context) -> Row | None:
    """Where the order is: its latest event (by occurrence) that sets a status."""
    return next((list(r) for r in reversed(doc["rows"]) if r[TYPE] in ctx.rank), None)


class Evaluation:
    """One pass of every monitor over one order; `events` are the finding events to append."""

    def __init__(
        self,
        doc: Doc,
        ctx: Context,
        horizon: datetime,
        *,
        now: datetime | None = None,
        learning: Mapping[str, RemainingTimes] | None = None,
    ) -> None:
        self.doc = doc
        self.ctx = ctx
        self.horizon = horizon
        self.now = now  # set in a scan: time-driven findings are stamped with it
        self.learning = learning or {}
        self.events: list[dict[str, Any]] = []
        self.next_due: datetime | None = None

    def run(self) -> list[dict[str, Any]]:
        """Apply every monitor; the finding events decided (already folded into the state)."""
        for m in self.ctx.monitors:
            if m.kind == STALL:
                self._stall(m)
            elif m.kind == MISSING_STEP:
                self._missing(m)
            elif m.kind == SIGNAL_RULE:
                self._signal(m)
            elif m.kind == SLA_RISK:
                self._sla(m)
        self.doc["next_due"] = format_time(self.next_due) if self.next_due else None
        return self.events

    # -- bookkeeping -----------------------------------------------------------

    def _due(self, at: datetime) -> None:
        if self.next_due is None or at < self.next_due:
            self.next_due = at

    def _find(self, monitor: str, instance: str) -> tuple[str, dict[str, Any]] | None:
        for fid, rec in self.doc["findings"].items():
            if rec["monitor"] == monitor and rec.get("instance") == instance:
                return fid, rec
        return None

    def _open_in(self, monitor: str, scope: str) -> tuple[str, dict[str, Any]] | None:
        for fid, rec in self.doc["findings"].items():
            if rec["monitor"] == monitor and rec["state"] == "open" and rec.get("scope") == scope:
                return fid, rec
        return None

    def _evidence(self, instance: str, scope: str, shipment: str | None, **facts: Any) -> dict[str, Any]:
        ev: dict[str, Any] = {"instance": instance, "scope": scope, "cold_chain": cold_chain(self.doc, shipment)}
        known = known_shipment(self.doc, shipment)
        if known:
            ev["shipment"] = known
        ev.update({k: v for k, v in facts.items() if v is not None})
        return ev

    def _open(self, m: Monitor, at: datetime, evidence: dict[str, Any]) -> str:
        n = int(self.doc["counts"].get(m.id, 0)) + 1
        raw = opened_event(self.doc["oid"], m, n, at, evidence)
        apply_finding(self.doc, raw)
        self.events.append(raw)
        return str(raw["data"]["finding_id"])

    def _resolve(self, m: Monitor, fid: str, by: Row | dict[str, Any]) -> None:
        rec = self.doc["findings"][fid]
        if isinstance(by, dict):
            by_time, settled = by["time"], {"id": by["id"], "type": by["type"], "time": by["time"]}
        else:
            by_time, settled = by[T], {"id": by[ID], "type": by[TYPE], "time": by[T]}
        opened = moment(rec["opened_at"])
        # A late fact can predate the finding; the finding still closes after it opened.
        at = max(moment(by_time), opened)
        raw = resolved_event(self.doc["oid"], fid, rec, m, at=at, by=settled, open_s=(at - opened).total_seconds())
        apply_finding(self.doc, raw)
        self.events.append(raw)

    # -- the kinds -------------------------------------------------------------

    def _stall(self, m: Monitor) -> None:
        rows = self.doc["rows"]
        rank = self.ctx.rank
        for i, r in enumerate(rows):
            if r[TYPE] not in m.when:
                continue
            from_rank = rank.get(r[TYPE], 0)
            settled = None
            for s in rows[i + 1 :]:
                if not _same_shipment(s[SHIP], r[SHIP]):
                    continue
                # "Moved on": a later step of the order (a higher status) also ends the wait; exceptions rank 0.
                if s[TYPE] in m.expect or (m.moved_on and from_rank > 0 and rank.get(s[TYPE], -1) > from_rank):
                    settled = s
                    break
            found = self._find(m.id, r[ID])
            if found is not None:
                if found[1]["state"] == "open" and settled is not None:
                    self._resolve(m, found[0], settled)
                continue
            if settled is not None:
                # Over before we learned of it (a late upload, or steps a source never reports): nothing to act on.
                continue
            deadline = moment(r[T]) + m.within
            if deadline > self.horizon:
                self._due(deadline)
                continue
            at = max(self.now, deadline) if self.now else deadline
            evidence = self._evidence(
                r[ID],
                ship_key(r[SHIP]),
                r[SHIP],
                event_id=r[ID],
                event_type=r[TYPE],
                event_time=r[T],
                expected=list(m.expect),
                within_s=m.within.total_seconds(),
                deadline=format_time(deadline),
                elapsed_s=round((at - moment(r[T])).total_seconds(), 3),
            )
            self._open(m, at, evidence)

    def _missing(self, m: Monitor) -> None:
        rows = self.doc["rows"]
        first: dict[str, Row] = {}
        for r in rows:
            if r[TYPE] in m.when and ship_key(r[SHIP]) not in first:
                first[ship_key(r[SHIP])] = r
        for key, r in first.items():
            present = [s for s in rows if s[TYPE] in m.expect and _same_shipment(s[SHIP], r[SHIP])]
            found = self._find(m.id, key)
            if found is not None:
                if found[1]["state"] == "open" and present:
                    self._resolve(m, found[0], present[0])
                continue
            seen = {s[TYPE] for s in rows if _same_shipment(s[SHIP], r[SHIP])}
            if not all(t in seen for t in m.only_if):
                continue  # the order did not go that way (yet)
            if present:
                continue  # the step is there, if late: nothing is missing
            due = moment(r[T]) + m.grace
            if due > self.horizon:
                self._due(due)
                continue
            at = max(self.now, due) if self.now else due
            evidence = self._evidence(
                key,
                key,
                r[SHIP],
                event_id=r[ID],
                event_type=r[TYPE],
                event_time=r[T],
                expected=list(m.expect),
                missing=list(m.expect),
                only_if=list(m.only_if) or None,
                grace_s=m.grace.total_seconds(),
                deadline=format_time(due),
                elapsed_s=round((at - moment(r[T])).total_seconds(), 3),
            )
            self._open(m, at, evidence)

    def _signal(self, m: Monitor) -> None:
        for key, rd in sorted(self.doc["readings"].get(m.id, {}).items()):
            current = self._open_in(m.id, key)
            if rd["violating"] and current is None:
                evidence = self._evidence(
                    rd["id"],
                    key,
                    rd["shipment"],
                    event_id=rd["id"],
                    event_type=rd["type"],
                    event_time=rd["time"],
                    field=m.value,
                    value=rd["value"],
                    limit=rd["limit"],
                    limit_source=rd["limit_source"],
                    rule=m.rule,
                )
                self._open(m, moment(rd["time"]), evidence)
            elif not rd["violating"] and current is not None:
                self._resolve(m, current[0], rd)

    def _sla(self, m: Monitor) -> None:
        deadline = self.doc["deadline"]
        finished = done_row(self.doc, m.done) or closing_row(self.doc, self.ctx)
        for fid, rec in list(self.doc["findings"].items()):
            if rec["monitor"] != m.id or rec["state"] != "open":
                continue
            if finished is not None:
                self._resolve(m, fid, finished)
            elif deadline is not None and rec.get("instance") != deadline["at"]:
                # A new promise replaces the one at risk; the new one is judged afresh.
                by = {"id": deadline["event_id"], "type": deadline["event_type"], "time": deadline["set_at"]}
                self._resolve(m, fid, by)
        if self.now is None or deadline is None or finished is not None or self._find(m.id, deadline["at"]):
            return
        step = step_row(self.doc, self.ctx)
        model = self.learning.get(m.id)
        if step is None or model is None or model.samples(step[TYPE]) < m.min_samples:
            return
        dwell = (self.now - moment(step[T])).total_seconds()
        left = (moment(deadline["at"]) - self.now).total_seconds()
        p = model.p_late(step[TYPE], dwell, left)
        if p <= m.threshold:
            return
        p50, p90 = model.quantile(step[TYPE], 0.5), model.quantile(step[TYPE], 0.9)
        evidence = self._evidence(
            deadline["at"],
            deadline["at"],
            step[SHIP],
            deadline=deadline["at"],
            deadline_source={"id": deadline["event_id"], "type": deadline["event_type"]},
            time_left_s=round(left, 3),
            step=step[TYPE],
            step_event_id=step[ID],
            step_time=step[T],
            dwell_s=round(dwell, 3),
            typical_remaining_p50_s=round(p50, 1) if p50 is not None else None,
            typical_remaining_p90_s=round(p90, 1) if p90 is not None else None,
            probability_late=round(p, 4),
            threshold=m.threshold,
            samples=model.samples(step[TYPE]),
        )
        self._open(m, self.now, evidence)


def sla_summary(doc: Doc, ctx: Context) -> dict[str, list[Any]] | None:
    """What a scan needs to judge delivery risk without reading the order: per SLA monitor
    [deadline, step type, step time, already flagged]; None when nothing is left to judge."""
    deadline = doc["deadline"]
    if deadline is None:
        return None
    step = step_row(doc, ctx)
    if step is None or closing_row(doc, ctx) is not None:
        return None
    out: dict[str, list[Any]] = {}
    for m in ctx.monitors:
        if m.kind != SLA_RISK or done_row(doc, m.done) is not None:
            continue
        flagged = any(r["monitor"] == m.id and r.get("instance") == deadline["at"] for r in doc["findings"].values())
        out[m.id] = [deadline["at"], step[TYPE], step[T], flagged]
    return out or None
