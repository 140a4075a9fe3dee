"""Networks from spreadsheets: `nodes.csv` and `services.csv`, checked by the same rules as the YAML form.

Planners keep node lists in spreadsheets, so a network can be two CSV files in
one folder. Columns are the YAML fields; capacities are `pick`, `pack` and
`sort` columns, stock is one column of `SKU:qty` pairs separated by `;`.
Each cell becomes the value the YAML parser expects, and the parser reports
problems by row (`nodes[3].lat`), so a spreadsheet error names its row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from orderloom.core.errors import Problem, ValidationFailed
from orderloom.routing.network import STAGES, Network, parse_network

NUMBERS = {
    "lat",
    "lng",
    "unit_cost",
    "service_radius_km",
    "radius_elasticity_km",
    "base",
    "per_km",
    "base_hours",
    "hours_per_100km",
    "max_km",
    "co2_kg_per_km",
}
FLAGS = {"cold_storage", "cold_chain"}


def load_network_csv(nodes_csv: str | Path) -> Network:
    """Read `nodes.csv` and the `services.csv` beside it; ValidationFailed names the file, row and column."""
    nodes_path = Path(nodes_csv)
    services_path = nodes_path.with_name("services.csv")
    if not services_path.is_file():
        raise ValidationFailed(
            [Problem(services_path.name, "required", f"put the carrier services in {services_path} beside the nodes")]
        )
    raw = {
        "nodes": [_node(row) for row in _rows(nodes_path)],
        "services": [_typed(row) for row in _rows(services_path)],
    }
    return parse_network(raw, source=nodes_path.name)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v == "":
            continue
        if k in NUMBERS:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v  # the parser names the field and says it must be a number
        elif k in FLAGS:
            out[k] = v.lower() in ("1", "true", "yes", "y", "是")
        else:
            out[k] = v
    return out


def _node(row: dict[str, str]) -> dict[str, Any]:
    out = _typed({k: v for k, v in row.items() if k not in STAGES and k != "stock"})
    out["capacity_per_hour"] = {s: _count(row.get(s, "0")) for s in STAGES}
    stock: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in row.get("stock", "").split(";"))):
        sku, _, qty = pair.partition(":")
        stock[sku.strip()] = _count(qty)
    out["stock"] = stock
    return out


def _count(text: str) -> int | str:
    try:
        return int(float(text or 0))
    except ValueError:
        return text
