"""Re-route commands from playbooks: orders at risk of missing their window move before they fail.

A playbook answering an SLA-risk finding emits `command.issued` with command
`reroute` for the order. This executor follows the log from a durable
checkpoint, re-plans each such order with the live router (everything it has
learned, today's signals, capacity prices) and records `routing.rerouted` with
trigger `sla_risk` — but only when another node is now better: re-recording
the same node would be noise. Each command is handled once: the re-route's
event id derives from the command's, so a crash and a re-run never move an
order twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.errors import DuplicateConflict, NotFound, OrderloomError
from orderloom.routing.router import ROUTED, Router

log = logging.getLogger("orderloom.routing.commands")
CHECKPOINT = "routing-commands"
COMMAND = "command.issued"
SETTLED = ("delivery.delivered", "customer.picked_up", "order.cancelled", "outbound.scanned")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one re-route command did."""

    command_id: str
    oid: str
    moved: bool
    from_node: str | None = None
    to_node: str | None = None
    why: str = ""


def is_reroute(e: StoredEvent) -> bool:
    """Whether an event is a re-route command for an order."""
    return e.type == COMMAND and str(e.data.get("command")) == "reroute"


def target_of(e: StoredEvent) -> str:
    """The order a command names: its `target`, else the stream it was issued on."""
    target = e.data.get("target") or (e.data.get("args") or {}).get("oid")
    return str(target) if target else e.oid


class RerouteCommands:
    """Carries out `reroute` commands with the live router."""

    def __init__(self, svc: Services, router: Router) -> None:
        self.svc, self.router = svc, router

    def drain(self, limit: int = 1000) -> list[Outcome]:
        """Handle every command after the checkpoint (up to `limit` events read); advance it."""
        after = self.svc.views.checkpoint(CHECKPOINT)
        events = self.svc.store.read_all(after, limit)
        out = [self.handle(e) for e in events if is_reroute(e)]
        if events:
            with self.svc.views.transaction() as tx:
                tx.set_checkpoint(CHECKPOINT, events[-1].position)
        return out

    def handle(self, command: StoredEvent) -> Outcome:
        """Re-plan the command's order and move it if another node is now better."""
        oid = target_of(command)
        try:
            events = self.svc.reader.events(oid)
        except NotFound:
            return Outcome(command.id, oid, False, why="no such order")
        if any(e.type in SETTLED for e in events):
            return Outcome(command.id, oid, False, why="already left the node or closed")
        routed = [e for e in events if e.type in ROUTED]
        if not routed:
            return Outcome(command.id, oid, False, why="not routed yet")
        if any(e.id == _reroute_id(command) for e in events):
            return Outcome(command.id, oid, False, why="handled before")
        current = str(routed[-1].data["node"])
        placed = next(e for e in events if e.type == "order.placed")
        refused = frozenset(str(e.data["node"]) for e in events if e.type == "node.rejected")
        doc = self.router.plan(self.svc, oid, placed.data, refused)
        if doc["node"] == current:
            return Outcome(command.id, oid, False, current, current, why=f"{current} is still the best node")
        try:
            self.router.record(
                self.svc,
                oid,
                doc,
                previous=routed[-1],
                actor=f"system:playbook:{command.id}"[:120],
                trigger=str((command.data.get("args") or {}).get("trigger") or "sla_risk"),
                event_id=_reroute_id(command),
                time=format_time(self.svc.clock.now()),
            )
        except DuplicateConflict:
            return Outcome(command.id, oid, False, why="handled before")
        return Outcome(command.id, oid, True, current, str(doc["node"]))

    async def run(self, stop: asyncio.Event, idle_s: float = 0.5) -> None:
        """Follow the log until stopped."""
        while not stop.is_set():
            try:
                done = await asyncio.to_thread(self.drain)
            except OrderloomError:
                log.exception("re-route commands: a pass failed; retrying")
                done = []
            for o in done:
                if o.moved:
                    log.info("re-routed %s from %s to %s (command %s)", o.oid, o.from_node, o.to_node, o.command_id)
            if not done:
                await asyncio.to_thread(self.svc.store.wait_for_appends, idle_s)


def _reroute_id(command: StoredEvent) -> str:
    return f"rr-{command.id}"[:128]


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts for a report line."""
    return {"commands": len(outcomes), "moved": sum(o.moved for o in outcomes)}
