"""Whatever JSON arrives, the API answers with a readable 2xx/4xx: never a 500, never half-written."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Api

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
KEYS = ["id", "type", "source", "oid", "time", "data", "actor", "deviceid", "proof", "schemaver", "specversion"]


def readable(r: Any) -> bool:
    doc = r.json()
    if "results" in doc:
        return all(p["message"] for x in doc["results"] for p in x.get("problems", []))
    return bool(doc.get("error", {}).get("message")) or r.status_code < 300


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_any_json_body_gets_a_readable_answer_and_no_server_error(api: Api, body: Any) -> None:
    for path in (
        "/v1/events",
        "/v1/orders",
        "/v1/keys",
        "/v1/policies/p1/versions",
        "/v1/policies/p1/publish",
        "/v1/policies/p1/decide",
        "/v1/routing/decide",
        "/v1/routing/reroute",
        "/v1/policies/p1/shadow",
        "/v1/routing/orders/OL-NONE/reject",
        "/v1/signals",
        "/v1/policies/p1/rollback",
    ):
        r = api.client.post(path, json=body, headers=api.as_("admin"))
        assert r.status_code < 500, (path, body, r.text)
        assert readable(r), (path, body, r.text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=JSON, where=st.sampled_from(["top", "data", "proof"]))
def test_a_valid_event_with_one_field_replaced_by_anything_is_stored_or_rejected_whole(
    api: Api, key: str, value: Any, where: str
) -> None:
    ex = copy.deepcopy(dict(api.services.dictionary.types["outbound.scanned"].example))
    ev = {
        "id": "fz-1",
        "type": "outbound.scanned",
        "source": "fuzz",
        "oid": "OL-NONE",
        "time": "2026-05-01T09:00:00+08:00",
        **ex,
    }
    target = ev if where == "top" else ev.setdefault(where, {})
    if isinstance(target, dict):
        target[key] = value
    before = api.services.store.last_position()
    r = api.client.post("/v1/events", json=[ev], headers=api.as_("ops"))
    assert r.status_code < 500, r.text
    assert readable(r), r.text
    # The order does not exist, so nothing may be written whatever the mutation.
    assert api.services.store.last_position() == before
