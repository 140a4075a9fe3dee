"""DuckDB results as JSON-ready rows: times as RFC 3339 text, decimals as numbers, limited in count."""

from __future__ import annotations

import base64
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import duckdb

# DuckDB turns TIMESTAMP WITH TIME ZONE values into Python objects only with pytz installed; the
# sessions run in UTC, so these columns are formatted as text in SQL instead.
_TZ = "WITH TIME ZONE"
ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True, slots=True)
class Rows:
    """A result: column names and types, rows, and whether more rows were cut off."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool

    def records(self) -> list[dict[str, Any]]:
        """The rows as objects keyed by column name."""
        names = [c["name"] for c in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows]


def fetch(rel: duckdb.DuckDBPyRelation, limit: int | None = None) -> Rows:
    """Run the relation and fetch at most `limit` rows (None: all)."""
    names = list(rel.columns)
    types = [str(t) for t in rel.types]
    exprs = []
    for i, (name, kind) in enumerate(zip(names, types, strict=True), start=1):
        alias = '"' + name.replace('"', '""') + '"'
        if kind == "TIMESTAMP WITH TIME ZONE":
            exprs.append(f"strftime(#{i}, '{ISO_UTC}') AS {alias}")
        elif _TZ in kind:
            exprs.append(f"CAST(#{i} AS VARCHAR) AS {alias}")
        else:
            exprs.append(f"#{i} AS {alias}")
    shown = rel.project(", ".join(exprs)) if any(_TZ in t for t in types) else rel
    if limit is not None:
        shown = shown.limit(limit + 1)
    found = shown.fetchall()
    truncated = limit is not None and len(found) > limit
    if truncated:
        found = found[:limit]
    return Rows(
        [
            {"name": n, "type": "TIMESTAMPTZ" if t == "TIMESTAMP WITH TIME ZONE" else t}
            for n, t in zip(names, types, strict=True)
        ],
        [[plain(v) for v in row] for row in found],
        truncated,
    )


def plain(value: Any) -> Any:
    """One DuckDB value as something JSON can carry."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)
