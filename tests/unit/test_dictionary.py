"""The event dictionary: the shipped vocabulary, user files on top of it, and how mistakes are reported."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from orderloom.core.envelope import Event
from orderloom.core.errors import ConfigError, ValidationFailed
from orderloom.dictionary import Dictionary, check_file, load_dictionary
from orderloom.dictionary.loader import DictionaryError
from orderloom.dictionary.validation import validate_event
from orderloom.status.chain import build_chain
from tests.unit._support import NOW, ROLES, raw_event, rig, shipped

LABEL = "{zh: 测试, en: Test}"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(dedent(text), "utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(DictionaryError) as caught:
        check_file(path)
    return caught.value.problems


# ------------------------------------------------------------------ the shipped dictionary


def test_the_shipped_dictionary_loads_with_the_multi_leg_fulfilment_types() -> None:
    d = load_dictionary()
    for tid in ("order.placed", "outbound.scanned", "linehaul.in_transit", "forward_wh.check_passed", "leader.signed"):
        assert tid in d.types, tid
    assert d.types["linehaul.in_transit"].leg == "linehaul"
    assert d.types["forward_wh.check_passed"].stage == "forward_warehouse"


def test_the_shipped_dictionary_defines_the_five_roles() -> None:
    assert set(ROLES) <= set(shipped().roles)


@pytest.mark.parametrize("type_id", sorted(shipped().types))
def test_every_shipped_example_is_a_valid_event(type_id: str) -> None:
    d = shipped()
    raw = raw_event(d, type_id, eid="ex-1", oid="OL-EXAMPLE")
    event = validate_event(raw, d, NOW, allow_internal=d.types[type_id].internal)
    assert isinstance(event, Event)
    assert event.type == type_id
    assert event.data == raw["data"]


def test_internal_types_are_exactly_the_system_stage_ones() -> None:
    # Capabilities ship their own internal types (playbooks, monitors, connectors...), each in its own file.
    internal = {t.id for t in shipped().types.values() if t.internal}
    system = {t.id for t in shipped().types.values() if t.stage == "system"}
    assert internal == system
    assert all(shipped().types[t].internal for t in internal if shipped().types[t].origin.endswith("system.yaml"))
    assert {"apikey.created", "apikey.revoked", "customer.forgotten", "policy.published"} <= internal
    assert all(
        shipped().types[t].stage == "system" and not shipped().types[t].view("consumer").visible for t in internal
    )


def test_linehaul_in_transit_raises_a_stall_after_four_hours_without_news() -> None:
    timers = shipped().types["linehaul.in_transit"].timers
    assert [t.after for t in timers] == [timedelta(hours=4)]
    assert set(timers[0].expect) <= set(shipped().types)


def test_every_timer_expects_only_known_types() -> None:
    d = shipped()
    for t in d.types.values():
        for timer in t.timers:
            assert timer.after > timedelta(0)
            assert set(timer.expect) <= set(d.types), (t.id, timer.id)


def test_no_shipped_type_lets_a_consumer_see_details() -> None:
    assert not any(t.view("consumer").details for t in shipped().types.values())


def test_every_pii_path_of_the_shipped_dictionary_names_a_text_field() -> None:
    for t in shipped().types.values():
        for path in t.pii:
            node = t.data_schema
            for part in path.split("."):
                node = node["properties"][part]
            assert node["type"] == "string", (t.id, path)


def test_the_dictionary_document_lists_every_type_with_its_example() -> None:
    doc = shipped().document()
    ids = [t["id"] for t in doc["types"]]
    assert sorted(ids) == sorted(shipped().types)
    placed = next(t for t in doc["types"] if t["id"] == "order.placed")
    assert placed["example"]["type"] == "order.placed"
    assert placed["visibility"]["consumer"]["details"] is False


# ------------------------------------------------------------------ broken user files


BROKEN = f"""\
dictionary: acme
types:
  acme.bad_stage:
    version: 1
    label: {LABEL}
    stage: nowhere
    leg: order
    data: {{type: object}}
    visibility: {{}}
    example: {{data: {{}}}}
  acme.bad_visibility:
    version: 1
    label: {LABEL}
    stage: delivery
    leg: order
    data:
      type: object
      properties:
        seen: {{type: string}}
    visibility: {{cs: {{fields: [seen, ghost]}}}}
    example: {{data: {{seen: x}}}}
  acme.bad_example:
    version: 1
    label: {LABEL}
    stage: delivery
    leg: order
    data:
      type: object
      required: [count]
      properties:
        count: {{type: integer}}
    visibility: {{}}
    example: {{data: {{count: many}}}}
  acme.bad_pii:
    version: 1
    label: {LABEL}
    stage: delivery
    leg: order
    data:
      type: object
      properties:
        phone: {{type: integer}}
    pii: [phone]
    visibility: {{}}
    example: {{data: {{phone: 123}}}}
  acme.bad_timer:
    version: 1
    label: {LABEL}
    stage: delivery
    leg: order
    data: {{type: object}}
    visibility: {{}}
    timers:
      - {{id: waiting, after: 1h, expect: [acme.never_defined]}}
    example: {{data: {{}}}}
  order.placed:
    version: 1
    label: {LABEL}
    stage: placement
    leg: order
    data: {{type: object}}
    visibility: {{}}
    example: {{data: {{}}}}
"""


def test_a_broken_user_file_reports_every_problem_with_its_file_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", BROKEN)
    problems = problems_of(path)
    expected = {
        "unknown stage": (f"{path}: types/acme.bad_stage/stage", "'nowhere'"),
        "visibility field not in schema": (f"{path}: types/acme.bad_visibility/visibility/cs", "'ghost'"),
        "example not matching schema": (f"{path}: types/acme.bad_example/example/data", "example"),
        "pii path to a non-string": (f"{path}: types/acme.bad_pii/pii", "'phone'"),
        "timer expecting an unknown type": (f"{path}: types/acme.bad_timer/timers/waiting", "acme.never_defined"),
        "redefinition without a higher version": (f"{path}: types/order.placed", "version"),
    }
    for what, (place, word) in expected.items():
        assert any(p.startswith(place) and word in p for p in problems), f"{what} not reported in {problems}"
    # a field that *is* in the schema is not reported
    assert not any("'seen'" in p for p in problems)


def test_a_dictionary_error_is_a_config_error_whose_message_lists_each_problem() -> None:
    error = DictionaryError(["a.yaml: types/x/stage: bad", "a.yaml: types/y/pii: bad"])
    assert isinstance(error, ConfigError)
    assert "types/x/stage" in str(error) and "types/y/pii" in str(error)


def test_a_user_file_that_breaks_the_file_format_is_reported_by_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "shape.yaml",
        f"""\
        dictionary: acme
        types:
          acme.no_example:
            version: 1
            label: {LABEL}
            stage: delivery
            leg: order
            data: {{type: object}}
            visibility: {{}}
        """,
    )
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: at types/acme.no_example") and "example" in p for p in problems), problems


def test_a_user_file_that_is_not_yaml_is_reported_with_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, "junk.yaml", "dictionary: [unclosed\n")
    problems = problems_of(path)
    assert problems and problems[0].startswith(str(path))


def test_a_user_type_may_not_show_a_consumer_the_device_or_proof(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "leaky.yaml",
        f"""\
        dictionary: acme
        types:
          acme.leaky:
            version: 1
            label: {LABEL}
            stage: delivery
            leg: order
            data: {{type: object}}
            visibility: {{consumer: {{fields: "*", details: true}}}}
            example: {{data: {{}}}}
        """,
    )
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: types/acme.leaky/visibility/consumer") for p in problems), problems


def test_a_missing_user_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(extra=[missing])
    assert str(missing) in caught.value.problems[0]


# ------------------------------------------------------------------ user files that work


GIFT_WRAP = f"""\
dictionary: acme
stages:
  - id: gifting
    label: {{zh: 礼品, en: Gifting}}
types:
  acme.gift_wrapped:
    version: 1
    label: {{zh: 已礼品包装, en: Gift wrapped}}
    stage: gifting
    leg: central_wh
    requires: [actor]
    data:
      type: object
      required: [paper]
      additionalProperties: false
      properties:
        paper: {{type: string, enum: [red, gold]}}
        card_text: {{type: string, maxLength: 200}}
    pii: [card_text]
    visibility:
      consumer: {{label: {LABEL}, fields: [paper]}}
    timers:
      - {{id: not_shipped, after: 2h, expect: [outbound.scanned]}}
    example:
      actor: "emp:w1"
      data: {{paper: gold, card_text: 生日快乐}}
"""


def test_a_user_file_adds_a_new_type_on_top_of_core(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", GIFT_WRAP)
    d = load_dictionary(extra=[path])
    gift = d.types["acme.gift_wrapped"]
    assert gift.origin == str(path)
    assert "gifting" in d.stages
    assert "order.placed" in d.types and "linehaul.in_transit" in d.types
    assert gift.view("consumer").fields == frozenset({"paper"})
    assert gift.view("ops").details is True  # from the core defaults
    assert gift.view("finance").visible is False
    assert gift.timers[0].after == timedelta(hours=2)
    event = validate_event(raw_event(d, "acme.gift_wrapped", eid="g-1"), d, NOW)
    assert event.data == {"paper": "gold", "card_text": "生日快乐"}


def test_a_folder_of_user_files_is_loaded_too(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", GIFT_WRAP)
    d = load_dictionary(extra=[tmp_path])
    assert "acme.gift_wrapped" in d.types


def test_check_file_accepts_a_good_user_file(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", GIFT_WRAP)
    d = check_file(path)
    assert "acme.gift_wrapped" in d.types
    assert "order.placed" in d.types


def test_the_new_type_is_unknown_without_the_user_file() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_event(raw_event(shipped(), "review.posted", eid="r") | {"type": "acme.gift_wrapped"}, shipped(), NOW)
    assert [(p.field, p.rule) for p in caught.value.problems] == [("type", "known_type")]


# ------------------------------------------------------------------ versions and upcasting


REVIEW_V2 = f"""\
dictionary: acme
types:
  review.posted:
    version: 2
    label: {{zh: 已评价, en: Review posted}}
    stage: after_sales
    leg: customer
    data:
      type: object
      required: [rating]
      additionalProperties: false
      properties:
        rating: {{type: integer, minimum: 1, maximum: 5}}
        sku: {{type: string, maxLength: 64}}
        comment: {{type: string, maxLength: 2000}}
        platform: {{type: string, maxLength: 64}}
    visibility:
      consumer: {{label: {LABEL}, fields: [rating, comment]}}
    upcast:
      - {{from: 1, rename: {{text: comment}}}}
    example:
      data: {{rating: 4, comment: 新鲜}}
"""


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Dictionary:
    """The shipped dictionary with review.posted redefined at version 2 (loaded once for this module)."""
    return load_dictionary(extra=[write(tmp_path_factory.mktemp("v2"), "review_v2.yaml", REVIEW_V2)])


def test_a_redefinition_at_a_higher_version_replaces_the_schema(v2: Dictionary) -> None:
    d = v2
    review = d.types["review.posted"]
    assert review.version == 2
    assert "comment" in review.data_schema["properties"]
    assert "text" not in review.data_schema["properties"]


def test_upcast_renames_a_version_1_field(v2: Dictionary) -> None:
    review = v2.types["review.posted"]
    assert review.upcast({"rating": 5, "text": "好"}, 1) == {"rating": 5, "comment": "好"}
    # a payload already at the current version is left alone
    assert review.upcast({"rating": 5, "comment": "好"}, 2) == {"rating": 5, "comment": "好"}


def test_a_version_1_event_validates_against_the_version_2_schema(v2: Dictionary) -> None:
    d = v2
    raw = {
        "id": "rv-1",
        "type": "review.posted",
        "source": "t",
        "oid": "OL-REVIEW",
        "time": "2026-05-01T09:00:00+08:00",
        "schemaver": 1,
        "data": {"rating": 5, "text": "团长很负责"},
    }
    event = validate_event(raw, d, NOW)
    # stored in the current shape, so personal-data paths and readers see one version
    assert event.schemaver == 2
    assert event.data == {"rating": 5, "comment": "团长很负责"}


def test_an_event_stored_before_the_upgrade_is_upcast_on_read(v2: Dictionary) -> None:
    from orderloom.core.envelope import Event
    from orderloom.store.memory import MemoryEventStore
    from orderloom.store.port import AppendRequest

    store = MemoryEventStore()
    old = Event("rv-old", "review.posted", "t", "OL-OLD", "2026-05-01T01:00:00.000000Z", {"rating": 4, "text": "好"})
    store.append(AppendRequest([old]))
    chain = build_chain(store.read_stream("OL-OLD"), v2)
    assert chain["steps"][0]["data"] == {"rating": 4, "comment": "好"}
    assert store.read_stream("OL-OLD")[0].data == {"rating": 4, "text": "好"}  # the log itself is never rewritten


def test_an_old_field_under_the_new_version_is_refused(v2: Dictionary) -> None:
    d = v2
    raw = {
        "id": "rv-2",
        "type": "review.posted",
        "source": "t",
        "oid": "OL-REVIEW",
        "time": "2026-05-01T09:00:00+08:00",
        "data": {"rating": 5, "text": "团长很负责"},
    }
    with pytest.raises(ValidationFailed) as caught:
        validate_event(raw, d, NOW)
    assert [(p.field, p.rule) for p in caught.value.problems] == [("data.text", "unknown_field")]


def test_a_version_above_the_current_one_is_refused(v2: Dictionary) -> None:
    d = v2
    raw = raw_event(d, "review.posted", eid="rv-3") | {"schemaver": 3}
    with pytest.raises(ValidationFailed) as caught:
        validate_event(raw, d, NOW)
    assert [(p.field, p.rule) for p in caught.value.problems] == [("schemaver", "maximum")]


def test_a_version_1_event_reads_back_with_the_renamed_field(v2: Dictionary) -> None:
    d = v2
    r = rig(d)
    oid = r.place("OL-REVIEW")
    r.record(
        {
            "id": "rv-1",
            "type": "review.posted",
            "source": "t",
            "oid": oid,
            "time": "2026-05-01T09:00:00+08:00",
            "schemaver": 1,
            "data": {"rating": 5, "text": "团长很负责"},
        }
    )
    chain = build_chain(r.store.read_stream(oid), d)
    review = next(s for s in chain["steps"] if s["type"] == "review.posted")
    assert review["data"] == {"rating": 5, "comment": "团长很负责"}
    consumer = r.reader.chain(oid, "consumer")
    step = next(s for s in consumer["steps"] if s["type"] == "review.posted")
    assert step["data"] == {"rating": 5, "comment": "团长很负责"}


def test_an_upcast_must_start_below_the_current_version(tmp_path: Path) -> None:
    path = write(tmp_path, "bad_upcast.yaml", REVIEW_V2.replace("{from: 1,", "{from: 2,"))
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: types/review.posted/upcast") for p in problems), problems
