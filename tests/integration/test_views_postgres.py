"""Views on PostgreSQL: live consumption from the bus equals a rebuild from the log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest

from orderloom.bus.consumer import ConsumerRunner
from orderloom.bus.memory import MemoryBus
from orderloom.bus.port import Message
from orderloom.core.envelope import Event, StoredEvent
from orderloom.status.projections import project_all, status_projections
from orderloom.store.port import AppendRequest, EventStore
from orderloom.views.port import Doc, ViewStore
from tests.conftest import PG_URL
from tests.unit._support import shipped

pytestmark = pytest.mark.postgres

TYPES = ("order.placed", "pick.completed", "outbound.scanned", "linehaul.in_transit", "delivery.delivered")


@pytest.fixture
def pg(pg_schema: str) -> Iterator[tuple[EventStore, ViewStore]]:
    from orderloom.store.postgres import PostgresEventStore
    from orderloom.views.postgres import PostgresViewStore

    store = PostgresEventStore(PG_URL, schema=pg_schema)
    views = PostgresViewStore(PG_URL, schema=pg_schema)
    yield store, views
    views.close()
    store.close()


def event(n: int) -> Event:
    oid = f"OL-{n % 7}"
    return Event(
        id=f"e{n}",
        type=TYPES[(n // 7) % len(TYPES)],
        source="tests/integration",
        oid=oid,
        # Later events of an order sometimes carry earlier times: they arrived late.
        time=f"2026-05-01T08:{(n * 13) % 60:02d}:00.000000Z",
        data={"customer": {"id": f"C-{oid}", "tier": "gold"}} if n < 7 else {},
    )


def message(e: StoredEvent) -> Message:
    return Message(id=e.id, oid=e.oid, type=e.type, position=e.position, body=orjson.dumps(e.cloudevent()))


def contents(views: ViewStore, view: str) -> dict[str, Doc]:
    return dict(views.scan(view, limit=10_000))


def test_live_views_on_postgres_equal_a_rebuild_and_the_fold_of_the_log(pg: tuple[EventStore, ViewStore]) -> None:
    store, views = pg
    runner = ConsumerRunner("status", status_projections(shipped()), store, views, batch=8)

    async def scenario() -> None:
        bus = MemoryBus()
        await bus.connect()
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(bus, stop))
        for start in range(0, 60, 6):
            recs = store.append(AppendRequest([event(n) for n in range(start, start + 6)]))
            stored = store.read_all(recs[0].position - 1, len(recs))
            # Every message twice, and the first of each batch held back until after the rest.
            await bus.publish([message(e) for e in stored[1:]] + [message(stored[0])])
            await bus.publish([message(e) for e in stored])
        async with asyncio.timeout(20):
            while await asyncio.to_thread(runner.position) < 60:
                await asyncio.sleep(0.01)
        stop.set()
        await task
        await bus.close()

    asyncio.run(scenario())
    log = store.read_all(0, 1000)
    live = {p.view: contents(views, p.view) for p in runner.projections}
    assert live == {p.view: project_all(log, p) for p in runner.projections}
    assert sum(doc["event_count"] for doc in live["order_status"].values()) == 60

    assert runner.rebuild() == 60
    assert {p.view: contents(views, p.view) for p in runner.projections} == live
    assert views.checkpoint("order_chain") == views.checkpoint("order_status") == 60
