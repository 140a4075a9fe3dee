"""The conditions a root-cause search combines: `attribute = value`, and ranges on ordered attributes.

An attribute is ordered when its values are bands such as `18-24`, `35-44`, `55+`
(sorted by their first number) or plain numbers (cut into quartile bands). On
ordered attributes the search also tries `value or above` and `value or below`,
so a cause such as "35 and older" is one condition, not three half-causes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.bool_]

_BAND = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:[-–~]\s*\d+(?:\.\d+)?|\+)?\s*$")
_MAX_VALUES = 40  # an attribute with more distinct values is an identifier, not a cause
_NUMERIC_BANDS = 4


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on an attribute: `=` a value, or (ordered attributes) `>=` / `<=` a band."""

    attribute: str
    op: str  # "=", ">=", "<="
    value: str

    def text(self) -> str:
        """The condition as an ops person reads it."""
        if self.op == ">=":
            return f"{self.attribute} is {self.value} or above"
        if self.op == "<=":
            return f"{self.attribute} is {self.value} or below"
        return f"{self.attribute} is {self.value}"

    def as_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"attribute": self.attribute, "op": self.op, "value": self.value}


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute's values per unit (as text, None when unknown) and, if ordered, its band order."""

    name: str
    values: tuple[str | None, ...]
    order: tuple[str, ...] | None = None  # ordered attributes: the bands, lowest first


def label(value: Any) -> str:
    """A value as text: booleans read yes/no, whole floats lose their `.0`."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


def attributes(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[Attribute]:
    """Describe each named attribute over `rows`; attributes with one value or too many are left out."""
    out = []
    for name in names:
        raw = [row.get(name) for row in rows]
        present = [v for v in raw if v is not None and v != ""]
        if not present:
            continue
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
        if numeric and len(set(present)) > _MAX_VALUES // 4:
            out.append(_numeric(name, raw))
            continue
        texts = tuple(None if v is None or v == "" else label(v) for v in raw)
        distinct = {t for t in texts if t is not None}
        if len(distinct) < 2 or len(distinct) > _MAX_VALUES:
            continue
        order = _band_order(distinct)
        out.append(Attribute(name, texts, order))
    return out


def _band_order(values: set[str]) -> tuple[str, ...] | None:
    starts = {}
    for v in values:
        m = _BAND.match(v)
        if m is None:
            return None
        starts[v] = float(m.group(1))
    return tuple(sorted(values, key=lambda v: starts[v]))


def _numeric(name: str, raw: list[Any]) -> Attribute:
    numbers = np.array([float(v) for v in raw if v is not None and v != ""])
    edges = np.unique(np.quantile(numbers, np.linspace(0, 1, _NUMERIC_BANDS + 1)))
    bands = [f"{label(round(float(lo), 2))}-{label(round(float(hi), 2))}" for lo, hi in itertools.pairwise(edges)]

    def band(v: Any) -> str | None:
        if v is None or v == "":
            return None
        i = int(np.searchsorted(edges, float(v), side="right")) - 1
        return bands[min(max(i, 0), len(bands) - 1)]

    return Attribute(name, tuple(band(v) for v in raw), tuple(bands))


def conditions(attribute: Attribute) -> list[tuple[Condition, Mask]]:
    """Every condition worth testing on one attribute, with the units it covers."""
    values = np.array([v if v is not None else "" for v in attribute.values], dtype=object)
    known = values != ""
    out = []
    levels = attribute.order or tuple(sorted({v for v in attribute.values if v is not None}))
    for level in levels:
        out.append((Condition(attribute.name, "=", level), values == level))
    if attribute.order is not None and len(attribute.order) > 2:
        rank = {v: i for i, v in enumerate(attribute.order)}
        ranks = np.array([rank.get(v, -1) for v in values])
        for i, level in enumerate(attribute.order):
            if 0 < i < len(attribute.order) - 1:
                # ">= lowest" covers every known unit and "<= highest" likewise: neither separates anything.
                out.append((Condition(attribute.name, ">=", level), known & (ranks >= i)))
                out.append((Condition(attribute.name, "<=", level), known & (ranks <= i)))
    return out
