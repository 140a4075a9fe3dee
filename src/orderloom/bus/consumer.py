"""The consumer runner: keeps projections up to date, exactly once per event.

The bus delivers at least once, so the same event may arrive twice, and a
consumer that was down may find the bus no longer holds what it missed. Both
are handled by one rule: each projection has a checkpoint (the highest log
position it has applied) and the runner writes it in the same view-store
transaction as the documents the events changed. An event at or below the
checkpoint is already in the view and is skipped; a delivery that leaves a
gap after the checkpoint means something was missed, and the runner reads
the gap from the event store (whose positions have no gaps) before going on.

Positions are global, so one group is one active runner; two processes
running the same group stay correct (a transaction that reads a checkpoint
holds it until it commits) but do not share the work.

Catching up and rebuilding read the log as undecoded rows in big pages: a
projection with a raw path (`Projection.fresh_json`) writes each document
that is new in the page straight from the rows, and only documents that
already exist are read, decoded and folded the usual way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import orjson

from orderloom.bus.pages import Page
from orderloom.bus.port import Bus, Delivery
from orderloom.core.envelope import StoredEvent
from orderloom.core.errors import NotFound, StoreUnavailable
from orderloom.status.projections import Projection
from orderloom.store.port import EventStore, RawEvent
from orderloom.views.port import Doc, ViewStore, ViewTx

log = logging.getLogger("orderloom.consumer")

Progress = Callable[[int, int], None]
"""Called after each batch with (position reached, last position of the log)."""

_RETRY_S = 1.0


def decode_cloudevent(body: bytes) -> StoredEvent:
    """The stored event a bus message carries (CloudEvents 1.0 structured JSON)."""
    return StoredEvent.from_cloudevent(body)


def _position(e: StoredEvent) -> int:
    return e.position


def _ascending(events: Sequence[StoredEvent]) -> bool:
    return all(a.position < b.position for a, b in itertools.pairwise(events))


def _contiguous_after(events: Sequence[StoredEvent], checkpoint: int) -> Sequence[StoredEvent]:
    """The run of `events` (sorted, unique positions) that continues the checkpoint without a gap."""
    start = 0
    while start < len(events) and events[start].position <= checkpoint:
        start += 1
    if start == len(events) or events[start].position != checkpoint + 1:
        return ()
    if events[-1].position - events[start].position == len(events) - 1 - start:
        return events[start:]  # unique and ascending, so this span has no gap (every catch-up batch)
    end = start + 1
    while end < len(events) and events[end].position == events[end - 1].position + 1:
        end += 1
    return events[start:end]


# One transaction's events grouped by document, per (key function, first, last position): projections
# that share a key function and a checkpoint (the usual case) group the batch once between them.
_Groups = dict[tuple[Callable[[StoredEvent], str | None], int, int], dict[str, list[StoredEvent]]]


def _by_key(run: Sequence[StoredEvent], key_of: Callable[[StoredEvent], str | None]) -> dict[str, list[StoredEvent]]:
    touched: dict[str, list[StoredEvent]] = {}
    for e in run:
        key = key_of(e)
        if key is not None:
            if key in touched:
                touched[key].append(e)
            else:
                touched[key] = [e]
    return touched


class ConsumerRunner:
    """Applies log events to a set of projections, from the store and from a bus group."""

    def __init__(
        self,
        name: str,
        projections: Sequence[Projection],
        store: EventStore,
        views: ViewStore,
        *,
        batch: int = 5000,
        page: int = 20_000,
    ) -> None:
        names = [p.view for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"consumer {name}: two projections write the same view ({names})")
        self.name = name
        self.projections = list(projections)
        self.store = store
        self.views = views
        self.batch = batch
        self.page = page  # log rows per transaction when catching up or rebuilding: bigger than a bus batch

    # -- positions ------------------------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        """Each view's committed checkpoint."""
        return {p.view: self.views.checkpoint(p.view) for p in self.projections}

    def position(self) -> int:
        """The position every view has reached: events up to here are in all of them."""
        return min(self.checkpoints().values(), default=0)

    # -- applying -------------------------------------------------------------

    def apply(self, events: Sequence[StoredEvent]) -> int:
        """Apply events in one transaction with the checkpoints; return the position every view then has.

        Events may come in any order and more than once. Each view takes only
        those that continue its checkpoint without a gap; the caller reads a
        gap from the store (see `catch_up`).
        """
        ordered = events if _ascending(events) else sorted({e.position: e for e in events}.values(), key=_position)
        groups: _Groups = {}
        with self.views.transaction() as tx:
            reached = []
            for p in self.projections:
                last = self._fold_into(tx, p, ordered, groups)
                if last is not None:
                    tx.set_checkpoint(p.view, last)
                reached.append(last if last is not None else tx.checkpoint(p.view))
        return min(reached, default=0)

    def _fold_into(
        self,
        tx: ViewTx,
        projection: Projection,
        ordered: Sequence[StoredEvent],
        groups: _Groups | None = None,
    ) -> int | None:
        """Write the documents the new events change (not the checkpoint); the last position applied, if any."""
        since = tx.checkpoint(projection.view)
        run = _contiguous_after(ordered, since)
        if not run:
            return None
        # Per batch: read each touched document once, fold all its events, write it once.
        if groups is None:
            touched = _by_key(run, projection.key)
        else:
            group = (projection.key, run[0].position, run[-1].position)
            if group not in groups:
                groups[group] = _by_key(run, projection.key)
            touched = groups[group]
        if touched:
            states = tx.get_many(projection.view, touched)
            docs: dict[str, Doc] = {}
            for key, mine in touched.items():
                doc = projection.fold(states.get(key), mine)
                if doc is not None:
                    docs[key] = doc
            tx.put_many(projection.view, docs)
        return run[-1].position

    def apply_rows(self, rows: Sequence[RawEvent] | Page) -> int:
        """`apply` for a page of the log as `EventStore.read_raw` returns it (ascending, no gaps)."""
        page = rows if isinstance(rows, Page) else Page(rows)
        if not page.gap_free:
            return self.apply(page.decoded())  # empty, or not one gap-free page: the general way
        with self.views.transaction() as tx:
            reached = []
            for p in self.projections:
                if p.raw_key is not None and p.fresh_json is not None:
                    last = self._fold_rows_into(tx, p, page)
                else:
                    last = self._fold_into(tx, p, page.decoded())
                if last is not None:
                    tx.set_checkpoint(p.view, last)
                reached.append(last if last is not None else tx.checkpoint(p.view))
        return min(reached, default=0)

    def _fold_rows_into(self, tx: ViewTx, projection: Projection, page: Page) -> int | None:
        """`_fold_into` for a gap-free page and a projection with a raw path."""
        assert projection.raw_key is not None
        start = tx.checkpoint(projection.view) + 1 - page.first
        if not 0 <= start < len(page.rows):
            return None  # already applied, or the page starts after a gap
        touched = page.touched(projection.raw_key, start)
        if touched:
            # Documents the page continues (an order spanning pages, a catch-up) are read and folded
            # the usual way; the others, all of them in a rebuild, are written as prepared from the rows.
            states = tx.get_many(projection.view, touched)
            if states:
                folded = {k: projection.fold(s, [r.decode() for r in touched[k]]) for k, s in states.items()}
                tx.put_many(projection.view, {k: d for k, d in folded.items() if d is not None})
            fresh = page.fresh(projection, start)
            tx.put_json(projection.view, {k: doc for k, doc in fresh.items() if k not in states} if states else fresh)
        return page.last

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything the log holds after the checkpoints; return how many log events were read.

        While one page commits (in a second thread: SQLite and PostgreSQL do that work without
        holding the GIL), the next is read and its documents prepared. Pages still commit one
        after another, each in its own transaction with the checkpoints.
        """
        after = self.position()
        head = self.store.last_position()
        total = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"consumer-{self.name}") as committer:
            pending: tuple[Future[int], Page] | None = None
            while True:
                page = Page(self.store.read_raw(after, self.page))
                page.prepare(self.projections)
                if pending is not None:
                    committing, previous = pending
                    pending = None
                    reached = committing.result()
                    if progress is not None:
                        progress(reached, max(head, reached))
                    if reached < previous.last:
                        # Some view did not take the page (its checkpoint moved under us, e.g. a
                        # concurrent rebuild cleared it): read again from where they all are.
                        after = reached
                        continue
                if not page.rows:
                    return total
                total += len(page.rows)
                pending = (committer.submit(self.apply_rows, page), page)
                if len(page.rows) < self.page:
                    committing, previous = pending
                    reached = committing.result()
                    if progress is not None:
                        progress(reached, max(head, reached))
                    if reached >= previous.last:
                        return total
                    pending = None
                    after = reached
                    continue
                after = page.last

    def rebuild(self, views: Iterable[str] | None = None, progress: Progress | None = None) -> int:
        """Drop the named views (all when None) with their checkpoints and build them again from the log."""
        chosen = self.select(views)
        with self.views.transaction() as tx:
            for p in chosen:
                tx.clear(p.view)
        return self.catch_up(progress)

    def select(self, views: Iterable[str] | None) -> list[Projection]:
        """The projections named (by name or view); NotFound names the unknown ones."""
        if views is None:
            return list(self.projections)
        wanted = list(views)
        known = {n for p in self.projections for n in (p.name, p.view)}
        unknown = [v for v in wanted if v not in known]
        if unknown:
            raise NotFound(
                f"no view named {', '.join(unknown)}; the views are {', '.join(p.name for p in self.projections)}"
            )
        return [p for p in self.projections if p.name in wanted or p.view in wanted]

    # -- live -----------------------------------------------------------------

    async def run(self, bus: Bus, stop: asyncio.Event) -> None:
        """Catch up from the store, then follow the bus group named after this consumer until `stop` is set."""
        reached = await self._retrying(self._catch_up_position, stop)
        if reached is None:
            return
        waiting: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=self.batch)
        pump = asyncio.create_task(self._pump(bus, waiting), name=f"consumer-{self.name}-pump")
        stopped = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                if waiting.empty():
                    if pump.done():
                        pump.result()  # the subscription ended, or failed: let the caller see why
                        break
                    got = asyncio.create_task(waiting.get())
                    await asyncio.wait({got, stopped, pump}, return_when=asyncio.FIRST_COMPLETED)
                    if not got.done():
                        got.cancel()  # safe: a cancelled Queue.get leaves its item in the queue
                        continue
                    group = [got.result()]
                else:
                    group = [waiting.get_nowait()]
                # Deliveries already waiting go into the same transaction; nothing is acked before it commits.
                while len(group) < self.batch and not waiting.empty():
                    group.append(waiting.get_nowait())
                handled = await self._retrying(functools.partial(self._handle, group, reached), stop)
                if handled is None:
                    break
                reached = handled
                # Acks are independent round trips: pipelined, not one after another.
                await asyncio.gather(*(d.ack() for d in group))
        finally:
            for task in (pump, stopped):
                task.cancel()
            for task in (pump, stopped):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _pump(self, bus: Bus, waiting: asyncio.Queue[Delivery]) -> None:
        subscription = bus.subscribe(self.name)
        try:
            async for delivery in subscription:
                await waiting.put(delivery)
        finally:
            # Close it now, not when the garbage collector gets to it, so the broker
            # hands what we took but never acked to the group's next subscriber.
            aclose = getattr(subscription, "aclose", None)
            if aclose is not None:
                await aclose()

    def _catch_up_position(self) -> int:
        self.catch_up()
        return self.position()

    def _handle(self, group: list[Delivery], reached: int) -> int:
        """Apply a group of deliveries (blocking; run in a thread); the position every view then has."""
        fresh = [d.message for d in group if d.message.position > reached]
        if not fresh:
            return reached
        events = []
        for m in fresh:
            try:
                events.append(decode_cloudevent(m.body))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                # The log holds every event the bus carries: read this one from there (the gap below).
                log.warning(
                    "consumer %s could not read message %s from the bus; reading the log instead", self.name, m.id
                )
        if events:
            reached = self.apply(events)
        if reached < max(m.position for m in fresh):
            # A gap: the bus skipped something or no longer holds it; the log has it all.
            self.catch_up()
            reached = self.position()
        return reached

    async def _retrying(self, work: Callable[[], int], stop: asyncio.Event) -> int | None:
        """Run blocking work in a thread until it succeeds; None if `stop` is set first."""
        while not stop.is_set():
            try:
                return await asyncio.to_thread(work)
            except StoreUnavailable:
                log.exception("consumer %s could not update its views; retrying in %.0f s", self.name, _RETRY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=_RETRY_S)
        return None
