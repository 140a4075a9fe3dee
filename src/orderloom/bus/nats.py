"""NatsBus: the bus on NATS JetStream (nats-py).

One stream holds subjects `<prefix>.<oid token>`, so each order's events keep
their order and consumers can filter by order. The event id travels as
`Nats-Msg-Id`, so JetStream drops a re-publish inside the duplicate window;
position, type and oid travel as headers, so a consumer rebuilds the message
without parsing the body. Each consumer group is a durable pull consumer with
explicit acks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api

from orderloom.bus.errors import BusUnavailable
from orderloom.bus.port import Bus, Delivery, Message
from orderloom.core.errors import ConfigError

log = logging.getLogger(__name__)

# What the nats client raises when the server is unreachable, slow or says no.
_NATS_ERRORS = (nats.errors.Error, OSError, asyncio.TimeoutError)

HEADER_ID = "Nats-Msg-Id"
HEADER_OID = "Ol-Oid"
HEADER_TYPE = "Ol-Type"
HEADER_POSITION = "Ol-Position"

_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# 409 answers to a pull request that only mean "ask again shortly".
_PULL_AGAIN = {"Exceeded MaxWaiting", "Leadership Change", "Server Shutdown"}


def subject_token(oid: str) -> str:
    """The subject token for an order id: '.' separates NATS tokens, so it becomes '~'."""
    return oid.replace(".", "~")


class NatsDelivery(Delivery):
    """A JetStream message held by one subscription until acked."""

    def __init__(self, message: Message, raw: Msg, pull: _Pull) -> None:
        self.message = message
        self.raw = raw
        self._pull = pull
        self.acked = False

    async def ack(self) -> None:
        if self.acked:
            return
        try:
            # Wait for the server to confirm, so a group re-subscribing right
            # after this call resumes after this message, never before it.
            await self._pull.nc.request(self.raw.reply, b"+ACK", timeout=self._pull.timeout)
        except _NATS_ERRORS as exc:
            raise BusUnavailable(
                f"NATS did not confirm the ack of event {self.message.id} for group {self._pull.group}; "
                f"it will be delivered again: {_describe(exc)}"
            ) from exc
        self.acked = True
        self._pull.held.pop(self.raw.reply, None)


class _Pull:
    """One subscription: its inbox, its open pull request and its unacked deliveries.

    Requests come in two kinds. A burst (`no_wait`) takes what the consumer
    has ready and ends at once; a linger (batch 1, `expires`) waits for the
    next message. Keeping requests short-lived matters at release: a NAK sent
    while a request of ours is still open on the server is redelivered into
    that request, i.e. into an inbox we are about to drop (seen on
    nats-server 2.9), and would only come back after ack_wait.
    """

    def __init__(self, nc: Client, group: str, *, stream: str, batch: int, linger: float, timeout: float) -> None:
        self.nc = nc
        self.group = group
        self.timeout = timeout
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{group}"
        self._batch = batch
        self._linger = linger
        self.inbox = nc.new_inbox()
        self._buffer: asyncio.Queue[Msg | None] = asyncio.Queue()  # None only wakes a waiting reader
        self.held: dict[str, NatsDelivery] = {}  # by reply subject
        self._sub: Subscription | None = None
        self._open: str | None = None  # kind of the pull request open on the server: "burst" or "linger"
        self._owed = 0  # messages the open request may still bring
        self._idle = False  # the last burst found nothing: wait with a linger instead
        # Whoever reads the buffer holds this: the subscriber's next() or release().
        self._reading = asyncio.Lock()
        self.stopping = False
        self.released = False

    async def start(self) -> None:
        async def receive(msg: Msg) -> None:
            self._buffer.put_nowait(msg)

        self._sub = await self.nc.subscribe(self.inbox, cb=receive)

    async def next(self) -> NatsDelivery | None:
        """The next delivery, or None once the subscription is stopping."""
        async with self._reading:
            while not self.stopping:
                if self._open is None:
                    await self._request()
                wait = self.timeout + (self._linger if self._open == "linger" else 0)
                try:
                    msg = await asyncio.wait_for(self._buffer.get(), wait)
                except TimeoutError:
                    self._open = None  # the request or its end notice was lost; ask again
                    continue
                if msg is None or self._settle(msg):
                    continue
                message = _message(msg)
                if message is None:
                    # Someone published on our subjects without our headers:
                    # terminate it so it cannot block the group, and say so.
                    log.warning("NATS: dropped a message on %s without Orderloom headers", msg.subject)
                    await self.nc.publish(msg.reply, b"+TERM")
                    continue
                delivery = NatsDelivery(message, msg, self)
                self.held[msg.reply] = delivery
                return delivery
            return None

    async def _request(self) -> None:
        if self._idle:
            request: dict[str, Any] = {"batch": 1, "expires": int(self._linger * 1e9)}
            self._open, self._owed = "linger", 1
        else:
            request = {"batch": self._batch, "no_wait": True}
            self._open, self._owed = "burst", self._batch
        await self.nc.publish(self._next_subject, json.dumps(request).encode(), reply=self.inbox)

    def _settle(self, msg: Msg) -> bool:
        """Account for what arrived on the open request; True if it was a status, not a message."""
        status = _status(msg)
        if not status:
            self._owed -= 1
            self._idle = False
            if self._owed <= 0:
                self._open = None
            return False
        if status == "100":
            return True  # idle heartbeat
        description = (msg.headers or {}).get("Description", "")
        if status in ("404", "408") or (status == "409" and description in _PULL_AGAIN):
            # 404: a burst found nothing; 408: the request ended (burst done or linger expired).
            self._idle = status == "404" or self._open == "linger"
            self._open = None
            return True
        raise BusUnavailable(f"NATS stopped consumer group {self.group}: {status} {description}")

    async def release(self) -> None:
        """Stop receiving and hand every unacked message back to the group, in stream order."""
        self.stopping = True
        self._buffer.put_nowait(None)
        async with self._reading:
            if self.released:
                return
            self.released = True
            try:
                if self._sub is not None and not self.nc.is_closed:
                    await self._hand_back()
            except _NATS_ERRORS as exc:
                log.warning(
                    "NATS: could not hand back unacked messages of group %s; they return after ack_wait: %s",
                    self.group,
                    _describe(exc),
                )
            finally:
                self.held.clear()

    async def _hand_back(self) -> None:
        assert self._sub is not None
        unacked = {d.raw.metadata.sequence.stream: d.raw for d in self.held.values() if not d.acked}
        if self._open == "linger" and unacked:
            # Close our open linger by feeding it: the first NAK comes straight back into it.
            first = min(unacked)
            await self.nc.request(unacked[first].reply, b"-NAK", timeout=self.timeout)
        deadline = asyncio.get_running_loop().time() + self.timeout
        while self._open is not None and (self._open == "burst" or unacked):
            left = deadline - asyncio.get_running_loop().time()
            try:
                msg = await asyncio.wait_for(self._buffer.get(), max(left, 0))
            except TimeoutError:
                break
            if msg is not None and not self._settle(msg):
                unacked[msg.metadata.sequence.stream] = msg  # the newest delivery's reply counts
        # drain = unsubscribe + a round trip + wait for the callback, so whatever
        # the server sent before the unsubscribe is in the buffer now.
        await self._sub.drain()  # type: ignore[no-untyped-call]  # nats-py leaves drain() unannotated
        while not self._buffer.empty():
            msg = self._buffer.get_nowait()
            if msg is not None and not _status(msg):
                unacked[msg.metadata.sequence.stream] = msg
        # A NAK makes JetStream redeliver now instead of after ack_wait; sent
        # in stream order on one connection, so the next pull gets them in order.
        await asyncio.gather(
            *(self.nc.request(unacked[seq].reply, b"-NAK", timeout=self.timeout) for seq in sorted(unacked))
        )


class NatsBus(Bus):
    """Bus on NATS JetStream: one stream, subjects keyed by order id, durable pull consumers."""

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        stream: str = "ORDERLOOM",
        subject_prefix: str = "orderloom.events",
        *,
        duplicate_window: float = 120.0,
        ack_wait: float = 30.0,
        max_ack_pending: int = 20_000,
        batch: int = 256,
        linger: float = 5.0,
        timeout: float = 5.0,
        connect_timeout: float = 5.0,
        replicas: int = 1,
    ) -> None:
        self._url = url
        self._stream = stream
        self._prefix = subject_prefix
        self._duplicate_window = duplicate_window
        self._ack_wait = ack_wait
        self._max_ack_pending = max_ack_pending
        self._batch = batch
        self._linger = linger
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._replicas = replicas
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._pulls: set[_Pull] = set()
        self._last_error: BaseException | None = None

    async def connect(self) -> None:
        if self._nc is not None and self._nc.is_connected:
            return
        nc = Client()
        self._last_error = None
        try:
            # The client retries forever once connected (a running service should
            # ride out a broker restart); the first connect gets a deadline instead.
            await asyncio.wait_for(
                nc.connect(
                    self._url,
                    error_cb=self._on_error,
                    connect_timeout=max(1, round(self._connect_timeout)),
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    name="orderloom",
                ),
                self._connect_timeout,
            )
        except BaseException as exc:
            await nc.close()  # also when cancelled: the client may have started its tasks
            if not isinstance(exc, (*_NATS_ERRORS, ValueError)):
                raise
            cause = self._last_error or exc
            raise BusUnavailable(
                f"cannot reach NATS at {self._url} (ORDERLOOM_BUS_URL) within {self._connect_timeout:g} s: "
                f"{_describe(cause)}; check that nats-server is running with JetStream enabled (-js)"
            ) from exc
        self._nc = nc
        self._js = nc.jetstream(timeout=self._timeout)
        try:
            await self._ensure_stream(self._js)
        except BaseException:
            await nc.close()
            self._nc = self._js = None
            raise

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        subject = f"{self._prefix}.>"
        try:
            try:
                info = await js.stream_info(self._stream)
            except nats.js.errors.NotFoundError:
                await js.add_stream(
                    api.StreamConfig(
                        name=self._stream,
                        subjects=[subject],
                        storage=api.StorageType.FILE,
                        retention=api.RetentionPolicy.LIMITS,
                        duplicate_window=self._duplicate_window,
                        num_replicas=self._replicas,
                    )
                )
                return
            # Keep whatever an operator tuned (limits, replicas); only make sure
            # our subjects and dedupe window are there.
            config = info.config
            subjects = list(config.subjects or [])
            if subject in subjects and config.duplicate_window >= self._duplicate_window:
                return
            if subject not in subjects:
                subjects.append(subject)
            config.subjects = subjects
            config.duplicate_window = max(config.duplicate_window, self._duplicate_window)
            await js.update_stream(config)
        except nats.js.errors.APIError as exc:
            raise BusUnavailable(
                f"NATS refused to create or update stream {self._stream} for subjects {subject}: {_describe(exc)}"
            ) from exc
        except _NATS_ERRORS as exc:
            raise BusUnavailable(
                f"NATS at {self._url} did not answer while setting up stream {self._stream}: {_describe(exc)}"
            ) from exc

    async def publish(self, messages: Sequence[Message]) -> None:
        js = self._require()[1]
        if not messages:
            return
        # Pipelined: one connection keeps the send order, so the stream stores
        # them in this order; the call returns once every PubAck is in.
        futures: list[asyncio.Future[Any]] = []
        try:
            for m in messages:
                headers = {HEADER_ID: m.id, HEADER_OID: m.oid, HEADER_TYPE: m.type, HEADER_POSITION: str(m.position)}
                subject = f"{self._prefix}.{subject_token(m.oid)}"
                futures.append(await js.publish_async(subject, m.body, headers=headers, stream=self._stream))
            results = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), self._timeout + len(messages) / 1000
            )
        except _NATS_ERRORS as exc:
            for f in futures:
                if f.done() and not f.cancelled():
                    f.exception()  # retrieved, so asyncio does not log it as forgotten
                f.cancel()
            raise BusUnavailable(
                f"NATS did not acknowledge {len(messages)} published events in time; publish them again "
                f"(duplicates are dropped by event id): {_describe(exc)}"
            ) from exc
        failed = [(m, r) for m, r in zip(messages, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            first, refusal = failed[0]
            raise BusUnavailable(
                f"NATS refused {len(failed)} of {len(messages)} events (first: event {first.id} of order "
                f"{first.oid}); publish them again: {_describe(refusal)}"
            ) from refusal

    async def subscribe(self, group: str) -> AsyncGenerator[Delivery, None]:
        if not _GROUP.match(group):
            raise ConfigError(
                f"consumer group {group!r} is not a valid NATS durable name: use 1-64 letters, digits, - or _"
            )
        nc, js = self._require()
        await self._ensure_consumer(js, group)
        pull = _Pull(nc, group, stream=self._stream, batch=self._batch, linger=self._linger, timeout=self._timeout)
        self._pulls.add(pull)
        try:
            await pull.start()
            while (delivery := await pull.next()) is not None:
                yield delivery
        except _NATS_ERRORS as exc:
            if pull.stopping:
                return
            raise BusUnavailable(f"lost the NATS subscription of group {group}: {_describe(exc)}") from exc
        finally:
            self._pulls.discard(pull)
            await pull.release()

    async def _ensure_consumer(self, js: JetStreamContext, group: str) -> None:
        try:
            try:
                await js.consumer_info(self._stream, group)
            except nats.js.errors.NotFoundError:
                await js.add_consumer(
                    self._stream,
                    api.ConsumerConfig(
                        durable_name=group,
                        deliver_policy=api.DeliverPolicy.ALL,
                        ack_policy=api.AckPolicy.EXPLICIT,
                        ack_wait=self._ack_wait,
                        max_deliver=-1,
                        max_ack_pending=self._max_ack_pending,
                        filter_subject=f"{self._prefix}.>",
                    ),
                )
        except _NATS_ERRORS as exc:
            raise BusUnavailable(
                f"cannot create consumer group {group} on NATS stream {self._stream}: {_describe(exc)}"
            ) from exc

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        # Hand unacked messages back before the connection goes, so other
        # subscribers get them now rather than after ack_wait.
        pulls, self._pulls = list(self._pulls), set()
        for pull in pulls:
            await pull.release()
        if nc is not None and not nc.is_closed:
            try:
                await nc.flush(timeout=max(1, round(self._timeout)))
            except _NATS_ERRORS as exc:
                log.warning("NATS: could not flush before closing: %s", _describe(exc))
            await nc.close()

    async def delete_stream(self) -> None:
        """Delete this bus's stream and everything in it (tests and teardown only)."""
        js = self._require()[1]
        try:
            await js.delete_stream(self._stream)
        except nats.js.errors.NotFoundError:
            pass
        except _NATS_ERRORS as exc:
            raise BusUnavailable(f"cannot delete NATS stream {self._stream}: {_describe(exc)}") from exc

    def _require(self) -> tuple[Client, JetStreamContext]:
        if self._nc is None or self._js is None or self._nc.is_closed:
            raise BusUnavailable("the NATS bus is not connected; call connect() first")
        return self._nc, self._js

    async def _on_error(self, exc: Exception) -> None:
        # The client reports each failed (re)connect here; keep the last one for
        # the error message instead of letting it log a traceback per attempt.
        self._last_error = exc
        log.debug("NATS client error: %s", _describe(exc))


def _status(msg: Msg) -> str | None:
    return (msg.headers or {}).get("Status")


def _message(msg: Msg) -> Message | None:
    headers = msg.headers or {}
    try:
        return Message(
            id=headers[HEADER_ID],
            oid=headers[HEADER_OID],
            type=headers[HEADER_TYPE],
            position=int(headers[HEADER_POSITION]),
            body=msg.data,
        )
    except (KeyError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, nats.js.errors.APIError) and exc.description:
        return f"{exc.description} (JetStream error {exc.err_code})"
    text = str(exc).strip()
    return text or type(exc).__name__
