"""An ad platform's callback becomes the marketing fact its contract owes, through the contract intake."""

from __future__ import annotations

import orjson
import pytest

from orderloom.connectors import signing
from orderloom.connectors.inbound import receive
from orderloom.connectors.registry import Connectors
from orderloom.connectors.sinks import Sinks
from orderloom.core.errors import ValidationFailed
from orderloom.status.orders import place_order
from orderloom.valuestream.fact_sink import contract_fact_sink
from tests.unit._support import order_body, rig

SECRET = "ad-platform-secret-0123456789"


def _callback(shop_no: str, source: str) -> dict[str, object]:
    return {
        "order": {"shop_order_no": shop_no},
        "traffic": {"source": source},
        "campaign": {"id": "double11_audio"},
        "creative": {"name": "short_video"},
        "audience": {"tags": ["audio", "first_purchase"]},
    }


def test_a_callback_is_mapped_to_a_marketing_fact_and_bad_rows_are_refused_by_field_and_rule() -> None:
    r = rig()
    body_of_order = order_body("OL-AD-1") | {"source_refs": [{"system": "douyin_shop", "number": "DY-9001"}]}
    assert place_order(r.intake, body_of_order, source="t", actor=None).created
    conns = Connectors.load(env={"ORDERLOOM_SECRET_AD_PLATFORM": SECRET})
    sinks = Sinks(r.intake, extra={"fact": contract_fact_sink(r.intake, r.dictionary)})

    def send(payload: object, nonce: str) -> object:
        body = orjson.dumps(payload)
        headers = signing.signed_headers(SECRET.encode(), body, now=r.clock.now(), nonce=nonce)
        return receive(conns, sinks, "ad_platform", headers, body)

    got = send(_callback("DY-9001", "DOUYIN_LIVE"), "nonce-ad-0001")
    assert got.counts() == {"accepted": 1, "duplicate": 0, "rejected": 0}  # type: ignore[attr-defined]
    stored = [e for e in r.store.read_stream("OL-AD-1") if e.type.startswith("fact.")]
    assert len(stored) == 1 and stored[0].data["domain"] == "marketing"
    assert "douyin_live" in orjson.dumps(stored[0].data).decode()

    # The contract refuses what the mapping let through, naming the field and the rule; nothing is stored.
    long_creative = _callback("DY-9001", "WECHAT") | {"creative": {"name": "x" * 200}}
    got = send(long_creative, "nonce-ad-0002")
    assert got.counts() == {"accepted": 0, "duplicate": 0, "rejected": 1}  # type: ignore[attr-defined]
    (refused,) = got.results[0].problems  # type: ignore[attr-defined]
    assert "creative" in refused.field, refused
    assert len([e for e in r.store.read_stream("OL-AD-1") if e.type.startswith("fact.")]) == 1

    # A payload the mapping cannot read is refused whole, naming the missing path.
    with pytest.raises(ValidationFailed) as caught:
        send({"traffic": {}}, "nonce-ad-0003")
    assert "order.shop_order_no" in str(caught.value)
