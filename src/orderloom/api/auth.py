"""Who is calling, and may they: bearer keys mapped to roles."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.keys import ApiKey
from orderloom.api.ratelimit import RateLimiter
from orderloom.bootstrap import Services
from orderloom.core.errors import Forbidden, RateLimited, Unauthorized

# What each role may do beyond reading its own view of an order.
RIGHTS: dict[str, frozenset[str]] = {
    "consumer": frozenset(),
    "cs": frozenset({"verify", "view_as"}),
    "finance": frozenset({"verify"}),
    "ops": frozenset({"write", "verify", "view_as"}),
    "admin": frozenset({"write", "verify", "view_as", "admin"}),
}
ROLE_ORDER = ["consumer", "finance", "cs", "ops", "admin"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller."""

    key: ApiKey

    @property
    def role(self) -> str:
        return self.key.role

    @property
    def customer_scope(self) -> str | None:
        """Consumers only ever see their own customer's orders."""
        return self.key.customer if self.key.role == "consumer" else None

    def require(self, right: str) -> None:
        if right not in RIGHTS.get(self.role, frozenset()):
            raise Forbidden(f"the {self.role} role may not do this (it needs the {right!r} right)")

    def view_role(self, requested: str | None) -> str:
        """The role whose view to show: the caller's own, or one they may look through."""
        if requested is None or requested == self.role:
            return self.role
        self.require("view_as")
        if requested not in ROLE_ORDER:
            raise Forbidden(f"{requested!r} is not a role")
        if ROLE_ORDER.index(requested) > ROLE_ORDER.index(self.role):
            raise Forbidden(f"the {self.role} role may not look through the {requested} role's eyes")
        return requested


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def caller(request: Request) -> Caller:
    """FastAPI dependency: authenticate the bearer key."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    key = await run_in_threadpool(services(request).keys.authenticate, token.strip())
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
    wait = limiter.take(key.key_id) if limiter is not None else 0.0
    if limiter is not None and wait > 0:
        raise RateLimited(
            f"key {key.key_id} sent more than {limiter.rate:g} requests per second; retry in {wait:.1f} s", wait
        )
    return Caller(key)
