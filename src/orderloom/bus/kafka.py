"""KafkaBus: the bus on Apache Kafka (confluent-kafka / librdkafka).

One topic, keyed by order id, so each order's events land in one partition
and keep their order. The producer is idempotent (acks=all): librdkafka's
retries never duplicate or reorder within a producer session. Kafka does not
drop a re-send of the same event id, so consumers drop duplicates by event id
or position. Each consumer group commits, per partition, the offset after the
longest run of acked messages, so nothing unacked is ever skipped.

confluent-kafka is blocking: every client call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import Message as KafkaMessage
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # what confluent_kafka.admin re-exports, typed

from orderloom.bus.errors import BusUnavailable
from orderloom.bus.port import Bus, Delivery, Message

log = logging.getLogger(__name__)

HEADER_ID = "Ol-Id"
HEADER_OID = "Ol-Oid"
HEADER_TYPE = "Ol-Type"
HEADER_POSITION = "Ol-Position"

T = TypeVar("T")


class _Partition:
    """Offsets handed out from one partition and not yet committed."""

    def __init__(self) -> None:
        self.pending: deque[int] = deque()  # delivered offsets, in order
        self.acked: set[int] = set()
        self.owned = True  # False once the partition is revoked in a rebalance


class _Offsets:
    """Which offset a group may commit: only past a run of acked messages.

    Committing offset N tells Kafka that everything before N is done, so an
    ack of a later message must wait for the earlier ones. Touched only from
    the subscription's single worker thread (poll, rebalance callbacks and
    commits all run there).
    """

    def __init__(self) -> None:
        self.partitions: dict[int, _Partition] = {}

    def assigned(self, _consumer: Consumer, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.partitions[tp.partition] = _Partition()

    def revoked(self, _consumer: Consumer, tps: list[TopicPartition]) -> None:
        # The new owner restarts from the last commit, so our unacked
        # messages reach it again; acks for them here become no-ops.
        for tp in tps:
            part = self.partitions.pop(tp.partition, None)
            if part is not None:
                part.owned = False

    def delivered(self, partition: int, offset: int) -> _Partition:
        part = self.partitions.setdefault(partition, _Partition())
        part.pending.append(offset)
        return part

    @staticmethod
    def ack(part: _Partition, offset: int) -> int | None:
        """Mark an offset acked; return the offset to commit, if the run advanced."""
        if not part.owned:
            return None
        part.acked.add(offset)
        commit = None
        while part.pending and part.pending[0] in part.acked:
            done = part.pending.popleft()
            part.acked.discard(done)
            commit = done + 1
        return commit


class _Subscription:
    """One group member: its consumer, its worker thread and its offsets."""

    def __init__(self, consumer: Consumer, topic: str, group: str) -> None:
        self.consumer = consumer
        self.topic = topic
        self.group = group
        self.offsets = _Offsets()
        # One thread per consumer: librdkafka consumers must not be polled,
        # committed and closed from several threads at once.
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"orderloom-kafka-{group}")

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.worker, call)

    def commit_ack(self, part: _Partition, partition: int, offset: int) -> None:
        commit = self.offsets.ack(part, offset)
        if commit is not None:
            self.consumer.commit(offsets=[TopicPartition(self.topic, partition, commit)], asynchronous=False)


class KafkaDelivery(Delivery):
    """A Kafka record held by one group member until acked."""

    def __init__(self, message: Message, sub: _Subscription, part: _Partition, partition: int, offset: int) -> None:
        self.message = message
        self._sub = sub
        self._part = part
        self._partition = partition
        self._offset = offset
        self._acked = False

    async def ack(self) -> None:
        if self._acked:
            return
        try:
            await self._sub.run(lambda: self._sub.commit_ack(self._part, self._partition, self._offset))
        except KafkaException as exc:
            raise BusUnavailable(
                f"Kafka did not accept the ack of event {self.message.id} for group {self._sub.group}; "
                f"it will be delivered again: {_describe(exc)}"
            ) from exc
        self._acked = True


class KafkaBus(Bus):
    """Bus on Kafka: one topic keyed by order id, idempotent producer, committed consumer groups."""

    def __init__(
        self,
        bootstrap: str = "127.0.0.1:9092",
        topic: str = "orderloom.events",
        *,
        partitions: int = 12,
        replication: int = -1,
        timeout: float = 10.0,
        poll_interval: float = 0.2,
        config: dict[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._partitions = partitions
        self._replication = replication  # -1: the broker's default.replication.factor
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._extra = dict(config or {})
        self._producer: Producer | None = None
        self._open = False
        # One publish at a time: two batches produced from two threads could interleave.
        self._publishing = asyncio.Lock()

    def _config(self, **more: Any) -> dict[str, Any]:
        # librdkafka writes its own log lines to stderr unless given a logger.
        return {"bootstrap.servers": self._bootstrap, "error_cb": _log_error, "logger": log, **self._extra, **more}

    async def connect(self) -> None:
        if self._open:
            return
        try:
            await asyncio.to_thread(self._ensure_topic)
        except (KafkaException, TimeoutError) as exc:
            raise BusUnavailable(
                f"cannot reach Kafka at {self._bootstrap} (ORDERLOOM_BUS_URL) or create topic {self._topic}: "
                f"{_describe(exc)}"
            ) from exc
        self._producer = self._new_producer()
        self._publishing = asyncio.Lock()
        self._open = True

    def _new_producer(self) -> Producer:
        return Producer(self._config(**{"enable.idempotence": True, "acks": "all", "linger.ms": 5}))

    def _ensure_topic(self) -> None:
        admin = AdminClient(self._config())
        admin.list_topics(timeout=self._timeout)  # raises if no broker answers
        topic = NewTopic(self._topic, num_partitions=self._partitions, replication_factor=self._replication)
        future = admin.create_topics([topic], operation_timeout=self._timeout)[self._topic]
        try:
            future.result(timeout=self._timeout)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not (isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise

    async def publish(self, messages: Sequence[Message]) -> None:
        if not self._open:
            raise BusUnavailable("the Kafka bus is not connected; call connect() first")
        if not messages:
            return
        async with self._publishing:
            if self._producer is None:
                # The last producer hit a fatal error (its idempotence state is gone); start afresh.
                self._producer = self._new_producer()
            await asyncio.to_thread(self._produce_all, self._producer, list(messages))

    def _produce_all(self, producer: Producer, messages: list[Message]) -> None:
        failures: list[tuple[Message, KafkaError]] = []

        def report_for(m: Message) -> Callable[[KafkaError | None, KafkaMessage], None]:
            def report(err: KafkaError | None, _record: KafkaMessage) -> None:
                if err is not None:
                    failures.append((m, err))

            return report

        try:
            for m in messages:
                headers: list[tuple[str, str | bytes | None]] = [
                    (HEADER_ID, m.id.encode()),
                    (HEADER_OID, m.oid.encode()),
                    (HEADER_TYPE, m.type.encode()),
                    (HEADER_POSITION, str(m.position).encode()),
                ]
                while True:
                    try:
                        producer.produce(
                            self._topic, value=m.body, key=m.oid.encode(), headers=headers, on_delivery=report_for(m)
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)  # local queue full: serve delivery reports to make room
            left = producer.flush(self._timeout)
        except KafkaException as exc:
            self._drop_if_fatal(exc.args[0] if exc.args else None)
            raise BusUnavailable(f"Kafka at {self._bootstrap} refused the events: {_describe(exc)}") from exc
        if left:
            raise BusUnavailable(
                f"Kafka at {self._bootstrap} did not acknowledge {left} of {len(messages)} events within "
                f"{self._timeout:g} s; publish them again (consumers drop duplicates)"
            )
        if failures:
            first, err = failures[0]
            for _, e in failures:
                self._drop_if_fatal(e)
            raise BusUnavailable(
                f"Kafka refused {len(failures)} of {len(messages)} events (first: event {first.id} of order "
                f"{first.oid}): {err.str()}; publish them again"
            )

    def _drop_if_fatal(self, err: object) -> None:
        if isinstance(err, KafkaError) and err.fatal():
            self._producer = None

    async def subscribe(self, group: str) -> AsyncGenerator[Delivery, None]:
        if not self._open:
            raise BusUnavailable("the Kafka bus is not connected; call connect() first")
        consumer = Consumer(
            self._config(
                **{
                    "group.id": group,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "enable.partition.eof": False,
                }
            )
        )
        sub = _Subscription(consumer, self._topic, group)
        try:
            consumer.subscribe(
                [self._topic],
                on_assign=sub.offsets.assigned,
                on_revoke=sub.offsets.revoked,
                on_lost=sub.offsets.revoked,
            )
            while self._open:
                found = await sub.run(lambda: self._next(sub))
                if found is not None:
                    yield found
        except KafkaException as exc:
            raise BusUnavailable(f"lost the Kafka consumer of group {group}: {_describe(exc)}") from exc
        finally:
            # Leaving the group hands our partitions to the other members, who
            # restart from the last commit: whatever we did not ack comes again.
            try:
                await sub.run(consumer.close)
            except KafkaException as exc:
                log.warning("Kafka: could not close the consumer of group %s cleanly: %s", group, _describe(exc))
            finally:
                sub.worker.shutdown(wait=False)

    def _next(self, sub: _Subscription) -> KafkaDelivery | None:
        """Poll once (in the worker thread); None when nothing usable arrived."""
        record = sub.consumer.poll(self._poll_interval)
        if record is None:
            return None
        err = record.error()
        if err is not None:
            if err.fatal():
                raise KafkaException(err)
            log.debug("Kafka consumer of group %s: %s", sub.group, err.str())
            return None
        partition, offset = record.partition(), record.offset()
        if partition is None or offset is None:
            return None
        part = sub.offsets.delivered(partition, offset)
        message = _message(record)
        if message is None:
            # Not ours (no Orderloom headers): skip it so it cannot block the group.
            log.warning("Kafka: skipped a record without Orderloom headers on %s[%d]", sub.topic, partition)
            sub.commit_ack(part, partition, offset)
            return None
        return KafkaDelivery(message, sub, part, partition, offset)

    async def close(self) -> None:
        # Live subscriptions notice at their next poll and leave their group.
        self._open = False
        async with self._publishing:
            producer, self._producer = self._producer, None
        if producer is not None:

            def finish(p: Producer) -> int:
                left = p.flush(self._timeout)
                if left:
                    # Unacknowledged events were never confirmed to the caller, who
                    # publishes them again; dropping them keeps close() from waiting
                    # out librdkafka's message timeout (5 minutes by default).
                    p.purge()
                    p.flush(0)
                p.close()
                return left

            left = await asyncio.to_thread(finish, producer)
            if left:
                log.warning("Kafka: %d published events were still unacknowledged at close", left)

    async def delete_topic(self) -> None:
        """Delete this bus's topic and everything in it (tests and teardown only)."""

        def delete() -> None:
            admin = AdminClient(self._config())
            future = admin.delete_topics([self._topic], operation_timeout=self._timeout)[self._topic]
            try:
                future.result(self._timeout)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if not (isinstance(err, KafkaError) and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
                    raise

        try:
            await asyncio.to_thread(delete)
        except (KafkaException, TimeoutError) as exc:
            raise BusUnavailable(f"cannot delete Kafka topic {self._topic}: {_describe(exc)}") from exc


def _message(record: KafkaMessage) -> Message | None:
    raw = record.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = {k: v for k, v in pairs if isinstance(v, bytes)}
    try:
        return Message(
            id=headers[HEADER_ID].decode(),
            oid=headers[HEADER_OID].decode(),
            type=headers[HEADER_TYPE].decode(),
            position=int(headers[HEADER_POSITION]),
            body=record.value() or b"",
        )
    except (KeyError, ValueError):
        return None


def _log_error(err: KafkaError) -> None:
    # librdkafka reports broker trouble here and keeps retrying on its own;
    # calls that cannot finish raise, so this only needs to be visible.
    log.warning("Kafka: %s", err.str())


def _describe(exc: Exception) -> str:
    err = exc.args[0] if exc.args else None
    if isinstance(err, KafkaError):
        return err.str()
    return str(exc) or type(exc).__name__
