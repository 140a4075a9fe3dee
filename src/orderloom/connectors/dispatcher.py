"""The outbound webhook dispatcher: follows the log and delivers to every active subscription.

Per subscription it reads the log from a durable checkpoint, keeps one lane
per order and sends each lane's events one after another: an order's next
event waits until the previous one is delivered or dead-lettered, while other
orders' lanes go on. The checkpoint only moves past an event once it is
finished, and the events finished beyond it are saved with it, so a restart
neither loses nor repeats a delivery (except one whose answer arrived while
the process died: receivers deduplicate by the X-Orderloom-Delivery header).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson

from orderloom.bootstrap import Services
from orderloom.connectors import delivery, outcomes
from orderloom.connectors.delivery import Backoff
from orderloom.connectors.subscriptions import SYSTEM_PREFIX, Subscription, Subscriptions, delivery_stream
from orderloom.core.envelope import StoredEvent, format_time
from orderloom.core.ids import ulid
from orderloom.status.views import event_for_role

log = logging.getLogger("orderloom.webhooks")
STATE_VIEW = "webhook_state"
ACTOR = "system:webhooks"


def checkpoint_name(subscription: str) -> str:
    """The view-store checkpoint of one subscription."""
    return f"webhook:{subscription}"


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    """How the dispatcher paces itself."""

    backoff: Backoff = field(default_factory=Backoff)
    poll_s: float = 0.2
    concurrency: int = 16  # requests in flight per subscription
    read_ahead: int = 2000  # events read but not finished, per subscription
    save_every_s: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DispatchConfig:
        """The backoff from ORDERLOOM_WEBHOOK_* variables; the rest at their defaults."""
        return cls(backoff=Backoff.from_env(os.environ if env is None else env))


@dataclass(slots=True)
class _Item:
    event: StoredEvent
    replay: bool = False


class Dispatcher:
    """Runs one worker per active subscription; starts and stops them as subscriptions change."""

    def __init__(
        self, svc: Services, config: DispatchConfig | None = None, *, rng: random.Random | None = None
    ) -> None:
        self.svc = svc
        self.config = config or DispatchConfig()
        self.subs = Subscriptions(svc.intake)
        self.rng = rng or random.Random()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set."""
        client = httpx2.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=self.config.backoff.timeout_s,
            limits=httpx2.Limits(max_connections=self.config.concurrency * 4),
        )
        workers: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        try:
            while not stop.is_set():
                subs = await asyncio.to_thread(self.subs.all)
                for sub in subs:
                    running = workers.get(sub.id)
                    if running is not None and running[1].done():
                        _report(sub.id, running[1])
                        workers.pop(sub.id)
                        running = None
                    if sub.state == "active" and running is None:
                        halt = asyncio.Event()
                        worker = Worker(self, sub, client)
                        workers[sub.id] = (halt, asyncio.create_task(worker.run(halt), name=f"webhook-{sub.id}"))
                    elif sub.state != "active" and running is not None:
                        running[0].set()
                        await running[1]
                        workers.pop(sub.id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.config.poll_s * 5)
        finally:
            for halt, _ in workers.values():
                halt.set()
            for _, task in workers.values():
                with contextlib.suppress(Exception):
                    await task
            await client.aclose()


def _report(sid: str, task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("webhook worker %s stopped; restarting it", sid, exc_info=exc)


class Worker:
    """Delivers one subscription's events."""

    def __init__(self, dispatcher: Dispatcher, sub: Subscription, client: httpx2.AsyncClient) -> None:
        self.d = dispatcher
        self.svc = dispatcher.svc
        self.sub = sub
        self.client = client
        self.config = dispatcher.config
        self.stream = delivery_stream(sub.id)
        self.secret = b""
        self.state: outcomes.State = outcomes.empty()
        self.checkpoint = sub.position
        self.head = sub.position
        self.finished_above: set[int] = set()
        self.pending: dict[int, _Item] = {}
        self.lanes: dict[str, deque[_Item]] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.replaying: set[str] = set()
        self.sem = asyncio.Semaphore(self.config.concurrency)
        self.wake = asyncio.Event()
        self.halt = asyncio.Event()
        self.saved: tuple[int, int, int] = (-1, -1, -1)
        self.crash: Exception | None = None

    async def run(self, halt: asyncio.Event) -> None:
        """Deliver until `halt` is set, saving the checkpoint as events finish."""
        self.halt = halt
        self.secret = await asyncio.to_thread(self.d.subs.secret, self.sub.id)
        await asyncio.to_thread(self._load)
        loop = asyncio.get_running_loop()
        last_save = loop.time()
        try:
            while not halt.is_set():
                if self.crash is not None:
                    raise self.crash
                read = await self._read_ahead()
                await self._take_replays()
                self._advance()
                if loop.time() - last_save >= self.config.save_every_s:
                    await asyncio.to_thread(self._save)
                    last_save = loop.time()
                if read:
                    continue
                self.wake.clear()
                waits = [asyncio.ensure_future(halt.wait()), asyncio.ensure_future(self.wake.wait())]
                await asyncio.wait(waits, timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
        finally:
            tasks = list(self.running.values())
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            self._advance()
            await asyncio.to_thread(self._save)

    # -- state -------------------------------------------------------------------

    def _load(self) -> None:
        doc = self.svc.views.read(STATE_VIEW, self.sub.id)
        if doc is not None:
            self.checkpoint = self.head = int(doc["checkpoint"])
            self.finished_above = set(doc["done"])
            self.state = doc["outcomes"]
        # Outcomes recorded after the last save finished their events too.
        tail = self.svc.store.read_stream(self.stream, after_seq=self.state["seq"])
        for e in tail:
            if e.type in (outcomes.DELIVERED, outcomes.DEAD) and e.data["position"] > self.checkpoint:
                self.finished_above.add(e.data["position"])
        self.state = outcomes.fold(self.state, tail)

    def _save(self) -> None:
        mark = (self.checkpoint, len(self.finished_above), self.state["seq"])
        if mark == self.saved:
            return
        doc = {"checkpoint": self.checkpoint, "done": sorted(self.finished_above), "outcomes": self.state}
        with self.svc.views.transaction() as tx:
            tx.put_many(STATE_VIEW, {self.sub.id: doc})
            tx.set_checkpoint(checkpoint_name(self.sub.id), self.checkpoint)
        self.saved = mark

    def _advance(self) -> None:
        """Move the checkpoint up to just below the oldest unfinished event."""
        self.checkpoint = min(self.pending) - 1 if self.pending else self.head
        self.finished_above = {p for p in self.finished_above if p > self.checkpoint}

    # -- reading -------------------------------------------------------------------

    async def _read_ahead(self) -> bool:
        room = self.config.read_ahead - len(self.pending)
        if room <= 0:
            return False
        events = await asyncio.to_thread(self.svc.store.read_all, self.head, min(room, 500))
        for e in events:
            self.head = e.position
            if e.position in self.finished_above or not self._wanted(e):
                continue
            item = _Item(e)
            self.pending[e.position] = item
            self._enqueue(item)
        return bool(events)

    def _wanted(self, e: StoredEvent) -> bool:
        # System streams (keys, subscriptions, delivery logs) are never delivered: that would loop.
        if e.oid.startswith(SYSTEM_PREFIX) or not self.sub.wants(e.type):
            return False
        t = self.svc.dictionary.get(e.type)
        return t is not None and t.view(self.sub.role).visible

    async def _take_replays(self) -> None:
        tail = await asyncio.to_thread(self.svc.store.read_stream, self.stream, self.state["seq"])
        if tail:
            self.state = outcomes.fold(self.state, tail)
        self.replaying &= set(self.state["replay"])
        wanted = [i for i in self.state["replay"] if i not in self.replaying]
        for event_id in wanted:
            e = await asyncio.to_thread(self.svc.store.get, event_id)
            self.replaying.add(event_id)
            if e is not None:
                self._enqueue(_Item(e, replay=True))

    # -- delivering ----------------------------------------------------------------

    def _enqueue(self, item: _Item) -> None:
        oid = item.event.oid
        self.lanes.setdefault(oid, deque()).append(item)
        if oid not in self.running:
            self.running[oid] = asyncio.create_task(self._drain(oid))

    async def _drain(self, oid: str) -> None:
        lane = self.lanes[oid]
        try:
            while lane:
                item = lane[0]
                if not await self._deliver(item):
                    return
                lane.popleft()
                if not item.replay:
                    self.pending.pop(item.event.position, None)
                    self.finished_above.add(item.event.position)
                self.wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the store failed: the worker restarts from its last save
            self.crash = exc
            self.wake.set()
        finally:
            self.running.pop(oid, None)
            if not lane:
                self.lanes.pop(oid, None)

    async def _deliver(self, item: _Item) -> bool:
        """Attempt until delivered or dead-lettered (True), or until halted (False)."""
        e = item.event
        body = await asyncio.to_thread(self._body, e)
        backoff = self.config.backoff
        for number in range(1, backoff.max_attempts + 1):
            async with self.sem:
                answer = await delivery.attempt(
                    self.client,
                    self.sub.url,
                    self.secret,
                    body,
                    now=self.svc.clock.now(),
                    delivery=f"{self.sub.id}:{e.id}",
                    event_type=e.type,
                    number=number,
                    timeout_s=backoff.timeout_s,
                )
            facts: dict[str, Any] = {"attempt": number, "status": answer.status, "ms": answer.ms}
            if answer.verdict == delivery.OK:
                await self._record(outcomes.DELIVERED, e, facts)
                return True
            facts["error"] = answer.error
            if answer.verdict == delivery.DEAD or number == backoff.max_attempts:
                await self._record(outcomes.DEAD, e, facts)
                return True
            wait = backoff.delay(number, self.d.rng)
            await self._record(outcomes.FAILED, e, {**facts, "retry_in_s": round(wait, 3)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.halt.wait(), timeout=wait)
            if self.halt.is_set():
                return False
        return False  # pragma: no cover - the loop always returns

    def _body(self, e: StoredEvent) -> bytes:
        shown = event_for_role(self.svc.reader.readable([e])[0], self.sub.role, self.svc.dictionary)
        return orjson.dumps({"subscription": self.sub.id, "delivery": f"{self.sub.id}:{e.id}", "event": shown})

    async def _record(self, etype: str, e: StoredEvent, facts: dict[str, Any]) -> None:
        data = {"subscription": self.sub.id, "event_id": e.id, "oid": e.oid, "position": e.position}
        data.update({k: v for k, v in facts.items() if v is not None or k == "status"})
        if "error" in data:
            data["error"] = str(data["error"])[:500]
        raw = {
            "id": f"whd-{ulid()}",
            "type": etype,
            "source": "orderloom/webhooks",
            "oid": self.stream,
            "time": format_time(self.svc.clock.now()),
            "actor": ACTOR,
            "data": data,
        }
        result = (await asyncio.to_thread(self.svc.intake.record, [raw], allow_internal=True))[0]
        if result.status == "rejected":  # pragma: no cover - our own events fit our own dictionary
            log.error("could not record a webhook outcome: %s", result.as_dict())
