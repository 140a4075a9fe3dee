"""The only place where Orderloom errors become HTTP status codes.

Every error body has one shape: {"error": {"code", "message", "problems"}},
with messages written for the person who has to fix the input.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from orderloom.api.responses import JSON
from orderloom.bus.errors import BusUnavailable
from orderloom.core.errors import (
    ClaimConflict,
    ConcurrencyConflict,
    ConfigError,
    DuplicateConflict,
    Forbidden,
    NotFound,
    OrderloomError,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
    ValidationFailed,
)
from orderloom.policy.evaluator import EvaluationFailed

log = logging.getLogger("orderloom.api")

STATUS: list[tuple[type[OrderloomError], int, str]] = [
    (ValidationFailed, 422, "validation_failed"),
    (NotFound, 404, "not_found"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (ConcurrencyConflict, 409, "conflict"),
    (DuplicateConflict, 409, "conflict"),
    (ClaimConflict, 409, "conflict"),
    (StoreUnavailable, 503, "store_unavailable"),
    (BusUnavailable, 503, "bus_unavailable"),
    (EvaluationFailed, 422, "evaluation_failed"),
    (ConfigError, 500, "configuration"),
    (RateLimited, 429, "rate_limited"),
]


class BadRequest(OrderloomError):
    """The request itself is unusable (not JSON, too big, wrong shape)."""

    def __init__(self, message: str, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def error_body(code: str, message: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "problems": problems or []}}


def _for(exc: OrderloomError) -> JSON:
    if isinstance(exc, BadRequest):
        return JSON(error_body(exc.code, str(exc)), status_code=exc.status)
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            problems = [p.as_dict() for p in exc.problems] if isinstance(exc, ValidationFailed) else None
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if isinstance(exc, RateLimited):
                headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
            return JSON(error_body(code, str(exc), problems), status_code=status, headers=headers)
    return JSON(error_body("error", str(exc)), status_code=400)


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    async def orderloom_error(_: Request, exc: Exception) -> JSON:
        assert isinstance(exc, OrderloomError)
        return _for(exc)

    async def request_invalid(_: Request, exc: Exception) -> JSON:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
            field = ".".join(loc) or "(request)"
            problems.append(
                {"field": field, "rule": str(err.get("type", "invalid")), "message": f"{field}: {err.get('msg')}"}
            )
        message = "; ".join(p["message"] for p in problems) or "the request is not valid"
        return JSON(error_body("validation_failed", message, problems), status_code=422)

    async def http_error(_: Request, exc: Exception) -> JSON:
        assert isinstance(exc, StarletteHTTPException)
        words = {404: "no such address; see /docs for the API", 405: "this address does not accept that method"}
        message = words.get(exc.status_code, str(exc.detail))
        return JSON(error_body("http_error", message), status_code=exc.status_code)

    async def unexpected(_: Request, exc: Exception) -> JSON:
        log.exception("unexpected error", exc_info=exc)
        return JSON(
            error_body("internal", "Orderloom hit an unexpected problem; nothing was written. It has been logged."),
            status_code=500,
        )

    app.add_exception_handler(OrderloomError, orderloom_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
