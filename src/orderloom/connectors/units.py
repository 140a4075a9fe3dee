"""Unit conversions a mapping may ask for: mass, money in minor units, temperature, speed, length, time.

Linear units share a dimension and a factor to the dimension's base unit;
temperatures are affine, so they convert through Celsius.
"""

from __future__ import annotations

from orderloom.core.errors import ConfigError

# unit -> (dimension, how many base units one of it is)
LINEAR: dict[str, tuple[str, float]] = {
    "mg": ("mass", 1e-6),
    "g": ("mass", 1e-3),
    "kg": ("mass", 1.0),
    "t": ("mass", 1000.0),
    "lb": ("mass", 0.45359237),
    "oz": ("mass", 0.028349523125),
    # Money in minor units: 1 yuan = 100 fen (cents). Only the scale changes, never the currency.
    "cents": ("money", 0.01),
    "fen": ("money", 0.01),
    "yuan": ("money", 1.0),
    "units": ("money", 1.0),
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "m/s": ("speed", 1.0),
    "km/h": ("speed", 1 / 3.6),
    "mph": ("speed", 0.44704),
    "knots": ("speed", 1852 / 3600),
    "ms": ("duration", 0.001),
    "s": ("duration", 1.0),
    "min": ("duration", 60.0),
    "h": ("duration", 3600.0),
    "d": ("duration", 86400.0),
}
TEMPERATURE = ("C", "F", "K")


def check_units(source: str, target: str) -> None:
    """ConfigError unless `source` converts to `target`."""
    if source in TEMPERATURE and target in TEMPERATURE:
        return
    a, b = LINEAR.get(source), LINEAR.get(target)
    known = ", ".join([*LINEAR, *TEMPERATURE])
    if a is None or b is None:
        unknown = source if a is None and source not in TEMPERATURE else target
        raise ConfigError(f"unit {unknown!r} is not known; use one of {known}")
    if a[0] != b[0]:
        raise ConfigError(f"cannot convert {source} ({a[0]}) to {target} ({b[0]})")


def convert(value: float, source: str, target: str) -> float:
    """`value` in `source` units expressed in `target` units (units checked beforehand)."""
    if source in TEMPERATURE:
        celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[source]
        return {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[target]
    return value * LINEAR[source][1] / LINEAR[target][1]
