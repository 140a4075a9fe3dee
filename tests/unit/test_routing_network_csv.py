"""A network kept in spreadsheets loads to the same model as its YAML form, and errors name the row."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from orderloom.core.errors import ValidationFailed
from orderloom.routing.network import CHINA_YAML, STAGES, Network, load_network

NODE_COLUMNS = ["id", "name", "kind", "city", "lat", "lng", *STAGES, "unit_cost", "stock", "cold_storage",
                "service_radius_km", "radius_elasticity_km", "hours"]  # fmt: skip
SERVICE_COLUMNS = ["id", "name", "kind", "base", "per_km", "base_hours", "hours_per_100km", "max_km", "cold_chain",
                   "co2_kg_per_km"]  # fmt: skip


def write_csv(net: Network, folder: Path) -> Path:
    with (folder / "nodes.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(NODE_COLUMNS)
        for n in net.nodes:
            caps = [n.capacity_per_hour.get(s, 0) for s in STAGES]
            stock = ";".join(f"{k}:{v}" for k, v in n.stock.items())
            cold = "yes" if n.cold_storage else "no"
            reach = [n.service_radius_km, n.radius_elasticity_km]
            w.writerow([n.id, n.name, n.kind, n.city, n.lat, n.lng, *caps, n.unit_cost, stock, cold, *reach, n.hours])
    with (folder / "services.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(SERVICE_COLUMNS)
        for s in net.services:
            w.writerow([s.id, s.name, s.kind, s.base, s.per_km, s.base_hours, s.hours_per_100km, s.max_km,
                        str(s.cold_chain).lower(), s.co2_kg_per_km])  # fmt: skip
    return folder / "nodes.csv"


def test_the_china_network_round_trips_through_csv(tmp_path: Path) -> None:
    china = load_network(CHINA_YAML)
    assert load_network(write_csv(china, tmp_path)) == china


def test_a_bad_cell_is_named_by_row_and_column(tmp_path: Path) -> None:
    path = write_csv(load_network(CHINA_YAML), tmp_path)
    rows = path.read_text(encoding="utf-8").splitlines()
    cells = rows[3].split(",")
    cells[4] = "north"  # lat of the third node
    rows[3] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_network(path)
    assert any(p.field.endswith("nodes[2].lat") for p in err.value.problems)


def test_services_must_sit_beside_the_nodes(tmp_path: Path) -> None:
    path = write_csv(load_network(CHINA_YAML), tmp_path)
    (tmp_path / "services.csv").unlink()
    with pytest.raises(ValidationFailed) as err:
        load_network(path)
    assert err.value.problems[0].field == "services.csv"
