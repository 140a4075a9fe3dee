"""The network model loads the bundled China network and names the field of every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderloom.core.errors import ConfigError, ValidationFailed
from orderloom.routing import CHINA_YAML, haversine_km, load_network

GOOD_NODE = """
  - id: A
    name: A仓
    kind: central_wh
    city: 上海
    lat: 31.23
    lng: 121.47
    capacity_per_hour: {pick: 10, pack: 10, sort: 10}
    unit_cost: 3
"""
GOOD_SERVICE = """
  - {id: next_day, name: 次日达, kind: next_day, base: 8, per_km: 0.006,
     base_hours: 14, hours_per_100km: 1.2, max_km: 800}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def fields_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {p.field for p in exc.value.problems}


def test_the_bundled_china_network_has_fifty_nodes_on_real_city_coordinates() -> None:
    net = load_network(CHINA_YAML)
    assert len(net.nodes) == 50
    assert {s.kind for s in net.services} == {"same_city", "next_day", "standard", "freight"}
    central = {n.city for n in net.nodes if n.kind == "central_wh"}
    assert central == {"上海", "北京", "广州", "成都", "武汉", "西安", "沈阳"}
    shanghai = net.node("SH-CWH")
    assert (shanghai.lat, shanghai.lng) == (31.230416, 121.473701)
    assert net.node("SH-CWH").has("YOG-500G", 1) and net.node("SH-CWH").cold_storage


def test_the_china_yaml_says_where_its_coordinates_come_from() -> None:
    head = CHINA_YAML.read_text(encoding="utf-8").splitlines()[:4]
    assert any("pyecharts 2.1.0" in line and "city_coordinates.json" in line for line in head)
    assert any("MIT" in line for line in head)


def test_haversine_gives_the_known_shanghai_to_beijing_distance() -> None:
    km = haversine_km(31.230416, 121.473701, 39.90403, 116.407526)
    assert 1060 < km < 1075
    assert haversine_km(30.0, 120.0, 30.0, 120.0) == 0.0


def test_a_bad_value_is_reported_with_its_yaml_path_and_the_file_name(tmp_path: Path) -> None:
    bad = GOOD_NODE + GOOD_NODE.replace("id: A", "id: B").replace("lat: 31.23", "lat: 95")
    bad_service = GOOD_SERVICE.replace("kind: next_day", "kind: drone")
    with pytest.raises(ValidationFailed) as exc:
        load_network(write(tmp_path, f"nodes:{bad}services:{bad_service}"))
    assert fields_of(exc) == {"nodes[1].lat", "services[0].kind"}
    assert "net.yaml" in str(exc.value) and "between -90 and 90" in str(exc.value)


def test_a_missing_capacity_stage_and_a_negative_stock_are_named(tmp_path: Path) -> None:
    node = GOOD_NODE.replace("sort: 10}", "}").replace("unit_cost: 3", "unit_cost: 3\n    stock: {HP-PRO-X: -1}")
    with pytest.raises(ValidationFailed) as exc:
        load_network(write(tmp_path, f"nodes:{node}services:{GOOD_SERVICE}"))
    assert fields_of(exc) == {"nodes[0].capacity_per_hour.sort", "nodes[0].stock.HP-PRO-X"}


def test_duplicate_node_ids_and_missing_sections_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as exc:
        load_network(write(tmp_path, f"nodes:{GOOD_NODE}{GOOD_NODE}"))
    assert fields_of(exc) == {"nodes", "services"}


def test_opening_hours_and_flags_are_checked(tmp_path: Path) -> None:
    node = GOOD_NODE + "    hours: 8am-10pm\n    cold_storage: yes please\n"
    with pytest.raises(ValidationFailed) as exc:
        load_network(write(tmp_path, f"nodes:{node}services:{GOOD_SERVICE}"))
    assert fields_of(exc) == {"nodes[0].hours", "nodes[0].cold_storage"}


def test_unreadable_or_malformed_files_are_config_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_network(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"net\.yaml is not valid YAML"):
        load_network(write(tmp_path, "nodes: [unclosed"))
