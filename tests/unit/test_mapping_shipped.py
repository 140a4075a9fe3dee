"""The four shipped mappings turn realistic partner payloads into valid orders, events and signals."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest

from orderloom.connectors import apply_spec
from orderloom.connectors.registry import MAPPINGS_DIR, Connectors
from orderloom.connectors.sinks import Sinks
from orderloom.core.errors import ValidationFailed
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.signals import load_registry
from tests.unit._support import Rig, rig

SHOPIFY: dict[str, Any] = {
    "id": 820982911946154508,
    "name": "#1001",
    "order_number": 1001,
    "created_at": "2026-05-01T08:12:45+08:00",
    "currency": "cny",
    "total_price": "1350.60",
    "financial_status": "paid",
    "source_name": "web",
    "customer": {"id": 115310627314723954, "email": "wxm@example.com", "tags": "VIP", "orders_count": 1},
    "shipping_address": {
        "name": "王晓明",
        "phone": "13800138000",
        "province": "江苏省",
        "city": "南京市",
        "address1": "中山北路 200 号",
        "address2": "汇景家园 3 栋 1202 室",
        "zip": "210003",
        "latitude": 32.0731,
        "longitude": 118.7662,
    },
    "line_items": [
        {
            "id": 866550311766439020,
            "sku": "YOG-500G",
            "title": "低温原味酸奶 500g",
            "quantity": 4,
            "price": "12.90",
            "grams": 520,
            "properties": [{"name": "cold_chain", "value": "true"}],
        },
        {"id": 866550311766439021, "sku": "HP-PRO-X", "title": "降噪耳机 Pro X", "quantity": 1, "price": "1299.00"},
    ],
    "note_attributes": [
        {"name": "delivery_window_start", "value": "2026-05-02T08:00:00+08:00"},
        {"name": "delivery_window_end", "value": "2026-05-02T20:00:00+08:00"},
    ],
}

WMS_OUTBOUND: dict[str, Any] = {
    "msg_id": "SCAN-SH-CW-01-000918273",
    "scan_type": "OUTBOUND",
    "warehouse": "SH-CW-01",
    "order_no": "SO-SH-2026050100871",
    "operator": "w1043",
    "device": {"kind": "scanner", "id": "HW-SC-7781", "serial": "HONEYWELL-1950G-7781"},
    "scanned_at": "2026-05-01T10:02:11+08:00",
    "gate": "D-04",
    "waybill": "JDVB20260501000892",
    "carrier": "jd_logistics",
    "parcels": 1,
}
WMS_PACK: dict[str, Any] = {
    "msg_id": "SCAN-SH-CW-01-000918270",
    "scan_type": "PACK",
    "warehouse": "SH-CW-01",
    "order_no": "SO-SH-2026050100871",
    "operator": "w0877",
    "device": {"kind": "station", "id": "PK-SH-07"},
    "scale_serial": "MT-ICS-6620-0193",
    "scanned_at": "2026-05-01T09:40:00+08:00",
    "parcels": 1,
    "weight_g": 1620,
}
WMS_PICK: dict[str, Any] = {
    "msg_id": "SCAN-SH-CW-01-000918266",
    "scan_type": "pick",
    "warehouse": "SH-CW-01",
    "order_no": "SO-SH-2026050100871",
    "operator": "w1043",
    "device": {"kind": "pda", "id": "PDA-SH-0388", "serial": "ZB-TC52-21094388", "firmware": "11.2.7"},
    "scanned_at": "2026-05-01T09:15:00+08:00",
    "items": [{"sku": "YOG-500G", "qty": "4", "bin": "A-12-03-2"}, {"sku": "HP-PRO-X", "qty": 1}],
}

TMS_PINGS: dict[str, Any] = {
    "tms": "G7",
    "carrier": "JD",
    "pings": [
        {
            "plate": "沪A·D1234",
            "trip": "LH-SH-NJ-20260501-15",
            "gps": {"lat": 31.5689, "lon": 120.3017, "speed_mps": 22.8, "heading": 285, "fix_time": 1777593600},
        },
        {
            "plate": "苏A·K7788",
            "gps": {"lat": 32.0603, "lon": 118.7969, "speed_mps": 0, "fix_time": 1777593612},
        },
    ],
}

SF_DELIVERED: dict[str, Any] = {
    "carrier": "SF",
    "tracking_number": "SF1400021234567",
    "event": {
        "code": "DELIVERED",
        "time": "2026-05-01T15:20:00+08:00",
        "city": "南京市",
        "lat": 32.0731,
        "lng": 118.7662,
        "courier": {"id": "NJ-GL-0031", "device": "HW-SC-9120", "scanner_serial": "HONEYWELL-CT40-9120"},
        "description": "已签收，签收人：本人",
    },
    "pod": {
        "method": "front_desk",
        "signed_by": "王晓明",
        "photo_sha256": "F94137F3BE283F1FD30895D4C6D0974C432B3A065AE2C2DFC5F0024C5C53CBDA",
    },
    "cod": {"amount_cents": 135060},
}


@cache
def shipped_parts() -> tuple[Any, Any, Connectors]:
    """Registry, network and mappings, loaded once per session (each takes a moment)."""
    return load_registry(), load_network(CHINA_YAML), Connectors.load(env={})


def sinks_for(r: Rig) -> Sinks:
    registry, network, _ = shipped_parts()
    return Sinks(r.intake, registry=registry, network=network)


@pytest.fixture
def env() -> tuple[Rig, Connectors, Sinks]:
    r = rig()
    return r, shipped_parts()[2], sinks_for(r)


def _linked_order(r: Rig, oid: str, system: str, number: str) -> None:
    r.place(oid)
    r.record(
        {
            "id": f"ref-{oid}-{system}",
            "type": "order.ref_linked",
            "source": "tests",
            "oid": oid,
            "time": "2026-05-01T08:30:00+08:00",
            "data": {"system": system, "number": number},
        }
    )


def test_every_shipped_mapping_loads_and_names_an_environment_variable_for_its_secret() -> None:
    specs = Connectors.load(env={}).specs
    assert {"shopify", "wms", "tms", "sf_express", "ad_platform"} <= set(specs)
    assert len(list(MAPPINGS_DIR.glob("*.yaml"))) == len(specs) == 5  # every file loaded, none skipped
    for spec in specs.values():
        assert spec.secret_env and spec.secret_env.startswith("ORDERLOOM_SECRET_")


def test_a_shopify_order_webhook_places_a_valid_order_with_its_shop_number_linked(env: Any) -> None:
    r, conns, sinks = env
    docs = apply_spec(conns.get("shopify"), SHOPIFY)
    results = sinks.record("order", docs, actor="connector:shopify")
    assert [x.status for x in results] == ["accepted"], [x.as_dict() for x in results]
    oid = results[0].oid
    assert oid == "SHOP-820982911946154508"
    assert r.store.resolve("shopify:820982911946154508") == oid
    data = r.store.read_stream(oid)[0].data
    assert data["total"] == pytest.approx(1350.6) and data["currency"] == "CNY"
    assert data["customer"] == {"id": "SHOP-C-115310627314723954", "tier": "gold", "new_customer": True}
    assert data["lines"][0] == {
        "sku": "YOG-500G",
        "name": "低温原味酸奶 500g",
        "qty": 4,
        "unit_price": 12.9,
        "cold_chain": True,
    }
    assert data["window"]["end"] == "2026-05-02T20:00:00+08:00"
    assert data["recipient"]["phone"].startswith("enc:"), "personal data is sealed as for any order"
    again = sinks.record("order", apply_spec(conns.get("shopify"), SHOPIFY), actor="connector:shopify")
    assert again[0].status == "duplicate" and again[0].oid == oid


def test_a_shopify_order_without_a_delivery_window_names_the_missing_note_attribute(env: Any) -> None:
    _, conns, _ = env
    payload = copy.deepcopy(SHOPIFY)
    payload["note_attributes"] = payload["note_attributes"][:1]
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(conns.get("shopify"), payload)
    (problem,) = caught.value.problems
    assert problem.field == "window.end" and problem.rule == "required"
    assert "delivery_window_end" in problem.message


@pytest.mark.parametrize(
    ("payload", "etype"),
    [(WMS_PICK, "pick.completed"), (WMS_PACK, "pack.completed"), (WMS_OUTBOUND, "outbound.scanned")],
)
def test_each_wms_scan_type_becomes_its_warehouse_event_on_the_order_its_number_is_linked_to(
    env: Any, payload: dict[str, Any], etype: str
) -> None:
    r, conns, sinks = env
    _linked_order(r, "OL-WMS-1", "wms", "SO-SH-2026050100871")
    docs = apply_spec(conns.get("wms"), payload, resolve=sinks.resolve)
    results = sinks.record("event", docs, actor="connector:wms")
    assert [x.status for x in results] == ["accepted"], [x.as_dict() for x in results]
    stored = r.store.get(f"wms-{payload['msg_id']}")
    assert stored is not None and stored.type == etype and stored.oid == "OL-WMS-1"
    assert stored.actor == f"emp:SH-CW-01:{payload['operator']}"


def test_a_pack_scan_weighs_in_kilograms_and_a_pick_scan_lists_its_lines(env: Any) -> None:
    r, conns, sinks = env
    _linked_order(r, "OL-WMS-2", "wms", "SO-SH-2026050100871")
    (pack,) = apply_spec(conns.get("wms"), WMS_PACK, resolve=sinks.resolve)
    (pick,) = apply_spec(conns.get("wms"), WMS_PICK, resolve=sinks.resolve)
    assert pack["data"] == {"node": "SH-CW-01", "packages": 1, "weight_kg": 1.62}
    assert pack["proof"] == {"station_id": "PK-SH-07", "scale_serial": "MT-ICS-6620-0193"}
    assert pick["data"]["lines"] == [{"sku": "YOG-500G", "qty": 4, "bin": "A-12-03-2"}, {"sku": "HP-PRO-X", "qty": 1}]
    assert "waybill" not in pick["data"] and "weight_kg" not in pick["data"]


def test_a_wms_scan_for_an_unlinked_order_number_names_the_lookup(env: Any) -> None:
    _, conns, sinks = env
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(conns.get("wms"), WMS_OUTBOUND, resolve=sinks.resolve)
    (problem,) = caught.value.problems
    assert problem.field == "oid" and problem.rule == "known_order"
    assert "wms order number SO-SH-2026050100871" in problem.message


def test_a_tms_batch_of_gps_pings_reports_one_vehicle_position_signal_per_ping(env: Any) -> None:
    r, conns, sinks = env
    docs = apply_spec(conns.get("tms"), TMS_PINGS)
    assert docs[0] == {
        "type": "carrier.vehicle_position",
        "target": "JD",
        "value": {"vehicle_id": "沪A·D1234", "lat": 31.5689, "lng": 120.3017, "speed_kmh": 82.1},
        "time": "2026-05-01T00:00:00.000000Z",
    }
    results = sinks.record("signal", docs, actor="connector:tms")
    assert [x.status for x in results] == ["accepted", "accepted"], [x.as_dict() for x in results]
    assert len(r.store.read_stream("sig.carrier.vehicle_position")) == 2


def test_a_carrier_delivered_update_records_a_delivery_with_cod_in_yuan(env: Any) -> None:
    r, conns, sinks = env
    _linked_order(r, "OL-SF-1", "sf_express", "SF1400021234567")
    (doc,) = apply_spec(conns.get("sf_express"), SF_DELIVERED, resolve=sinks.resolve)
    assert doc["type"] == "delivery.delivered" and doc["oid"] == "OL-SF-1"
    assert doc["data"]["cod_amount"] == 1350.6 and doc["data"]["handover"] == "reception"
    assert doc["proof"]["photo_sha256"] == SF_DELIVERED["pod"]["photo_sha256"].lower()
    assert len(doc["proof"]["gps_hash"]) == 64
    assert doc["id"].startswith("sf_express-")
    results = sinks.record("event", [doc], actor="connector:sf_express")
    assert results[0].status == "accepted", results[0].as_dict()
    chain = r.reader.chain("OL-SF-1", "ops")
    assert chain["status"]["id"] == "delivered"


def test_a_carrier_failed_attempt_maps_the_reason_and_an_unknown_code_becomes_other(env: Any) -> None:
    r, conns, sinks = env
    _linked_order(r, "OL-SF-2", "sf_express", "SF1400021234567")
    failed = copy.deepcopy(SF_DELIVERED)
    failed["event"]["code"] = "DELIVERY_FAILED"
    failed["failure"] = {"code": "NOT_HOME", "attempt": "1"}
    (doc,) = apply_spec(conns.get("sf_express"), failed, resolve=sinks.resolve)
    assert doc["type"] == "delivery.failed" and doc["data"]["reason"] == "not_home" and doc["data"]["attempt"] == 1
    assert "cod_amount" not in doc["data"] and "photo_sha256" not in doc["proof"]
    failed["failure"]["code"] = "DOG_IN_YARD"
    (other,) = apply_spec(conns.get("sf_express"), failed, resolve=sinks.resolve)
    assert other["data"]["reason"] == "other"
    results = sinks.record("event", [doc], actor="connector:sf_express")
    assert results[0].status == "accepted", results[0].as_dict()


def test_a_carrier_code_the_mapping_does_not_know_is_refused_naming_the_code(env: Any) -> None:
    _, conns, _ = env
    odd = copy.deepcopy(SF_DELIVERED)
    odd["event"]["code"] = "CUSTOMS_HOLD"
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(conns.get("sf_express"), odd, resolve=lambda system, number: "OL-X")
    fields = {p.field: p for p in caught.value.problems}
    assert fields["type"].rule == "map" and "CUSTOMS_HOLD" in fields["type"].message
