"""Mapping specs: path expressions, rules, unit conversions, and load-time errors that name file and place."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from orderloom.connectors import MappingError, apply_spec, load_spec, parse_spec
from orderloom.connectors.paths import MISSING, get, parse_path, put
from orderloom.connectors.registry import Connectors
from orderloom.connectors.units import convert
from orderloom.core.errors import ConfigError, NotFound, ValidationFailed

PAYLOAD = {
    "id": 42,
    "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 3}],
    "attrs": [{"name": "window", "value": "am"}, {"name": "gift", "value": True}],
    "x-meta": {"a.b": "dotted"},
}


def spec(fields: dict[str, Any], kind: str = "fact", **extra: Any) -> Any:
    return parse_spec({"connector": "test", "kind": kind, "fields": fields, **extra}, "test.yaml")


def test_paths_walk_objects_arrays_filters_and_quoted_keys() -> None:
    def at(text: str) -> Any:
        return get(parse_path(text), PAYLOAD, PAYLOAD)

    assert at("items[1].sku") == "B"
    assert at("items[-1].qty") == 3
    assert at("items[*].sku") == ["A", "B"]
    assert at("attrs[?name=window].value") == "am"
    assert at("attrs[?name='gift'].value") is True
    assert at('["x-meta"]["a.b"]') == "dotted"
    assert at("items[5].sku") is MISSING
    assert at("id.nope") is MISSING


def test_a_root_path_reaches_the_payload_from_inside_an_item() -> None:
    item = PAYLOAD["items"][0]
    assert get(parse_path("$.id"), item, PAYLOAD) == 42
    assert get(parse_path("sku"), item, PAYLOAD) == "A"


@pytest.mark.parametrize("bad", ["a..b", "a.", "items[x]", "a[0]b", ""])
def test_a_malformed_path_is_refused_with_its_text(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_path(bad)


def test_put_builds_nested_objects_and_lists() -> None:
    doc: dict[str, Any] = {}
    put(doc, parse_path("source_refs[0].system"), "erp")
    put(doc, parse_path("source_refs[0].number"), "7")
    put(doc, parse_path("data.weight_kg"), 1.5)
    assert doc == {"source_refs": [{"system": "erp", "number": "7"}], "data": {"weight_kg": 1.5}}


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1620, "g", "kg", 1.62),
        (135060, "cents", "yuan", 1350.6),
        (98.6, "F", "C", 37.0),
        (0, "C", "K", 273.15),
        (22.8, "m/s", "km/h", 82.08),
        (1, "mi", "km", 1.609344),
    ],
)
def test_units_convert_between_units_of_one_dimension(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target) == pytest.approx(expected)


def test_rules_read_template_map_cast_convert_round_and_digest() -> None:
    s = spec(
        {
            "ref": {"template": "shop-{id}"},
            "first": {"path": "items[0].sku", "case": "lower"},
            "window": {"path": "attrs[?name=window].value", "map": {"am": "morning"}, "else": "any"},
            "qty": {"path": "items[1].qty", "type": "string"},
            "grams": {"path": "items[1].qty", "convert": {"from": "kg", "to": "g"}, "round": 0},
            "digest": {"template": "{id}", "digest": "sha256"},
            "fixed": {"const": None},
            "skus": {"each": "items", "fields": {"code": "sku", "order": {"path": "$.id"}}},
        }
    )
    (doc,) = apply_spec(s, PAYLOAD)
    assert doc["ref"] == "shop-42" and doc["first"] == "a" and doc["window"] == "morning"
    assert doc["qty"] == "3" and doc["grams"] == 3000 and isinstance(doc["grams"], int)
    assert doc["digest"] == hashlib.sha256(b"42").hexdigest()
    assert "fixed" not in doc, "a null value leaves the field out"
    assert doc["skus"] == [{"code": "A", "order": 42}, {"code": "B", "order": 42}]


def test_missing_values_take_the_default_or_are_left_out_unless_required() -> None:
    s = spec({"a": {"path": "nope", "default": 7}, "b": {"path": "nope"}, "c": {"path": "nope", "required": True}})
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(s, PAYLOAD)
    (problem,) = caught.value.problems
    assert (problem.field, problem.rule) == ("c", "required") and "nope" in problem.message
    (doc,) = apply_spec(spec({"a": {"path": "nope", "default": 7}, "b": {"path": "nope"}}), PAYLOAD)
    assert doc == {"a": 7}


def test_a_value_outside_the_map_without_else_is_refused_naming_value_and_source() -> None:
    s = spec({"kind": {"path": "items[0].sku", "map": {"Z": "zed"}}})
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(s, PAYLOAD)
    (problem,) = caught.value.problems
    assert problem.rule == "map" and "'A'" in problem.message and "items[0].sku" in problem.message


def test_casts_refuse_what_they_cannot_read_and_name_the_field() -> None:
    s = spec({"n": {"path": "attrs[0].value", "type": "number"}, "when": {"path": "id", "type": "time"}})
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(s, {**PAYLOAD, "id": "last tuesday"})
    fields = {p.field: p.rule for p in caught.value.problems}
    assert fields == {"n": "type", "when": "format"}


def test_epoch_times_become_rfc3339_and_offsets_are_kept() -> None:
    s = spec(
        {"a": {"path": "s", "type": "time"}, "b": {"path": "ms", "type": "time"}, "c": {"path": "t", "type": "time"}}
    )
    (doc,) = apply_spec(s, {"s": 1777593600, "ms": 1777593600123, "t": "2026-05-01T08:00:00+08:00"})
    assert doc == {
        "a": "2026-05-01T00:00:00.000000Z",
        "b": "2026-05-01T00:00:00.123000Z",
        "c": "2026-05-01T08:00:00+08:00",
    }


def test_a_condition_applies_a_rule_only_for_matching_payloads() -> None:
    s = spec({"w": {"path": "qty", "when": {"path": "kind", "in": ["PACK"]}}})
    assert apply_spec(s, {"kind": "PACK", "qty": 1}) == [{"w": 1}]
    assert apply_spec(s, {"kind": "PICK", "qty": 1}) == [{}]


def test_an_event_without_a_mapped_id_gets_a_deterministic_one() -> None:
    s = spec({"type": {"const": "x.y"}, "oid": {"path": "o"}, "time": {"path": "t"}}, kind="event")
    first = apply_spec(s, {"o": "OL-1", "t": "2026-05-01T08:00:00+08:00"})[0]
    again = apply_spec(s, {"o": "OL-1", "t": "2026-05-01T08:00:00+08:00"})[0]
    other = apply_spec(s, {"o": "OL-2", "t": "2026-05-01T08:00:00+08:00"})[0]
    assert first["id"] == again["id"] != other["id"] and first["id"].startswith("test-")
    assert first["source"] == "connector/test"


def test_a_top_level_each_yields_one_document_per_item_and_needs_the_list() -> None:
    s = spec({"sku": "sku"}, each="items")
    assert apply_spec(s, PAYLOAD) == [{"sku": "A"}, {"sku": "B"}]
    with pytest.raises(ValidationFailed) as caught:
        apply_spec(s, {"items": []})
    assert caught.value.problems[0].field == "items"


def test_a_broken_mapping_file_lists_every_problem_with_file_and_place(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        "connector: Bad Name\n"
        "kind: event\n"
        "secret_env: sk_live_123\n"
        "fields:\n"
        "  type: {const: x.y}\n"
        "  oid: {path: a, lookup: erp}\n"
        "  data.w: {path: w, convert: {from: g, to: km}}\n"
        "  data.v: {path: v, map: {a: b}, frobnicate: 1}\n"
        "  vendor: {path: x}\n"
        "  data.z: {path: 'a..b'}\n"
        "  data.q: {path: q, const: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_spec(f)
    text = "\n".join(caught.value.problems)
    assert all(p.startswith(f"{f}: at ") for p in caught.value.problems)
    for where in (
        "at connector:",
        "at secret_env:",
        "at fields/data.w/convert:",
        "at fields/data.v/frobnicate:",
        "at fields/vendor:",
        "at fields/data.z/path:",
        "at fields/data.q:",
        "must fill 'time'",
    ):
        assert where in text, where
    assert "must name an environment variable" in text


def test_a_user_mapping_folder_replaces_a_shipped_connector_and_unknown_ones_are_named(tmp_path: Path) -> None:
    (tmp_path / "wms.yaml").write_text(
        "connector: wms\nkind: signal\nfields:\n"
        "  type: {const: node.backlog}\n  target: {path: n}\n  time: {path: t}\n",
        encoding="utf-8",
    )
    conns = Connectors.from_env({"ORDERLOOM_CONNECTORS": str(tmp_path)})
    assert conns.get("wms").kind == "signal" and conns.get("shopify").kind == "order"
    with pytest.raises(NotFound) as caught:
        conns.get("nope")
    assert "shopify" in str(caught.value)
