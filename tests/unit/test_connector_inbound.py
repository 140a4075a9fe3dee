"""Inbound messages: HMAC over timestamp and body, a five-minute window, and a nonce that works once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from orderloom.connectors import signing
from orderloom.connectors.inbound import receive, stream_of
from orderloom.connectors.registry import Connectors, NotConfigured
from orderloom.connectors.sinks import Sinks
from orderloom.core.errors import NotFound, Unauthorized, ValidationFailed
from tests.unit._support import Rig, rig
from tests.unit.test_mapping_shipped import TMS_PINGS, WMS_OUTBOUND, shipped_parts, sinks_for

SECRET = "tms-shared-secret-0123456789"


@pytest.fixture
def env() -> tuple[Rig, Connectors, Sinks]:
    r = rig()
    env_vars = {"ORDERLOOM_SECRET_TMS": SECRET, "ORDERLOOM_SECRET_WMS": SECRET}
    return r, Connectors(shipped_parts()[2].specs, env_vars), sinks_for(r)


def signed(
    r: Rig, body: bytes, *, nonce: str = "nonce-0001", secret: str = SECRET, skew_s: float = 0
) -> dict[str, str]:
    return signing.signed_headers(secret.encode(), body, now=r.clock.now() + timedelta(seconds=skew_s), nonce=nonce)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    want = "sha256=" + hmac.new(b"k" * 16, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signing.signature(b"k" * 16, "1700000000", b"{}") == want


def test_a_signed_message_is_mapped_recorded_and_audited(env: Any) -> None:
    r, conns, sinks = env
    body = orjson.dumps(TMS_PINGS)
    got = receive(conns, sinks, "tms", signed(r, body), body)
    assert got.counts() == {"accepted": 2, "duplicate": 0, "rejected": 0}
    (audit,) = r.store.read_stream(stream_of("tms"))
    assert audit.type == "inbound.received" and audit.data["nonce"] == "nonce-0001"
    assert audit.data["bytes"] == len(body) and audit.actor == "connector:tms"


def test_the_same_nonce_is_refused_the_second_time_and_nothing_is_recorded_twice(env: Any) -> None:
    r, conns, sinks = env
    body = orjson.dumps(TMS_PINGS)
    headers = signed(r, body)
    receive(conns, sinks, "tms", headers, body)
    before = r.store.last_position()
    with pytest.raises(Unauthorized) as caught:
        receive(conns, sinks, "tms", headers, body)
    assert "nonce nonce-0001 has been used before" in str(caught.value)
    assert r.store.last_position() == before


def test_a_nonce_survives_a_restart_because_it_lives_in_the_log(env: Any) -> None:
    r, conns, sinks = env
    body = orjson.dumps(TMS_PINGS)
    headers = signed(r, body, nonce="restart-nonce-1")
    receive(conns, sinks, "tms", headers, body)
    fresh = Sinks(r.intake, registry=sinks.registry, network=sinks.network)  # a new process's objects
    with pytest.raises(Unauthorized):
        receive(Connectors.load(env=dict(conns.env)), fresh, "tms", headers, body)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"secret": "another-secret-0123456789"}, "does not match"),
        ({"skew_s": -301}, "s old"),
        ({"skew_s": 400}, "in the future"),
        ({"nonce": "short"}, "X-Orderloom-Nonce must be"),
    ],
)
def test_a_bad_signature_an_old_timestamp_or_a_bad_nonce_is_401_with_a_clear_reason(
    env: Any, change: dict[str, Any], words: str
) -> None:
    r, conns, sinks = env
    body = orjson.dumps(TMS_PINGS)
    with pytest.raises(Unauthorized) as caught:
        receive(conns, sinks, "tms", signed(r, body, **change), body)
    assert words in str(caught.value)
    assert r.store.last_position() == 0


def test_a_body_changed_after_signing_is_refused(env: Any) -> None:
    r, conns, sinks = env
    body = orjson.dumps(TMS_PINGS)
    headers = signed(r, body)
    with pytest.raises(Unauthorized):
        receive(conns, sinks, "tms", headers, body.replace(b"JD", b"SF"))


def test_a_missing_header_is_named(env: Any) -> None:
    r, conns, sinks = env
    body = orjson.dumps(TMS_PINGS)
    headers = signed(r, body)
    del headers[signing.NONCE]
    with pytest.raises(Unauthorized) as caught:
        receive(conns, sinks, "tms", headers, body)
    assert "X-Orderloom-Nonce header is missing" in str(caught.value)


def test_an_unknown_connector_is_not_found_and_one_without_its_secret_is_not_configured(env: Any) -> None:
    r, _, sinks = env
    body = b"{}"
    with pytest.raises(NotFound):
        receive(Connectors.load(env={}), sinks, "nope", signed(r, body), body)
    with pytest.raises(NotConfigured) as caught:
        receive(Connectors.load(env={}), sinks, "tms", signed(r, body), body)
    assert "ORDERLOOM_SECRET_TMS" in str(caught.value)


def test_an_unmappable_payload_is_refused_naming_the_field_and_the_refusal_is_audited(env: Any) -> None:
    r, conns, sinks = env
    body = orjson.dumps({**WMS_OUTBOUND, "waybill": None})
    r.place("OL-IN-1")
    r.record(
        {
            "id": "ref-in-1",
            "type": "order.ref_linked",
            "source": "t",
            "oid": "OL-IN-1",
            "time": "2026-05-01T08:30:00+08:00",
            "data": {"system": "wms", "number": WMS_OUTBOUND["order_no"]},
        }
    )
    with pytest.raises(ValidationFailed) as caught:
        receive(conns, sinks, "wms", signed(r, body), body)
    (problem,) = caught.value.problems
    assert problem.field == "data.waybill" and problem.rule == "required" and "waybill" in problem.message
    kinds = [e.type for e in r.store.read_stream(stream_of("wms"))]
    assert kinds == ["inbound.received", "inbound.rejected"]


def test_dictionary_problems_say_which_payload_field_the_value_came_from(env: Any) -> None:
    r, conns, sinks = env
    pings = {"carrier": "JD", "pings": [{**TMS_PINGS["pings"][0], "gps": {**TMS_PINGS["pings"][0]["gps"], "lat": 91}}]}
    body = orjson.dumps(pings)
    got = receive(conns, sinks, "tms", signed(r, body), body)
    (result,) = got.results
    assert result.status == "rejected"
    assert any("value.lat" in p.field and "gps.lat" in p.message for p in result.problems), result.as_dict()
