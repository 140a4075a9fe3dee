"""The relay publishes each log row as the CloudEvent of its stored event, byte-spliced or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.bus.consumer import decode_cloudevent
from orderloom.bus.relay import cloudevent_json, encode_cloudevent, row_message
from orderloom.core.envelope import Event
from orderloom.store.memory import MemoryEventStore
from orderloom.store.port import AppendRequest, EventStore, RawEvent
from orderloom.store.sqlite import SQLiteEventStore

payloads = st.dictionaries(
    st.sampled_from(["shipment", "note", "datacontenttype", "seq", "nested"]),
    st.one_of(
        st.text(max_size=8),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.fixed_dictionaries({"position": st.integers(0, 10**9), "specversion": st.just("1.0")}),
    ),
    max_size=4,
)


def appended(store: EventStore, data: list[dict[str, Any]]) -> list[RawEvent]:
    events = [
        Event(
            id=f"e{n}",
            type="pick.completed",
            source="tests/unit",
            oid="OL-A",
            time=f"2026-05-01T08:00:{n:02d}.000000Z",
            data=d,
            actor="picker:7" if n % 2 else None,
            proof={"photo": "南京"} if n % 3 else {},
        )
        for n, d in enumerate(data)
    ]
    store.append(AppendRequest(events))
    return store.read_raw(0, 100)


@settings(max_examples=40, deadline=None)
@given(data=st.lists(payloads, min_size=1, max_size=5))
def test_a_row_is_published_as_the_cloudevent_of_its_stored_event(
    data: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    store = SQLiteEventStore(str(Path(tmp_path_factory.mktemp("relay")) / "log.db"))
    try:
        rows = appended(store, data)
    finally:
        store.close()
    for row in rows:
        e = row.decode()
        assert orjson.loads(cloudevent_json(row)) == e.cloudevent()
        m = row_message(row)
        assert (m.id, m.oid, m.type, m.position) == (e.id, e.oid, e.type, e.position)
        assert decode_cloudevent(m.body) == e


def test_a_body_that_is_not_canonical_is_encoded_the_long_way() -> None:
    row = appended(MemoryEventStore(), [{"shipment": "S1"}])[0]
    e = row.decode()
    reordered = orjson.dumps({"type": e.type, **orjson.loads(row.body)})
    assert cloudevent_json(row._replace(body=reordered)) == encode_cloudevent(e)
