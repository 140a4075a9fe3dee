"""Paused intake: while a `pause_intake` command stands for a sales channel, new orders through it are refused.

A playbook (or a person) pauses a channel by issuing `command.issued` with
command `pause_intake` on the stream `intake.<channel>` (e.g.
`intake.store:GZ-TH-ST`, a store's online shop); `resume_intake` on the same
stream lifts it. The latest of the two stands, and every API worker reads it
from the log. A channel's state is kept for REFRESH_S (so a bulk import does
not read the stream once per order); a command that passes through this
process's intake drops it at once, so here a pause counts from the next
order and in other workers within REFRESH_S, like a policy publish.
"""

from __future__ import annotations

import time

from orderloom.core.envelope import Event, StoredEvent
from orderloom.core.errors import Problem
from orderloom.core.ids import is_valid_oid
from orderloom.store.port import EventStore

PLACED = "order.placed"
COMMAND = "command.issued"
COMMANDS = ("pause_intake", "resume_intake")
PREFIX = "intake."
REFRESH_S = 0.25
MAX_CHANNELS = 10_000


def pause_stream(channel: str) -> str:
    """The stream whose commands pause and resume intake through `channel`."""
    return f"{PREFIX}{channel}"


class IntakePauses:
    """Refuses `order.placed` through a paused channel; an intake guard."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._known: dict[str, tuple[float, StoredEvent | None]] = {}  # stream -> (read at, standing command)

    def problem(self, event: Event) -> Problem | None:
        """Why this event may not be taken now, or None."""
        if event.type == COMMAND and event.oid.startswith(PREFIX):
            self._known.pop(event.oid, None)
            return None
        channel = event.data.get("channel") if event.type == PLACED else None
        if not isinstance(channel, str) or not is_valid_oid(pause_stream(channel)):
            return None
        standing = self._standing(pause_stream(channel))
        if standing is None or standing.data["command"] == "resume_intake":
            return None
        args = standing.data.get("args") or {}
        why = args.get("reason_text") or args.get("reason") or "no reason given"
        return Problem(
            "channel",
            "intake_paused",
            f"new orders through {channel} are paused since {standing.time}: {why}. "
            "The order was not taken; place it through another store or channel, "
            "or ask operations to resume this one.",
        )

    def _standing(self, stream: str) -> StoredEvent | None:
        now = time.monotonic()
        hit = self._known.get(stream)
        if hit is not None and now - hit[0] < REFRESH_S:
            return hit[1]
        standing = None
        for e in self.store.read_stream(stream):
            if e.type == COMMAND and e.data.get("command") in COMMANDS:
                standing = e
        if len(self._known) >= MAX_CHANNELS:
            self._known.clear()  # channels are few; this only bounds memory against made-up ones
        self._known[stream] = (now, standing)
        return standing
