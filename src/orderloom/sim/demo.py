"""A small, realistic demo data set for `make run`, built from the dictionary's own examples.

Every event goes through intake like any other, so the demo is also a check
that the shipped dictionary's examples tell a coherent story.
"""

from __future__ import annotations

import random
from copy import deepcopy
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time
from orderloom.playbook.install import install_default_playbooks
from orderloom.policy.log import PolicyLog
from orderloom.policy.model import PolicyVersion
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.router import PROFILE, Router
from orderloom.routing.scoring import Weights
from orderloom.routing.signal_book import SignalBook
from orderloom.routing.signals import load_registry

SEED_CHAIN = [
    "payment.captured",
    "wms.released",
    "pick.completed",
    "pack.completed",
    "outbound.scanned",
    "linehaul.departed",
    "linehaul.in_transit",
    "linehaul.arrived",
    "forward_wh.received",
    "forward_wh.check_passed",
    "lastmile.dispatched",
    "leader.received",
    "leader.signed",
    "customer.picked_up",
]
FIRST = "OL-DEMO-0001"
ROUTED_CITIES = [
    ("上海市", 31.2304, 121.4737),
    ("杭州市", 30.2741, 120.1551),
    ("成都市", 30.5728, 104.0668),
    ("广州市", 23.1291, 113.2644),
    ("北京市", 39.9042, 116.4074),
    ("武汉市", 30.5928, 114.3055),
    ("南京市", 32.0603, 118.7969),
    ("西安市", 34.3416, 108.9398),
]


def _event(svc: Services, oid: str, n: int, etype: str, at: datetime, **data: Any) -> dict[str, Any]:
    example = deepcopy(dict(svc.dictionary.types[etype].example))
    payload = example.pop("data", {})
    payload.pop("shipment", None)
    payload.update(data)
    if payload.get("shipment") is None:
        payload.pop("shipment", None)
    return {
        "id": f"{oid}-{n:03d}",
        "type": etype,
        "source": "demo",
        "oid": oid,
        "time": format_time(at),
        **example,
        "data": payload,
    }


def _order(svc: Services, oid: str, customer: str, at: datetime, **over: Any) -> dict[str, Any]:
    ev = _event(svc, oid, 0, "order.placed", at)
    ev["data"]["customer"] = {**ev["data"]["customer"], "id": customer}
    ev["actor"] = f"customer:{customer}"
    ev["data"].update(over)
    ev["data"]["source_refs"] = [{"system": "erp", "number": oid.replace("OL-DEMO", "SO")}]
    return ev


def _chain(
    svc: Services,
    oid: str,
    start: datetime,
    steps: list[str],
    gap: timedelta,
    *,
    shipment: str | None = None,
    first_n: int = 1,
) -> list[dict[str, Any]]:
    return [_event(svc, oid, first_n + i, t, start + gap * (i + 1), shipment=shipment) for i, t in enumerate(steps)]


def build_demo(svc: Services, now: datetime) -> list[dict[str, Any]]:
    """The demo events, with times relative to `now` so stalls look current."""
    rng = random.Random(7)
    events: list[dict[str, Any]] = []
    # 1. The seed's chain, start to finish: delivered to the customer via a community leader.
    t0 = now - timedelta(days=2)
    events += [_order(svc, FIRST, "C-DEMO-001", t0), *_chain(svc, FIRST, t0, SEED_CHAIN, timedelta(hours=2))]
    # 2. A split order: one parcel picked up, the other still on the road, so not "delivered".
    oid = "OL-DEMO-0002"
    t0 = now - timedelta(days=1, hours=6)
    split = _event(svc, oid, 1, "order.split", t0 + timedelta(minutes=5))
    split["data"]["shipments"][0]["shipment"] = "S1"
    split["data"]["shipments"][1]["shipment"] = "S2"
    events += [_order(svc, oid, "C-DEMO-001", t0), split]
    events += _chain(svc, oid, t0, SEED_CHAIN[1:], timedelta(hours=1, minutes=30), shipment="S1", first_n=10)
    events += _chain(svc, oid, t0, SEED_CHAIN[1:7], timedelta(hours=2), shipment="S2", first_n=40)
    # 3. A line-haul stall: last position report six hours ago.
    oid = "OL-DEMO-0003"
    t0 = now - timedelta(hours=14)
    events += [
        _order(svc, oid, "C-DEMO-002", t0),
        *_chain(svc, oid, t0, SEED_CHAIN[:7], timedelta(hours=1, minutes=10)),
    ]
    # 4. Cold chain with a temperature excursion on the road.
    oid = "OL-DEMO-0004"
    t0 = now - timedelta(hours=9)
    events += [_order(svc, oid, "C-DEMO-003", t0), *_chain(svc, oid, t0, SEED_CHAIN[:6], timedelta(hours=1))]
    for k, temp in enumerate([3.8, 4.6, 7.9]):
        events.append(
            _event(
                svc,
                oid,
                20 + k,
                "coldchain.temperature_recorded",
                t0 + timedelta(hours=6, minutes=20 * k),
                temperature_c=temp,
            )
        )
    # 5. Signed by the leader with no forward-warehouse check on record (a missing step).
    oid = "OL-DEMO-0005"
    t0 = now - timedelta(days=1)
    steps = [s for s in SEED_CHAIN[:13] if s != "forward_wh.check_passed"]
    events += [_order(svc, oid, "C-DEMO-004", t0), *_chain(svc, oid, t0, steps, timedelta(hours=1))]
    # 6. Delivered, then returned and refunded.
    oid = "OL-DEMO-0006"
    t0 = now - timedelta(days=5)
    after = ["return.requested", "return.collected", "return.received", "refund.issued"]
    events += [_order(svc, oid, "C-DEMO-005", t0), *_chain(svc, oid, t0, SEED_CHAIN + after, timedelta(hours=3))]
    # 7. Cancelled right after payment.
    oid = "OL-DEMO-0007"
    t0 = now - timedelta(hours=30)
    events += [
        _order(svc, oid, "C-DEMO-006", t0),
        *_chain(svc, oid, t0, ["payment.captured", "order.cancelled"], timedelta(minutes=20)),
    ]
    # 8-30. Ordinary orders at every stage of the seed chain.
    for k in range(8, 31):
        oid = f"OL-DEMO-{k:04d}"
        t0 = now - timedelta(hours=rng.uniform(4, 60))
        depth = rng.randint(1, len(SEED_CHAIN))
        gap = timedelta(minutes=rng.randint(30, 150))
        steps = [s for s in SEED_CHAIN[:depth] if t0 + gap * (SEED_CHAIN.index(s) + 1) < now]
        events += [_order(svc, oid, f"C-DEMO-{k:03d}", t0), *_chain(svc, oid, t0, steps, gap)]
    # 31-38. Paid minutes ago across the country, waiting for the router (load_demo routes them).
    for k, (city, lat, lng) in enumerate(ROUTED_CITIES, start=31):
        oid = f"OL-DEMO-{k:04d}"
        t0 = now - timedelta(minutes=20 + 5 * k)
        dest = {"region": city, "city": city, "address": f"演示路 {k} 号", "lat": lat, "lng": lng}
        window = {"start": format_time(t0), "end": format_time(now + timedelta(hours=30))}
        events += [
            _order(svc, oid, f"C-DEMO-{k:03d}", t0, destination=dest, window=window),
            _event(svc, oid, 1, "payment.captured", t0 + timedelta(minutes=2)),
        ]
    return events


def load_demo(svc: Services) -> int:
    """Load the demo once per store; returns how many orders were created now."""
    if svc.directory.find(FIRST) is not None:
        return 0
    # Playbooks act only on triggers logged after they are published, so they come first.
    install_default_playbooks(svc)
    events = build_demo(svc, svc.clock.now())
    results = svc.intake.record(events)
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        first = rejected[0]
        raise RuntimeError(f"demo event {first.id} was rejected: {first.problems}")
    # A published routing profile (the built-in weights as version 1), so the console has a policy to edit.
    policies = PolicyLog(svc.intake)
    weights = {f.name: getattr(Weights(), f.name) for f in fields(Weights)}
    schema = {"type": "object", "properties": {}}
    profile = PolicyVersion(PROFILE, 0, "routing_profile", {"weights": weights}, schema, note="built-in weights")
    saved = policies.save(profile, actor="system:demo")
    policies.publish(PROFILE, saved.version, actor="system:demo", reason="demo")
    # The live router places the freshly paid orders, so the console has decisions to explain.
    network = load_network(CHINA_YAML)
    router = Router(network, SignalBook(svc.intake, load_registry(), network))
    for k in range(31, 31 + len(ROUTED_CITIES)):
        router.route(svc, f"OL-DEMO-{k:04d}", "system:demo-router")
    # History for the console's intelligence and value-stream pages (imported here: it builds on this module).
    from orderloom.sim.demo_valuestream import load_value_stream

    more = load_value_stream(svc, svc.clock.now())
    return sum(1 for e in events if e["type"] == "order.placed") + more
