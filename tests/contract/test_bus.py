"""The Bus contract: every adapter must pass every test here.

pytest-asyncio is not used: each test is a plain function running one
coroutine under `asyncio.run`, with a deadline so a broken adapter fails
instead of hanging.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from orderloom.bus.errors import BusUnavailable
from orderloom.bus.factory import open_bus
from orderloom.bus.memory import MemoryBus
from orderloom.bus.port import Bus, Delivery, Message
from orderloom.core.errors import ConfigError
from orderloom.core.ids import new_event_id
from tests.conftest import need_service

NATS_URL = os.environ.get("ORDERLOOM_TEST_NATS", "nats://127.0.0.1:4222")
KAFKA = os.environ.get("ORDERLOOM_TEST_KAFKA", "")


def reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Adapter:
    """Builds fresh buses for one test, all sharing that test's stream/topic."""

    name: str
    make: Callable[[], Bus]
    deadline: float  # seconds one test step may take


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats), "kafka"])
def adapter(request: pytest.FixtureRequest) -> Iterator[Adapter]:
    unique = uuid.uuid4().hex[:12]
    if request.param == "memory":
        shared = MemoryBus()  # one process, one in-memory broker: every "new" bus is the same one
        yield Adapter("memory", lambda: shared, 2.0)
    elif request.param == "nats":
        need_service("NATS", reachable(NATS_URL.removeprefix("nats://")))
        from orderloom.bus.nats import NatsBus

        stream, prefix = f"T_{unique}", f"test.{unique}"
        yield Adapter("nats", lambda: NatsBus(url=NATS_URL, stream=stream, subject_prefix=prefix), 5.0)

        async def drop() -> None:
            bus = NatsBus(url=NATS_URL, stream=stream, subject_prefix=prefix)
            await bus.connect()
            try:
                await bus.delete_stream()
            finally:
                await bus.close()

        asyncio.run(drop())
    else:
        if not KAFKA:
            pytest.skip("no Kafka broker on this machine: set ORDERLOOM_TEST_KAFKA=host:port to run the Kafka suite")
        need_service("Kafka", reachable(KAFKA))
        from orderloom.bus.kafka import KafkaBus

        topic = f"orderloom.test.{unique}"
        # Joining a consumer group waits out the broker's rebalance delay: give Kafka more time.
        yield Adapter("kafka", lambda: KafkaBus(bootstrap=KAFKA, topic=topic, partitions=4, replication=1), 30.0)

        async def drop_topic() -> None:
            bus = KafkaBus(bootstrap=KAFKA, topic=topic)
            await bus.delete_topic()

        asyncio.run(drop_topic())


def run(adapter: Adapter, scenario: Callable[[Bus], Awaitable[None]]) -> None:
    """Connect a bus, run the scenario against it under a deadline, close it."""

    async def main() -> None:
        bus = adapter.make()
        await bus.connect()
        try:
            await asyncio.wait_for(scenario(bus), adapter.deadline * 3)
        finally:
            await bus.close()

    asyncio.run(main())


def msg(oid: str, position: int, *, kind: str = "test.scanned") -> Message:
    eid = new_event_id()
    body = orjson.dumps(
        {"specversion": "1.0", "id": eid, "type": kind, "oid": oid, "position": position, "data": {"note": "né ✓"}}
    )
    return Message(id=eid, oid=oid, type=kind, position=position, body=body)


async def aclose(it: AsyncIterator[Delivery]) -> None:
    closer: Any = getattr(it, "aclose", None)
    if closer is not None:
        await closer()


async def take(
    bus: Bus, group: str, count: int, deadline: float, *, ack: Callable[[Message], bool] = lambda m: True
) -> list[Message]:
    """Subscribe, receive `count` messages (acking those `ack` accepts), then close the subscription."""
    got: list[Message] = []
    it = bus.subscribe(group)

    async def receive() -> None:
        async for delivery in it:
            got.append(delivery.message)
            if ack(delivery.message):
                await delivery.ack()
            if len(got) == count:
                return

    try:
        await asyncio.wait_for(receive(), deadline)
    except TimeoutError:
        pytest.fail(f"group {group} received {len(got)} of {count} messages within {deadline} s")
    finally:
        await aclose(it)
    return got


def per_oid(messages: list[Message]) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for m in messages:
        out.setdefault(m.oid, []).append(m)
    return out


def group() -> str:
    return "g_" + uuid.uuid4().hex[:12]


def test_published_messages_arrive_in_order_with_the_same_id_oid_type_position_and_body(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        # A dotted oid checks the subject-token mapping; three orders check per-order order.
        oids = ["OL-A1", "shop.cn:SO.778-1", "OL_C3"]
        sent = [msg(oids[i % 3], i + 1, kind=f"order.step{i}") for i in range(12)]
        await bus.publish(sent[:5])
        await bus.publish(sent[5:])
        got = await take(bus, group(), len(sent), adapter.deadline)
        assert sorted(got, key=lambda m: m.position) == sent
        assert per_oid(got) == per_oid(sent)

    run(adapter, scenario)


def test_a_group_resumes_after_its_last_ack(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        g = group()
        sent = [msg("OL-RESUME", i) for i in range(1, 8)]
        await bus.publish(sent[:5])
        first = await take(bus, g, 3, adapter.deadline)
        assert first == sent[:3]
        await bus.publish(sent[5:])
        again = await take(bus, g, 4, adapter.deadline)
        assert again == sent[3:]

    run(adapter, scenario)


def test_a_group_resumes_on_a_new_connection(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        g = group()
        sent = [msg("OL-RECONNECT", i) for i in range(1, 5)]
        await bus.publish(sent)
        assert await take(bus, g, 2, adapter.deadline) == sent[:2]
        later = adapter.make()  # another process's connection to the same stream/topic
        await later.connect()
        try:
            assert await take(later, g, 2, adapter.deadline) == sent[2:]
        finally:
            await later.close()

    run(adapter, scenario)


def test_an_unacked_message_is_delivered_again(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        g = group()
        a, b, c = sent = [msg("OL-REDELIVER", i) for i in range(1, 4)]
        await bus.publish(sent)
        first = await take(bus, g, 2, adapter.deadline, ack=lambda m: m.id == a.id)
        assert first == [a, b]
        assert await take(bus, g, 2, adapter.deadline) == [b, c]

    run(adapter, scenario)


def test_an_unacked_message_comes_back_when_its_subscriber_stops_while_waiting_for_more(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        g = group()
        a = msg("OL-WAITING", 1)
        await bus.publish([a])
        it = bus.subscribe(g)
        try:
            first = await asyncio.wait_for(anext(it), adapter.deadline)
            assert first.message == a  # received, never acked
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(it), 0.3)  # caught up: gives up waiting, which ends the iterator
        finally:
            await aclose(it)
        assert await take(bus, g, 1, adapter.deadline) == [a]

    run(adapter, scenario)


def test_a_subscriber_that_has_caught_up_receives_new_messages_as_they_are_published(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        g = group()
        early, late = msg("OL-LIVE", 1), msg("OL-LIVE", 2)
        await bus.publish([early])
        waiting = asyncio.create_task(take(bus, g, 2, adapter.deadline))
        await asyncio.sleep(0.2)  # let the subscriber catch up and wait
        await bus.publish([late])
        assert await waiting == [early, late]

    run(adapter, scenario)


def test_two_groups_each_receive_everything_independently(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        sent = [msg(f"OL-TWO{i % 4}", i) for i in range(1, 21)]
        await bus.publish(sent)
        g1, g2 = group(), group()
        one = await take(bus, g1, len(sent), adapter.deadline)
        two = await take(bus, g2, len(sent), adapter.deadline)
        for got in (one, two):
            assert sorted(got, key=lambda m: m.position) == sent
            assert per_oid(got) == per_oid(sent)
        # g1 acked everything: a new message is all it gets next, while g2 is unaffected.
        extra = msg("OL-TWO0", 21)
        await bus.publish([extra])
        assert await take(bus, g1, 1, adapter.deadline) == [extra]
        assert await take(bus, g2, 1, adapter.deadline) == [extra]

    run(adapter, scenario)


def test_republishing_the_same_message_id_is_dropped_by_the_broker(adapter: Adapter) -> None:
    if adapter.name == "kafka":
        pytest.skip(
            "Kafka's idempotent producer only drops its own retries within one producer session, "
            "not a re-send of the same event id; Kafka consumers drop duplicates by event id/position"
        )

    async def scenario(bus: Bus) -> None:
        one, two, three = (msg("OL-DUP", i) for i in range(1, 4))
        await bus.publish([one, two])
        await bus.publish([one, two, three])  # a relay retrying a batch that was half-acknowledged
        # `three` arrives after anything stored before it, so a stored duplicate would show up here.
        assert await take(bus, group(), 3, adapter.deadline) == [one, two, three]

    run(adapter, scenario)


def test_per_order_order_is_kept_when_many_orders_are_published_interleaved(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        orders, events = 20, 50
        sent = [msg(f"OL-MANY{o:02d}", n * orders + o + 1) for n in range(events) for o in range(orders)]
        for start in range(0, len(sent), 137):  # uneven batches, like a relay draining an outbox
            await bus.publish(sent[start : start + 137])
        got = await take(bus, group(), len(sent), adapter.deadline)
        by_oid = per_oid(got)
        assert len(by_oid) == orders
        for oid, stream in by_oid.items():
            positions = [m.position for m in stream]
            assert len(positions) == events, oid
            assert all(a < b for a, b in itertools.pairwise(positions)), oid

    run(adapter, scenario)


def test_closing_the_bus_ends_its_live_subscriptions(adapter: Adapter) -> None:
    async def scenario(bus: Bus) -> None:
        sent = msg("OL-CLOSE", 1)
        await bus.publish([sent])
        got: list[Message] = []

        async def consume() -> None:
            async for delivery in bus.subscribe(group()):
                got.append(delivery.message)
                await delivery.ack()

        consumer = asyncio.create_task(consume())
        for _ in range(int(adapter.deadline * 20)):
            if got:
                break
            await asyncio.sleep(0.05)
        await bus.close()
        await asyncio.wait_for(consumer, adapter.deadline)
        assert got == [sent]

    run(adapter, scenario)


@pytest.mark.parametrize("url", ["nats://127.0.0.1:1", "kafka://127.0.0.1:1"])
def test_an_unreachable_broker_is_reported_in_plain_words(url: str) -> None:
    async def scenario() -> None:
        if url.startswith("nats"):
            from orderloom.bus.nats import NatsBus

            bus: Bus = NatsBus(url=url, connect_timeout=0.5)
        else:
            from orderloom.bus.kafka import KafkaBus

            bus = KafkaBus(bootstrap=url.removeprefix("kafka://"), timeout=0.5)
        with pytest.raises(BusUnavailable, match=r"cannot reach (NATS|Kafka) at .*127\.0\.0\.1:1"):
            await bus.connect()
        await bus.close()

    asyncio.run(scenario())


def test_open_bus_builds_each_adapter_without_connecting() -> None:
    from orderloom.bus.kafka import KafkaBus
    from orderloom.bus.nats import NatsBus

    assert isinstance(open_bus("memory://"), MemoryBus)
    assert isinstance(open_bus("nats://127.0.0.1:4222"), NatsBus)
    assert isinstance(open_bus("kafka://127.0.0.1:9092"), KafkaBus)


@pytest.mark.parametrize("url", ["redis://localhost:6379", "nats://", "kafka://", "localhost:4222"])
def test_an_unknown_bus_url_is_a_config_error_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="ORDERLOOM_BUS_URL"):
        open_bus(url)
