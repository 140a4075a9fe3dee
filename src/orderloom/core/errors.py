"""The project's exception tree; adapters translate driver errors into these.

HTTP status codes live only in the API layer (`api/errors.py`), which maps
each class below to one status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OrderloomError(Exception):
    """Base of every error Orderloom raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where, which rule, and in plain words."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row of an imported file (the file importers' per-row error report)."""

    row: int
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "rule": self.rule, "message": self.message}


class ValidationFailed(OrderloomError):
    """Input broke one or more rules; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


class NotFound(OrderloomError):
    """The thing asked for does not exist (or the caller may not know it does)."""


class ConcurrencyConflict(OrderloomError):
    """A stream moved on since the writer read it (expected seq did not match)."""

    def __init__(self, oid: str, expected: int, actual: int) -> None:
        self.oid, self.expected, self.actual = oid, expected, actual
        super().__init__(
            f"order {oid} has {actual} events but the writer expected {expected}; re-read the order and try again"
        )


class DuplicateConflict(OrderloomError):
    """An event id was reused for different content."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(
            f"event id {event_id} was already stored with different content; "
            "an event id can only be sent again unchanged"
        )


class ClaimConflict(OrderloomError):
    """A source order number is already linked to a different order."""

    def __init__(self, key: str, oid: str) -> None:
        self.key, self.oid = key, oid
        super().__init__(f"source order number {key} already belongs to order {oid}")


class KeyConflict(OrderloomError):
    """Another writer made a different data key for the same new customer first."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(f"customer {customer} got a data key from another writer first; seal again with it")


class StoreUnavailable(OrderloomError):
    """The event store could not be reached or refused the operation."""


class Unauthorized(OrderloomError):
    """No valid API key was presented."""


class Forbidden(OrderloomError):
    """The caller's role does not allow this."""


class ConfigError(OrderloomError):
    """A setting or configuration file is wrong; the message names it."""


class RateLimited(OrderloomError):
    """A key sent more requests than its rate allows; it may retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
