"""Outbound webhooks against a real local receiver: retries, dead letters, order per order, restarts, replays."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from orderloom.api.keys import KeyRing
from orderloom.bootstrap import Services
from orderloom.connectors import signing, webhook_log
from orderloom.connectors.delivery import Backoff
from orderloom.connectors.dispatcher import STATE_VIEW, DispatchConfig, Dispatcher
from orderloom.connectors.subscriptions import Subscriptions
from orderloom.core.clock import ManualClock
from orderloom.core.settings import Settings
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.orders import place_order
from orderloom.status.reading import OrderReader
from orderloom.store import open_store
from orderloom.views.factory import open_view_store
from tests.unit._support import NOW, order_body, raw_event, shipped

# An answer: a status, or (seconds to wait first, status).
Answer = int | tuple[float, int]


@dataclass
class Seen:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with `script(seen)`; 200 by default."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    script: Callable[[Seen], Answer] = lambda _: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [s.json for s in self.seen]


@contextmanager
def receiver() -> Iterator[Receiver]:
    """Start a receiver on a free port; stop it afterwards."""
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
            with box.lock:
                box.seen.append(seen)
            answer = box.script(seen)
            wait, status = answer if isinstance(answer, tuple) else (0.0, answer)
            if wait:
                time.sleep(wait)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the dispatcher gave up waiting, as it should

        def log_message(self, *args: Any) -> None:
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


FAST = DispatchConfig(
    backoff=Backoff(base_s=0.02, cap_s=0.1, max_attempts=4, timeout_s=0.3), poll_s=0.02, save_every_s=0.05
)
TYPES = ["outbound.scanned", "linehaul.departed", "linehaul.arrived"]


def fast_services(url: str) -> Services:
    """Services like build_services makes, on the dictionary loaded once per session (loading takes a second)."""
    store = open_store(url)
    clock = ManualClock(NOW)
    directory = OrderDirectory(store)
    intake = Intake(store, shipped(), clock, directory)
    return Services(
        settings=Settings(db_url=url),
        store=store,
        dictionary=shipped(),
        clock=clock,
        directory=directory,
        intake=intake,
        reader=OrderReader(store, shipped(), directory),
        keys=KeyRing(intake),
        views=open_view_store(url),
    )


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    s = fast_services(f"sqlite:///{tmp_path / 'hooks.db'}")
    yield s
    s.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def place(svc: Services, *oids: str) -> None:
    for oid in oids:
        assert place_order(svc.intake, order_body(oid), source="t", actor=None).created


def record(svc: Services, oid: str, etype: str, minutes: float, eid: str) -> None:
    (result,) = svc.intake.record([raw_event(svc.dictionary, etype, oid=oid, eid=eid, minutes=minutes)])
    assert result.status == "accepted", result.as_dict()


def run(svc: Services, until: Callable[[], bool], timeout: float = 10.0, config: DispatchConfig = FAST) -> None:
    """Run a dispatcher until `until()` holds (or the timeout), then stop it the way the pipeline does."""

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(Dispatcher(svc, config).run(stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until() and loop.time() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(main())


def subscribe(svc: Services, url: str, role: str = "cs") -> tuple[str, str]:
    sub, secret = Subscriptions(svc.intake).create(url, TYPES, role, actor="test")
    return sub.id, secret


def delivered(svc: Services, sid: str) -> list[str]:
    return [
        d["event_id"] for d in webhook_log.deliveries(svc.store, svc.views, sid, 1000) if d["outcome"] == "delivered"
    ]


def event_id(seen: Seen) -> str:
    return str(seen.json["event"]["id"])


def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_signed_attempt(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-W-1")
    sid, secret = subscribe(svc, rx.url)
    record(svc, "OL-W-1", "outbound.scanned", 60, "ev-1")
    answers = iter([500, 500])
    rx.script = lambda _: next(answers, 200)
    run(svc, lambda: delivered(svc, sid) == ["ev-1"])
    assert len(rx.seen) == 3
    last = rx.seen[-1]
    assert last.headers["x-orderloom-attempt"] == "3" and last.headers["x-orderloom-delivery"] == f"{sid}:ev-1"
    expected = signing.signature(secret.encode(), last.headers["x-orderloom-timestamp"], last.body)
    assert last.headers["x-orderloom-signature"] == expected
    assert len({s.headers["x-orderloom-nonce"] for s in rx.seen}) == 3, "every attempt carries a new nonce"
    log = webhook_log.deliveries(svc.store, svc.views, sid)
    assert [d["outcome"] for d in log] == ["delivered", "retrying", "retrying"]
    assert log[1]["status"] == 500 and log[1]["retry_in_s"] > 0


def test_the_event_is_delivered_as_the_subscribed_role_sees_it(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-W-2")
    cs_sid, _ = subscribe(svc, rx.url, role="cs")
    consumer_sid, _ = subscribe(svc, rx.url.replace("/hook", "/consumer"), role="consumer")
    record(svc, "OL-W-2", "outbound.scanned", 60, "ev-2")
    run(svc, lambda: delivered(svc, cs_sid) == ["ev-2"] and delivered(svc, consumer_sid) == ["ev-2"])
    by_path = {s.path: s.json["event"] for s in rx.seen}
    assert "actor" not in by_path["/hook"] and by_path["/hook"]["data"]["node"] == "SH-CW-01"
    assert set(by_path["/consumer"]["data"]) == {"shipment", "waybill"}, "a consumer sees only what it is granted"


def test_a_4xx_is_dead_lettered_at_once_and_the_order_moves_on_then_a_replay_delivers_it(
    svc: Services, rx: Receiver
) -> None:
    place(svc, "OL-W-3")
    sid, _ = subscribe(svc, rx.url)
    record(svc, "OL-W-3", "outbound.scanned", 60, "ev-3a")
    record(svc, "OL-W-3", "linehaul.departed", 90, "ev-3b")
    rx.script = lambda s: 400 if event_id(s) == "ev-3a" else 200
    run(svc, lambda: delivered(svc, sid) == ["ev-3b"])
    assert [event_id(s) for s in rx.seen] == ["ev-3a", "ev-3b"], "a 4xx is never retried"
    (dead,) = webhook_log.dead_letters(svc.store, svc.views, sid)
    assert dead["event_id"] == "ev-3a" and dead["status"] == 400 and dead["attempt"] == 1
    rx.script = lambda _: 200
    chosen = webhook_log.request_replay(Subscriptions(svc.intake), svc.views, sid, None, actor="test")
    assert chosen == ["ev-3a"]
    run(svc, lambda: "ev-3a" in delivered(svc, sid))
    assert webhook_log.dead_letters(svc.store, svc.views, sid) == []
    assert [event_id(s) for s in rx.seen] == ["ev-3a", "ev-3b", "ev-3a"]


def test_an_orders_next_event_waits_for_the_previous_while_other_orders_go_ahead(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-A", "OL-B")
    sid, _ = subscribe(svc, rx.url)
    record(svc, "OL-A", "outbound.scanned", 60, "a1")
    record(svc, "OL-A", "linehaul.departed", 90, "a2")
    record(svc, "OL-B", "outbound.scanned", 60, "b1")
    failures = {"a1": 2}

    def script(s: Seen) -> int:
        left = failures.get(event_id(s), 0)
        if left:
            failures[event_id(s)] = left - 1
            return 503
        return 200

    rx.script = script
    run(svc, lambda: sorted(delivered(svc, sid)) == ["a1", "a2", "b1"])
    order = [event_id(s) for s in rx.seen]
    assert order.index("b1") < 2, "order B is not held up by order A's retries"
    assert order.count("a1") == 3 and order.index("a2") > len(order) - 2, "a2 goes only after a1 succeeded"


def test_a_slow_receiver_times_out_and_is_retried(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-W-4")
    sid, _ = subscribe(svc, rx.url)
    record(svc, "OL-W-4", "outbound.scanned", 60, "ev-4")
    answers = iter([(1.0, 200)])
    rx.script = lambda _: next(answers, 200)
    run(svc, lambda: delivered(svc, sid) == ["ev-4"])
    log = webhook_log.deliveries(svc.store, svc.views, sid)
    assert [d["outcome"] for d in log] == ["delivered", "retrying"]
    assert log[1]["status"] is None and "no answer within 0.3 s" in log[1]["error"]


def test_after_the_last_attempt_a_failing_delivery_becomes_a_dead_letter(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-W-5")
    sid, _ = subscribe(svc, rx.url)
    record(svc, "OL-W-5", "outbound.scanned", 60, "ev-5")
    rx.script = lambda _: 502
    run(svc, lambda: bool(webhook_log.dead_letters(svc.store, svc.views, sid)))
    (dead,) = webhook_log.dead_letters(svc.store, svc.views, sid)
    assert dead["attempt"] == FAST.backoff.max_attempts == len(rx.seen)


def test_an_unreachable_receiver_is_retried_as_a_connection_error(svc: Services) -> None:
    place(svc, "OL-W-6")
    sid, _ = subscribe(svc, "http://127.0.0.1:9/hook")
    record(svc, "OL-W-6", "outbound.scanned", 60, "ev-6")
    run(svc, lambda: bool(webhook_log.dead_letters(svc.store, svc.views, sid)))
    log = webhook_log.deliveries(svc.store, svc.views, sid)
    assert log[-1]["outcome"] == "retrying" and "could not reach the receiver" in log[-1]["error"]


def test_a_restarted_dispatcher_neither_repeats_nor_loses_deliveries(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-R-1", "OL-R-2")
    sid, _ = subscribe(svc, rx.url)
    record(svc, "OL-R-1", "outbound.scanned", 60, "r1")
    run(svc, lambda: delivered(svc, sid) == ["r1"])
    state = svc.views.read(STATE_VIEW, sid)
    assert state is not None and state["checkpoint"] >= svc.store.get("r1").position  # type: ignore[union-attr]
    record(svc, "OL-R-2", "outbound.scanned", 60, "r2")
    run(svc, lambda: sorted(delivered(svc, sid)) == ["r1", "r2"])
    assert [event_id(s) for s in rx.seen] == ["r1", "r2"]


def test_a_paused_subscription_delivers_what_it_missed_once_resumed(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-P-1")
    sid, _ = subscribe(svc, rx.url)
    subs = Subscriptions(svc.intake)
    subs.pause(sid, actor="test")
    record(svc, "OL-P-1", "outbound.scanned", 60, "p1")
    run(svc, lambda: False, timeout=0.3)
    assert rx.seen == []
    subs.resume(sid, actor="test")
    run(svc, lambda: delivered(svc, sid) == ["p1"])
    assert [event_id(s) for s in rx.seen] == ["p1"]


def test_events_recorded_before_the_subscription_and_other_types_are_not_sent(svc: Services, rx: Receiver) -> None:
    place(svc, "OL-X-1")
    record(svc, "OL-X-1", "outbound.scanned", 60, "before")
    sid, _ = subscribe(svc, rx.url)
    record(svc, "OL-X-1", "pack.completed", 61, "other-type")
    record(svc, "OL-X-1", "linehaul.departed", 90, "after")
    run(svc, lambda: delivered(svc, sid) == ["after"])
    assert [event_id(s) for s in rx.seen] == ["after"]
