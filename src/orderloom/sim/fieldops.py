"""Field operations through forward warehouses, with PDAs that sometimes drop a scan: data for root-cause analysis.

Orders run central warehouse -> line-haul -> forward warehouse -> community
leader pickup (or home delivery). Each forward warehouse has a fleet of PDAs
of several models and firmware versions (the same firmware number on more
than one model, as vendors do) and its own operators. A planted fault makes
one firmware on one model drop `forward_wh.check_passed` on ~12% of the
orders it handles, against ~0.3% elsewhere; with `plant=None` every device
drops at the base rate. A small share of check scans is uploaded late (after
the parcel moved on), so monitors see out-of-order arrival too. Every event
goes through intake like any other, so it is valid by construction.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderloom.bootstrap import Services
from orderloom.core.envelope import format_time

CENTRAL = (("SH-CW-01", "上海市"), ("HZ-CW-01", "杭州市"))
FORWARD = (
    ("NJ-FW-02", "南京市"),
    ("HF-FW-03", "合肥市"),
    ("SZ-FW-01", "苏州市"),
    ("WX-FW-04", "无锡市"),
    ("NB-FW-05", "宁波市"),
    ("CZ-FW-06", "常州市"),
)
CARRIERS = ("jd_logistics", "sf_express", "zto_express")
# (model, firmware): every variant is spread over every site, so no site stands for a model.
FLEET = (
    ("UROVO-DT50", "3.4.1"),
    ("UROVO-DT50", "3.3.9"),
    ("UROVO-DT50", "3.5.0"),
    ("UROVO-i6310", "3.4.1"),
    ("UROVO-i6310", "3.5.0"),
    ("ZEBRA-TC52", "11.2.7"),
    ("ZEBRA-TC52", "11.3.1"),
    ("HONEYWELL-CT40", "10.1.4"),
)
CHILLED: dict[str, Any] = {
    "sku": "YOG-500G",
    "name": "低温原味酸奶 500g",
    "qty": 2,
    "unit_price": 12.9,
    "cold_chain": True,
}
AMBIENT: dict[str, Any] = {"sku": "RICE-5KG", "name": "东北大米 5kg", "qty": 1, "unit_price": 49.9}


@dataclass(frozen=True, slots=True)
class Plant:
    """The planted fault: this firmware on this model drops the check scan at `drop_rate`."""

    model: str = "UROVO-DT50"
    firmware: str = "3.4.1"
    drop_rate: float = 0.12


@dataclass(frozen=True, slots=True)
class FieldOpsPlan:
    """What to generate; the same plan and seed give the same events."""

    orders: int = 2000
    seed: int = 7
    plant: Plant | None = field(default_factory=Plant)
    base_drop_rate: float = 0.003
    late_scan_share: float = 0.02
    cold_share: float = 0.35
    leader_share: float = 0.7
    devices_per_site: int = 8
    operators_per_site: int = 10
    days: float = 4.0
    prefix: str = "OL-FO"


@dataclass(slots=True)
class FieldOpsResult:
    """What was generated, with the truth the monitors should find."""

    orders: int = 0
    events: int = 0
    planted_orders: int = 0
    planted_dropped: int = 0
    other_orders: int = 0
    other_dropped: int = 0
    late_scans: int = 0
    oids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON (without the order ids)."""
        return {
            "orders": self.orders,
            "events": self.events,
            "planted_orders": self.planted_orders,
            "planted_dropped": self.planted_dropped,
            "planted_rate": round(self.planted_dropped / self.planted_orders, 4) if self.planted_orders else None,
            "other_orders": self.other_orders,
            "other_dropped": self.other_dropped,
            "other_rate": round(self.other_dropped / self.other_orders, 4) if self.other_orders else None,
            "late_scans": self.late_scans,
        }


@dataclass(frozen=True, slots=True)
class _Device:
    id: str
    serial: str
    model: str
    firmware: str


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fleet(plan: FieldOpsPlan) -> dict[str, list[_Device]]:
    out: dict[str, list[_Device]] = {}
    for s, (site, _city) in enumerate(FORWARD):
        code = site.split("-")[0]
        devices = []
        for i in range(plan.devices_per_site):
            model, firmware = FLEET[(i + s) % len(FLEET)]
            number = f"{code}{s:01d}{i:03d}"
            devices.append(_Device(f"pda:PDA-{code}-{s}{i:03d}", f"{model}-{number}", model, firmware))
        out[site] = devices
    return out


class _Writer:
    """Builds one order's events (raw CloudEvents) with numbered ids."""

    def __init__(self, oid: str) -> None:
        self.oid = oid
        self.n = 0
        self.events: list[tuple[datetime, dict[str, Any]]] = []

    def add(
        self, etype: str, at: datetime, data: dict[str, Any], *, arrives: datetime | None = None, **attrs: Any
    ) -> None:
        self.n += 1
        raw: dict[str, Any] = {"id": f"{self.oid}-{self.n:03d}", "type": etype, "source": "fieldops", "oid": self.oid}
        raw.update(time=format_time(at), data=data, **{k: v for k, v in attrs.items() if v is not None})
        self.events.append((arrives or at, raw))


def _order(plan: FieldOpsPlan, rng: random.Random, w: _Writer, t0: datetime, ctx: dict[str, Any]) -> dict[str, Any]:
    """One order's chain; returns what happened to its forward-warehouse check."""
    central, _ = rng.choice(CENTRAL)
    site, city = rng.choice(FORWARD)
    carrier = rng.choice(CARRIERS)
    cold = rng.random() < plan.cold_share
    customer = f"C-FO-{rng.randrange(400):04d}"
    lines = [dict(CHILLED)] if cold else [dict(AMBIENT)]
    total = round(sum(x["qty"] * x["unit_price"] for x in lines), 2)
    window_end = t0 + timedelta(hours=30)
    w.add(
        "order.placed",
        t0,
        {
            "lines": lines,
            "currency": "CNY",
            "total": total,
            "customer": {"id": customer, "tier": rng.choice(["standard", "silver", "gold"])},
            "channel": rng.choice(["wechat_mini", "douyin", "app"]),
            "destination": {"region": "江苏省", "city": city, "address": f"幸福路 {rng.randrange(1, 300)} 号"},
            "recipient": {"name": "张三", "phone": "13800000000"},
            "window": {"start": format_time(t0 + timedelta(hours=8)), "end": format_time(window_end)},
        },
        actor=f"customer:{customer}",
    )
    t = t0 + timedelta(minutes=rng.uniform(1, 5))
    w.add(
        "payment.authorized",
        t,
        {"payment_id": f"PAY-{w.oid}", "amount": total, "currency": "CNY", "method": "wechat_pay"},
    )
    t += timedelta(minutes=rng.uniform(1, 8))
    w.add(
        "routing.decided",
        t,
        {
            "node": central,
            "carrier": carrier,
            "service": "next_day",
            "promised_by": format_time(window_end),
            "policy_id": "routing-default",
            "policy_version": 1,
        },
        actor="system:router",
    )
    t += timedelta(minutes=rng.uniform(5, 30))
    w.add("wms.released", t, {"node": central, "wms_order": f"SO-{w.oid}"})
    cw_op = f"emp:{central}:w{rng.randrange(20):04d}"
    t += timedelta(minutes=rng.uniform(20, 60))
    pick_fw = rng.choice(["11.2.7", "11.3.1"])
    w.add(
        "pick.completed",
        t,
        {"node": central, "lines": [{"sku": x["sku"], "qty": x["qty"]} for x in lines]},
        actor=cw_op,
        deviceid=f"pda:PDA-{central}-{rng.randrange(12):02d}",
        proof={"pda_serial": f"ZEBRA-TC52-{central}", "firmware": pick_fw},
    )
    t += timedelta(minutes=rng.uniform(10, 40))
    w.add(
        "pack.completed",
        t,
        {"node": central, "packages": 1, "insulated": cold},
        actor=cw_op,
        deviceid=f"station:PK-{central}-{rng.randrange(6):02d}",
        proof={"station_id": f"PK-{central}"},
    )
    t += timedelta(minutes=rng.uniform(10, 40))
    waybill = f"WB{w.oid}"
    w.add(
        "outbound.scanned",
        t,
        {"node": central, "waybill": waybill, "packages": 1, "carrier": carrier},
        actor=cw_op,
        deviceid=f"scanner:{central}-G{rng.randrange(4)}",
        proof={"scanner_serial": f"HONEYWELL-1950G-{central}"},
    )
    trip = f"LH-{central}-{site}-{t:%Y%m%d}"
    vehicle = f"沪A·{rng.randrange(10000):04d}"
    driver = f"driver:D-{rng.randrange(200):04d}"
    gps = f"gps:GT06-{rng.randrange(500):05d}"
    t += timedelta(minutes=rng.uniform(30, 120))
    w.add(
        "linehaul.departed",
        t,
        {"from_node": central, "to_node": site, "to_city": city, "trip": trip, "cold_chain": cold},
        actor=driver,
        deviceid=gps,
        proof={"vehicle_id": vehicle, "gps_hash": _hash(f"{trip}:dep")},
    )
    for k in range(rng.randint(2, 4)):
        t += timedelta(minutes=rng.uniform(40, 100))
        report: dict[str, Any] = {"location": f"G42 K{100 + 40 * k}+{rng.randrange(1000):03d}", "trip": trip}
        if cold:
            report["temperature_c"] = round(rng.gauss(3.5, 0.7), 1)
        w.add(
            "linehaul.in_transit",
            t,
            report,
            actor=driver,
            deviceid=gps,
            proof={"gps_hash": _hash(f"{trip}:{w.oid}:{k}"), "vehicle_id": vehicle},
        )
        if cold:
            w.add(
                "coldchain.temperature_recorded",
                t + timedelta(minutes=2),
                {"temperature_c": round(rng.gauss(3.8, 0.8), 1), "limit_c": 6.0, "location": report["location"]},
                deviceid=f"logger:TL-{w.oid}",
                proof={"sensor_serial": f"ELITECH-RC5-{w.oid}"},
            )
    t += timedelta(minutes=rng.uniform(40, 90))
    w.add(
        "linehaul.arrived",
        t,
        {"node": site, "city": city, "trip": trip},
        actor=driver,
        deviceid=gps,
        proof={"vehicle_id": vehicle, "gps_hash": _hash(f"{trip}:arr")},
    )
    device: _Device = rng.choice(ctx["fleet"][site])
    operator = f"emp:{site}:w{rng.randrange(plan.operators_per_site):04d}"
    pda = {"pda_serial": device.serial, "firmware": device.firmware, "model": device.model}
    t += timedelta(minutes=rng.uniform(10, 45))
    w.add(
        "forward_wh.received",
        t,
        {"node": site, "city": city, "packages": 1, "trip": trip},
        actor=operator,
        deviceid=device.id,
        proof=pda,
    )
    planted = plan.plant is not None and (device.model, device.firmware) == (plan.plant.model, plan.plant.firmware)
    drop_rate = plan.plant.drop_rate if planted and plan.plant is not None else plan.base_drop_rate
    dropped = rng.random() < drop_rate
    late = rng.random() < plan.late_scan_share
    check_at = t + timedelta(minutes=rng.uniform(5, 25))
    dispatch_at = check_at + timedelta(minutes=rng.uniform(20, 90))
    if not dropped:
        # A late upload reaches the log hours after the parcel moved on; it still happened at check_at.
        arrives = dispatch_at + timedelta(hours=rng.uniform(1, 3)) if late else None
        checks = ["count", "seal", "label"] + (["temperature"] if cold else [])
        w.add(
            "forward_wh.check_passed",
            check_at,
            {"node": site, "packages": 1, "checks": checks},
            arrives=arrives,
            actor=operator,
            deviceid=device.id,
            proof=pda,
        )
    t = dispatch_at
    courier = f"courier:{site}-{rng.randrange(15):03d}"
    scanner = f"scanner:{site}-{rng.randrange(15):03d}"
    leader_pickup = rng.random() < plan.leader_share
    w.add(
        "lastmile.dispatched",
        t,
        {"node": site, "mode": "leader_pickup" if leader_pickup else "home_delivery", "courier_id": courier},
        actor=courier,
        deviceid=scanner,
        proof={"scanner_serial": f"HONEYWELL-CT40-{scanner}"},
    )
    if leader_pickup:
        leader = f"L-{site}-{rng.randrange(40):03d}"
        point = f"{city}幸福社区团购自提点 {leader}"
        t += timedelta(minutes=rng.uniform(30, 120))
        w.add(
            "leader.received",
            t,
            {"leader_id": leader, "pickup_point": point, "packages": 1},
            actor=courier,
            deviceid=scanner,
            proof={"gps_hash": _hash(f"{w.oid}:leader")},
        )
        t += timedelta(minutes=rng.uniform(2, 15))
        phone = f"phone:{leader}"
        w.add(
            "leader.signed",
            t,
            {"leader_id": leader, "pickup_point": point, "packages": 1, "condition": "intact"},
            actor=f"leader:{leader}",
            deviceid=phone,
            proof={"signature_hash": _hash(f"{w.oid}:sign")},
        )
        t += timedelta(hours=rng.uniform(1, 10))
        w.add(
            "customer.picked_up",
            t,
            {"leader_id": leader, "pickup_point": point, "packages": 1},
            actor=f"leader:{leader}",
            deviceid=phone,
            proof={"pickup_code_sha256": _hash(f"{w.oid}:code")},
        )
    else:
        t += timedelta(minutes=rng.uniform(40, 180))
        w.add(
            "delivery.delivered",
            t,
            {"handover": "in_person", "packages": 1},
            actor=courier,
            deviceid=scanner,
            proof={"photo_sha256": _hash(f"{w.oid}:photo")},
        )
    return {"planted": planted, "dropped": dropped, "late": late and not dropped}


def generate(
    svc: Services, plan: FieldOpsPlan | None = None, *, end: datetime | None = None, batch: int = 2000
) -> FieldOpsResult:
    """Write the plan's orders through intake; every order is complete before `end` (default: the clock's now)."""
    plan = plan or FieldOpsPlan()
    rng = random.Random(plan.seed)
    finish = end or svc.clock.now()
    # Chains take up to about a day; orders start over the `days` before that.
    first = finish - timedelta(days=plan.days) - timedelta(hours=30)
    ctx = {"fleet": _fleet(plan)}
    result = FieldOpsResult()
    timed: list[tuple[datetime, int, dict[str, Any]]] = []
    for i in range(plan.orders):
        oid = f"{plan.prefix}-{plan.seed}-{i + 1:06d}"
        w = _Writer(oid)
        t0 = first + timedelta(seconds=rng.uniform(0, plan.days * 86400))
        fate = _order(plan, rng, w, t0, ctx)
        result.orders += 1
        result.oids.append(oid)
        if fate["planted"]:
            result.planted_orders += 1
            result.planted_dropped += fate["dropped"]
        else:
            result.other_orders += 1
            result.other_dropped += fate["dropped"]
        result.late_scans += fate["late"]
        timed += [(arrives, len(timed) + k, raw) for k, (arrives, raw) in enumerate(w.events)]
    # The log receives events as they arrive, orders interleaved, late scans late.
    timed.sort(key=lambda x: (x[0], x[1]))
    raws = [raw for _, _, raw in timed]
    for start in range(0, len(raws), batch):
        results = svc.intake.record(raws[start : start + batch])
        bad = [r.as_dict() for r in results if r.status == "rejected"]
        if bad:
            raise RuntimeError(f"the field-ops generator wrote an invalid event: {bad[0]}")
        result.events += len(results)
    return result
