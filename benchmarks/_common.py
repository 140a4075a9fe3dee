"""Shared helpers for the benchmarks: realistic raw CloudEvents, timing, the JSON line.

The events follow the shipped dictionary: each is built from its type's
`example` (actor, deviceid, proof and data) with unique ids, order ids,
shipment ids and times, and a data payload of about 200 bytes.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orderloom.core.envelope import Event, format_time
from orderloom.core.ids import new_event_id, new_oid
from orderloom.dictionary.model import Dictionary

PLACED = "order.placed"
# Nine non-personal types, in the order a central-warehouse -> forward-warehouse
# fulfilment produces them.
FOLLOW_UPS = (
    "pick.completed",
    "pack.completed",
    "outbound.scanned",
    "linehaul.departed",
    "linehaul.in_transit",
    "linehaul.arrived",
    "forward_wh.received",
    "forward_wh.check_passed",
    "lastmile.dispatched",
)
SOURCE = "bench"


def _placed_data(n: int, customer: str, start: datetime) -> dict[str, Any]:
    """A small order.placed payload (~200 bytes before sealing); three fields are personal."""
    return {
        "lines": [{"sku": f"YOG-{n % 977:03d}", "qty": 1 + n % 4, "unit_price": 12.9}],
        "currency": "CNY",
        "total": round(12.9 * (1 + n % 4), 2),
        "customer": {"id": customer, "tier": "gold"},
        "channel": "douyin",
        "destination": {"region": "江苏省", "city": "南京市", "address": f"中山北路 {n % 900 + 1} 号 3 栋"},
        "recipient": {"name": "王晓明", "phone": f"138{n % 100_000_000:08d}"},
        "window": {"start": format_time(start + timedelta(hours=2)), "end": format_time(start + timedelta(hours=14))},
    }


def _follow_up_data(etype: str, n: int, oid: str, template: dict[str, Any]) -> dict[str, Any]:
    """The example's data with unique identifiers, topped up to about 200 bytes."""
    data = deepcopy(template)
    shipment = f"{oid}-S1"
    trip = f"LH-SH-NJ-20260123-{n % 97:02d}-{n:08d}"
    if "shipment" in data:
        data["shipment"] = shipment
    if "trip" in data:
        data["trip"] = trip
    if etype == "pick.completed":
        data["lines"] = [
            {"sku": f"YOG-{n % 977:03d}", "qty": 1 + n % 4, "bin": f"A-{n % 40:02d}-03-2"},
            {"sku": "HP-PRO-X", "qty": 1, "bin": "C-07-11-1"},
        ]
    elif etype == "pack.completed":
        data.update(packages=1 + n % 3, weight_kg=round(0.4 + (n % 50) / 10, 2), insulated=True, ice_packs=2)
        data["node"] = "SH-CW-01-PACK-ZONE-B-STATION-07"
    elif etype == "outbound.scanned":
        data["waybill"] = f"JDVB2026012300{n:08d}"
        data["node"] = "SH-CW-01-OUTBOUND-DOCK-4"
    elif etype == "linehaul.in_transit":
        data["location"] = f"沪宁高速K{n % 300}+500"
    elif etype in ("linehaul.arrived", "forward_wh.received"):
        data["node"] = "NJ-FW-02-INBOUND-DOCK-1"
        data["city"] = "南京市"
    elif etype == "forward_wh.check_passed":
        data["temperature_c"] = 3.5
        data["checks"] = ["count", "seal", "label", "damage", "temperature"]
    elif etype == "lastmile.dispatched":
        data["courier_id"] = f"NJ-GL-{n % 1000:04d}"
    return data


def order_raws(
    dictionary: Dictionary, n: int, start: datetime, events: int = 10, customer: str | None = None
) -> list[dict[str, Any]]:
    """Raw CloudEvent dicts for order number `n`: order.placed, then `events - 1` fulfilment events.

    The customer defaults to one of its own per order (`C-<n>`).
    """
    oid = new_oid()
    customer = customer or f"C-{n:08d}"
    placed = deepcopy(dict(dictionary.types[PLACED].example))
    placed.update(
        id=new_event_id(),
        type=PLACED,
        source=SOURCE,
        oid=oid,
        time=format_time(start),
        actor=f"customer:{customer}",
        data=_placed_data(n, customer, start),
    )
    out = [placed]
    for k in range(1, events):
        etype = FOLLOW_UPS[(k - 1) % len(FOLLOW_UPS)]
        example = deepcopy(dict(dictionary.types[etype].example))
        template = example.pop("data")
        out.append(
            {
                "id": new_event_id(),
                "type": etype,
                "source": SOURCE,
                "oid": oid,
                "time": format_time(start + timedelta(minutes=7 * k)),
                **example,
                "data": _follow_up_data(etype, n, oid, template),
            }
        )
    return out


def base_time() -> datetime:
    """Two days ago, so ten events spread over an hour never lie in the future."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def as_event(raw: dict[str, Any]) -> Event:
    """An `Event` straight from a raw dict built here (times are already normalised); no validation."""
    return Event(
        id=raw["id"],
        type=raw["type"],
        source=raw["source"],
        oid=raw["oid"],
        time=raw["time"],
        data=raw["data"],
        actor=raw.get("actor"),
        deviceid=raw.get("deviceid"),
        proof=raw.get("proof") or {},
        schemaver=raw.get("schemaver", 1),
    )


def payload_sizes(raws: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean bytes of the data payload and of the whole raw event as compact JSON."""
    data = statistics.fmean(len(orjson.dumps(r["data"])) for r in raws)
    whole = statistics.fmean(len(orjson.dumps(r)) for r in raws)
    return data, whole


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def machine() -> str:
    """One line describing where the benchmark ran."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
        f" {platform.system()} {platform.release()}"
    )


def emit(figures: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object with its figures."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=False), flush=True)
