"""The pipeline behind the log: relay and consumers, in the API's process or in their own.

`make run` keeps everything in one process (SQLite + the in-process bus); at
scale `orderloom relay` and `orderloom consume` run as separate processes on
PostgreSQL + NATS JetStream (or Kafka), any number of API workers beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from orderloom.bootstrap import Services
from orderloom.bus.consumer import ConsumerRunner
from orderloom.bus.factory import open_bus
from orderloom.bus.port import Bus
from orderloom.bus.relay import Relay
from orderloom.connectors.dispatcher import DispatchConfig, Dispatcher
from orderloom.playbook.runner import PlaybookRunner
from orderloom.routing.commands import RerouteCommands
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.router import Router
from orderloom.routing.signal_book import SignalBook
from orderloom.routing.signals import load_registry
from orderloom.status.monitors.engine import MonitorEngine
from orderloom.status.projections import status_projections
from orderloom.valuestream.schedule import DetectorScheduler

log = logging.getLogger("orderloom.pipeline")
STATUS_GROUP = "status-views"


def status_consumer(svc: Services, views: Iterable[str] | None = None) -> ConsumerRunner:
    """The runner for the status capability's views (all of them, or the named ones)."""
    everything = ConsumerRunner(STATUS_GROUP, status_projections(svc.dictionary), svc.store, svc.views)
    if views is None:
        return everything
    chosen = everything.select(views)
    group = (
        STATUS_GROUP
        if len(chosen) == len(everything.projections)
        else "views-" + "-".join(sorted(p.view for p in chosen))
    )
    return ConsumerRunner(group, chosen, svc.store, svc.views)


class InProcessPipeline:
    """Relay and status consumers as tasks of the running event loop."""

    def __init__(self, svc: Services, bus: Bus | None = None) -> None:
        self.svc = svc
        self.bus = bus or open_bus(svc.settings.bus_url)
        self.relay = Relay(svc.store, self.bus, svc.views)
        self.consumer = status_consumer(svc)
        self.webhooks = Dispatcher(svc, DispatchConfig.from_env())
        network = load_network(svc.settings.network_path or CHINA_YAML)
        # Playbook commands to re-route at-risk orders are carried out by a router of this process.
        self.commands = RerouteCommands(svc, Router(network, SignalBook(svc.intake, load_registry(), network)))
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect the bus and start relaying and consuming."""
        await self.bus.connect()
        self._tasks = [
            asyncio.create_task(_guarded("relay", self.relay.run(self._stop)), name="relay"),
            asyncio.create_task(_guarded("consumer", self.consumer.run(self.bus, self._stop)), name="consumer"),
            asyncio.create_task(_guarded("playbooks", PlaybookRunner(self.svc).run(self._stop)), name="playbooks"),
            asyncio.create_task(_guarded("reroutes", self.commands.run(self._stop)), name="reroutes"),
            asyncio.create_task(_guarded("webhooks", self.webhooks.run(self._stop)), name="webhooks"),
            asyncio.create_task(_guarded("monitors", MonitorEngine(self.svc).run(self._stop)), name="monitors"),
            asyncio.create_task(
                _guarded("detectors", DetectorScheduler.from_env(self.svc).run(self._stop)), name="detectors"
            ),
        ]

    async def stop(self) -> None:
        """Stop both and close the bus."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        await self.bus.close()


async def _guarded(name: str, work: object) -> None:
    try:
        await work  # type: ignore[misc]
    except asyncio.CancelledError:
        raise
    except Exception:  # logged; the API keeps serving from the log
        log.exception("the in-process %s stopped", name)


async def run_relay(svc: Services, stop: asyncio.Event) -> None:
    """`orderloom relay`: publish the log to the configured bus until stopped."""
    bus = open_bus(svc.settings.bus_url)
    await bus.connect()
    try:
        await Relay(svc.store, bus, svc.views).run(stop)
    finally:
        await bus.close()


async def run_consumer(svc: Services, stop: asyncio.Event, views: Iterable[str] | None = None) -> None:
    """`orderloom consume`: keep the status views up to date from the bus until stopped."""
    bus = open_bus(svc.settings.bus_url)
    await bus.connect()
    try:
        await status_consumer(svc, views).run(bus, stop)
    finally:
        await bus.close()
