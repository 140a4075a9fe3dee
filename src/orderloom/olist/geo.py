"""Where Olist customers and sellers are: zip-prefix centroids, seller-to-customer distance and distance bands."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from orderloom.routing.network import haversine_km

# Brazil's extent with its Atlantic islands; the geolocation file holds a few points far outside it
# (typos in the original data) that would drag a zip prefix's mean away.
LAT_RANGE = (-34.0, 5.5)
LNG_RANGE = (-74.5, -28.5)


@dataclass(frozen=True, slots=True)
class Band:
    """A distance band: [low, high) km, `key` for JSON and `label` for people."""

    key: str
    label: str
    low: float
    high: float


BANDS = (
    Band("lt100", "<100 km", 0.0, 100.0),
    Band("100_500", "100–500 km", 100.0, 500.0),
    Band("500_1000", "500–1,000 km", 500.0, 1000.0),
    Band("1000_2000", "1,000–2,000 km", 1000.0, 2000.0),
    Band("ge2000", "≥2,000 km", 2000.0, float("inf")),
)


def band_of(km: float | None) -> Band | None:
    """The band a distance falls in (lower edge included: exactly 100 km is 100–500), None when unknown."""
    if km is None or math.isnan(km) or km < 0:
        return None
    return next(b for b in BANDS if b.low <= km < b.high)


def centroids(points: Iterable[tuple[str, float, float]]) -> dict[str, tuple[float, float]]:
    """Mean latitude and longitude per zip prefix, over the points that lie in Brazil."""
    sums: dict[str, list[float]] = {}
    for prefix, lat, lng in points:
        if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LNG_RANGE[0] <= lng <= LNG_RANGE[1]):
            continue
        acc = sums.setdefault(prefix, [0.0, 0.0, 0.0])
        acc[0] += lat
        acc[1] += lng
        acc[2] += 1
    return {p: (round(a[0] / a[2], 6), round(a[1] / a[2], 6)) for p, a in sums.items()}


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle distance between two (lat, lng) points, None when either is unknown."""
    if a is None or b is None:
        return None
    return haversine_km(a[0], a[1], b[0], b[1])
