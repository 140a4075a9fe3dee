"""Errors the bus adapters raise; each adapter translates its driver's errors into these."""

from __future__ import annotations

from orderloom.core.errors import OrderloomError


class BusUnavailable(OrderloomError):
    """The message broker could not be reached or refused the operation."""
