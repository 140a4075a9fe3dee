"""Event validation: each broken rule becomes a Problem naming the field and the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderloom.core.envelope import Event
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.dictionary.validation import validate_event
from tests.unit._support import NOW, raw_event, shipped

D = shipped()


def valid(type_id: str = "linehaul.in_transit", **changes: Any) -> dict[str, Any]:
    """A valid raw event of `type_id`, with top-level attributes replaced by `changes`."""
    raw = raw_event(D, type_id, eid="evt-1", oid="OL-VALID", minutes=30)
    raw.update(changes)
    return raw


def without(raw: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in keys}


def problems(raw: Any, *, allow_internal: bool = False, now: datetime = NOW) -> list[Problem]:
    with pytest.raises(ValidationFailed) as caught:
        validate_event(raw, D, now, allow_internal=allow_internal)
    assert caught.value.problems, "ValidationFailed must list at least one problem"
    return caught.value.problems


def rules(raw: Any, **kw: Any) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in problems(raw, **kw)]


# ------------------------------------------------------------------ the envelope


def test_a_valid_event_comes_back_as_an_event() -> None:
    event = validate_event(valid(), D, NOW)
    assert isinstance(event, Event)
    assert (event.id, event.type, event.oid, event.source) == ("evt-1", "linehaul.in_transit", "OL-VALID", "tests/unit")
    assert event.actor == "driver:D-3321"
    assert event.deviceid == "gps:GT06-88231"
    assert event.proof["vehicle_id"] == "沪A·D1234"
    assert event.schemaver == 1


@pytest.mark.parametrize("attribute", ["id", "type", "oid", "time", "source"])
def test_a_missing_envelope_attribute_is_named_as_required(attribute: str) -> None:
    assert (attribute, "required") in rules(without(valid(), attribute))


@pytest.mark.parametrize("attribute", ["id", "source"])
def test_an_empty_envelope_attribute_counts_as_missing(attribute: str) -> None:
    assert (attribute, "required") in rules(valid(**{attribute: ""}))


def test_every_problem_is_reported_at_once() -> None:
    found = rules(without(valid(), "id", "time", "source"))
    assert {("id", "required"), ("time", "required"), ("source", "required")} <= set(found)


def test_a_non_object_is_refused_as_a_whole() -> None:
    assert rules(["not", "an", "event"]) == [("(event)", "type")]


def test_an_id_with_spaces_is_badly_formatted() -> None:
    assert rules(valid(id="has spaces")) == [("id", "format")]


def test_an_oid_that_is_too_short_is_badly_formatted() -> None:
    assert rules(valid(oid="A1")) == [("oid", "format")]


def test_an_unknown_type_is_refused() -> None:
    assert rules(valid(type="linehaul.teleported")) == [("type", "known_type")]


def test_an_internal_type_is_refused_from_outside() -> None:
    raw = raw_event(D, "apikey.created", eid="k-1", oid="sys.keys")
    assert rules(raw) == [("type", "known_type")]


def test_an_internal_type_is_accepted_when_orderloom_writes_it() -> None:
    raw = raw_event(D, "apikey.created", eid="k-1", oid="sys.keys")
    assert validate_event(raw, D, NOW, allow_internal=True).type == "apikey.created"


def test_a_wrong_specversion_is_refused() -> None:
    assert rules(valid(specversion="0.3")) == [("specversion", "enum")]


@pytest.mark.parametrize("schemaver", [0, "1", True, 1.5])
def test_schemaver_must_be_a_whole_number_from_one(schemaver: Any) -> None:
    assert ("schemaver", "type") in rules(valid(schemaver=schemaver))


# ------------------------------------------------------------------ time


def test_time_is_normalised_to_utc_text_ending_in_z() -> None:
    event = validate_event(valid(time="2026-05-01T08:00:00+08:00"), D, NOW)
    assert event.time == "2026-05-01T00:00:00.000000Z"


def test_equal_instants_in_different_zones_normalise_to_the_same_text() -> None:
    a = validate_event(valid(time="2026-05-01T08:00:00.5+08:00"), D, NOW).time
    b = validate_event(valid(time="2026-05-01T00:00:00.500Z"), D, NOW).time
    c = validate_event(valid(time="2026-04-30T19:00:00.5-05:00"), D, NOW).time
    assert a == b == c == "2026-05-01T00:00:00.500000Z"


@pytest.mark.parametrize("bad", ["yesterday", "2026-05-01", "2026/05/01 08:00:00+08:00", 1714521600, ["2026"]])
def test_a_time_that_is_not_rfc_3339_is_badly_formatted(bad: Any) -> None:
    assert rules(valid(time=bad)) == [("time", "format")]


def test_a_time_without_a_timezone_is_refused_saying_so() -> None:
    found = problems(valid(time="2026-05-01T08:00:00.000000"))
    assert [(p.field, p.rule) for p in found] == [("time", "format")]
    assert "timezone" in found[0].message


def test_a_time_far_in_the_future_is_refused() -> None:
    tomorrow = (NOW + timedelta(days=1)).isoformat()
    found = problems(valid(time=tomorrow))
    assert [(p.field, p.rule) for p in found] == [("time", "not_in_future")]
    assert "clock" in found[0].message


def test_a_time_a_few_minutes_ahead_is_tolerated_for_clock_drift() -> None:
    soon = (NOW + timedelta(minutes=10)).isoformat()
    assert validate_event(valid(time=soon), D, NOW).occurred_at == NOW + timedelta(minutes=10)


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_representable_range_is_a_problem_not_a_crash(edge: str) -> None:
    assert rules(valid(time=edge))[0][0] == "time"


def test_a_time_before_year_1000_is_refused_or_kept_fixed_width_and_readable() -> None:
    try:
        event = validate_event(valid(time="0999-01-01T00:00:00Z"), D, NOW)
    except ValidationFailed as exc:
        assert exc.problems[0].field == "time"
        return
    assert event.time == "0999-01-01T00:00:00.000000Z"
    assert event.occurred_at.year == 999


# ------------------------------------------------------------------ who recorded it, and the proof


@pytest.mark.parametrize("attribute", ["actor", "deviceid"])
def test_a_missing_actor_or_device_is_required_when_the_type_says_so(attribute: str) -> None:
    assert rules(without(valid(), attribute)) == [(attribute, "required")]


def test_actor_and_device_are_optional_when_the_type_does_not_require_them() -> None:
    raw = without(valid("review.posted"), "actor", "deviceid")
    assert validate_event(raw, D, NOW).actor is None


@pytest.mark.parametrize("attribute", ["actor", "deviceid"])
def test_actor_and_device_must_be_short_text(attribute: str) -> None:
    assert (attribute, "type") in rules(valid(**{attribute: 42}))
    assert (attribute, "type") in rules(valid(**{attribute: "x" * 129}))


def test_a_missing_proof_field_is_named_with_its_path() -> None:
    raw = valid()
    raw["proof"] = {"vehicle_id": "沪A·D1234"}
    assert rules(raw) == [("proof.gps_hash", "required")]


def test_a_proof_that_is_not_an_object_is_refused() -> None:
    assert rules(valid(proof=["gps"])) == [("proof", "type")]


def test_a_proof_on_a_type_that_takes_none_is_refused() -> None:
    assert rules(valid("review.posted", proof={"photo": "x"})) == [("proof", "unexpected")]


def test_a_missing_proof_is_refused_when_the_type_has_required_proof_fields() -> None:
    assert rules(without(valid(), "proof")) == [("proof.gps_hash", "required")]


# ------------------------------------------------------------------ the payload


def test_a_wrong_type_names_the_data_field() -> None:
    raw = raw_event(D, "pack.completed", eid="p-1", oid="OL-VALID", data={"packages": "two"})
    found = problems(raw)
    assert [(p.field, p.rule) for p in found] == [("data.packages", "type")]
    assert "whole number" in found[0].message


def test_a_value_outside_the_enum_is_refused() -> None:
    raw = raw_event(D, "delivery.delivered", eid="d-1", oid="OL-VALID", data={"handover": "thrown_over_fence"})
    found = problems(raw)
    assert [(p.field, p.rule) for p in found] == [("data.handover", "enum")]
    assert "in_person" in found[0].message


def test_a_number_below_the_minimum_is_refused() -> None:
    raw = raw_event(D, "pack.completed", eid="p-1", oid="OL-VALID", data={"packages": 0})
    assert rules(raw) == [("data.packages", "minimum")]


def test_a_missing_data_field_is_named_with_its_path() -> None:
    raw = raw_event(D, "pack.completed", eid="p-1", oid="OL-VALID", drop=("node",))
    assert rules(raw) == [("data.node", "required")]


def test_an_unknown_data_field_is_refused() -> None:
    raw = raw_event(D, "pack.completed", eid="p-1", oid="OL-VALID", data={"colour": "blue"})
    found = problems(raw)
    assert [(p.field, p.rule) for p in found] == [("data.colour", "unknown_field")]


def test_an_unknown_nested_data_field_is_named_with_its_full_path() -> None:
    raw = raw_event(D, "order.placed", eid="o-1", oid="OL-VALID")
    raw["data"]["recipient"]["nickname"] = "小王"
    assert rules(raw) == [("data.recipient.nickname", "unknown_field")]


def test_a_problem_inside_a_list_names_the_item() -> None:
    raw = raw_event(D, "order.placed", eid="o-1", oid="OL-VALID")
    raw["data"]["lines"][1]["qty"] = 0
    found = rules(raw)
    assert len(found) == 1
    assert found[0][1] == "minimum"
    assert found[0][0].startswith("data.lines") and "1" in found[0][0] and found[0][0].endswith("qty")


def test_data_that_is_not_an_object_is_refused() -> None:
    assert rules(valid(data=["location"])) == [("data", "type")]


# ------------------------------------------------------------------ attributes


def test_an_unknown_top_level_attribute_is_refused() -> None:
    found = problems(valid(colour="blue"))
    assert [(p.field, p.rule) for p in found] == [("colour", "unknown_attribute")]
    assert "data" in found[0].message


def test_optional_cloudevents_attributes_are_accepted() -> None:
    event = validate_event(valid(datacontenttype="application/json", subject="x"), D, NOW)
    assert event.id == "evt-1"


def test_store_assigned_attributes_are_ignored() -> None:
    plain = validate_event(valid(), D, NOW)
    exported = valid(seq=7, position=99, prevhash="0" * 64, hash="f" * 64, recorded="2026-05-01T00:00:00.000000Z")
    again = validate_event(exported, D, NOW)
    assert again == plain
    assert again.body() == plain.body()
    assert b"prevhash" not in again.body()


# ------------------------------------------------------------------ properties: Event or ValidationFailed only

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def aware_times(first_year: int) -> st.SearchStrategy[str]:
    """RFC 3339 text of aware datetimes that stay within datetime's range after conversion to UTC."""
    return st.builds(
        lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
        st.datetimes(min_value=datetime(first_year, 1, 2), max_value=datetime(9998, 12, 31)),
        st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    )


WIDE_TIMES = aware_times(1)
TIMES = aware_times(1000)

TYPES = sorted(D.types)


def outcome_is_event_or_validation_failed(raw: Any, allow_internal: bool = False) -> None:
    try:
        result = validate_event(raw, D, NOW, allow_internal=allow_internal)
    except ValidationFailed as exc:
        assert exc.problems
        # (the field may be "" when the event has an attribute whose name is empty)
        assert all(isinstance(p, Problem) and isinstance(p.field, str) and p.rule and p.message for p in exc.problems)
    else:
        assert isinstance(result, Event)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_value_gives_an_event_or_validation_failed(value: Any) -> None:
    outcome_is_event_or_validation_failed(value)


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    type_id = draw(st.sampled_from(TYPES))
    raw = raw_event(D, type_id, eid="m-1", oid="OL-MUTANT", minutes=5)
    places = [
        *(("top", k) for k in [*raw, "schemaver", "specversion", "seq", "colour"]),
        *(("data", k) for k in raw["data"]),
        *(("proof", k) for k in raw.get("proof", {})),
    ]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where, key = draw(st.sampled_from(places))
        target = raw if where == "top" else raw.get(where)
        if not isinstance(target, dict):
            continue
        action = draw(st.sampled_from(["replace", "delete", "time"]))
        if action == "delete":
            target.pop(key, None)
        elif action == "time":
            target[key] = draw(WIDE_TIMES)
        else:
            target[key] = draw(JSON)
    return raw, draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_any_mutation_of_a_valid_event_gives_an_event_or_validation_failed(case: tuple[dict[str, Any], bool]) -> None:
    raw, allow_internal = case
    outcome_is_event_or_validation_failed(raw, allow_internal)


@settings(max_examples=100, deadline=None)
@given(TIMES)
def test_any_in_range_time_is_accepted_or_named_as_the_time_problem(text: str) -> None:
    try:
        event = validate_event(valid(time=text), D, NOW)
    except ValidationFailed as exc:
        found = [(p.field, p.rule) for p in exc.problems]
        assert found in ([("time", "not_in_future")], [("time", "format")])
        if found == [("time", "format")]:
            assert not 1970 <= datetime.fromisoformat(text).astimezone(UTC).year <= 9998
    else:
        assert event.time.endswith("Z") and len(event.time) == len("2026-05-01T00:00:00.000000Z")
