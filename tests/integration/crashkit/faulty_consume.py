"""A deliberately broken consumer process: the checkpoint is saved in a second transaction.

The crash test runs it instead of `orderloom consume` to show that the test
can fail: killed between the two transactions, it re-applies events on
restart and its views count them twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from orderloom.bootstrap import build_services
from orderloom.bus.consumer import ConsumerRunner
from orderloom.bus.factory import open_bus
from orderloom.bus.pages import Page
from orderloom.core.envelope import StoredEvent
from orderloom.core.settings import Settings
from orderloom.pipeline import STATUS_GROUP
from orderloom.status.projections import status_projections
from orderloom.store.port import RawEvent

WINDOW_S = float(os.environ.get("FAULTY_WINDOW_S", "0.2"))  # widened so a random kill lands between the commits


class CheckpointAfterwards(ConsumerRunner):
    """Commit the documents, then the checkpoint separately: the classic mistake."""

    def apply(self, events: Sequence[StoredEvent]) -> int:
        ordered = sorted({e.position: e for e in events}.values(), key=lambda e: e.position)
        with self.views.transaction() as tx:
            lasts = {p.view: self._fold_into(tx, p, ordered) for p in self.projections}
        mark = os.environ.get("FAULTY_MARK")
        if mark:  # tells the test "now is the worst moment to die"
            Path(mark).touch()
        time.sleep(WINDOW_S)
        if mark:
            Path(mark).unlink(missing_ok=True)
        with self.views.transaction() as tx:
            for view, last in lasts.items():
                if last is not None:
                    tx.set_checkpoint(view, last)
        return min(self.views.checkpoint(p.view) for p in self.projections)

    def apply_rows(self, rows: Sequence[RawEvent] | Page) -> int:
        """Catching up from the log goes the same broken way."""
        return self.apply((rows if isinstance(rows, Page) else Page(rows)).decoded())


async def main() -> None:
    svc = build_services(Settings.from_env())
    bus = open_bus(svc.settings.bus_url)
    await bus.connect()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = CheckpointAfterwards(STATUS_GROUP, status_projections(svc.dictionary), svc.store, svc.views)
    try:
        await runner.run(bus, stop)
    finally:
        await bus.close()
        svc.close()


if __name__ == "__main__":
    asyncio.run(main())
