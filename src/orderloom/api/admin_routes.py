"""Administrative routes: API keys and erasure of a customer's personal data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from orderloom.api.auth import Caller, caller, services
from orderloom.api.body import json_body
from orderloom.api.responses import JSON
from orderloom.core.errors import Problem, ValidationFailed
from orderloom.status.erasure import forget_customer


def router() -> APIRouter:
    """Routes only the admin role may use."""
    r = APIRouter(prefix="/v1", tags=["admin"])

    @r.post(
        "/keys",
        summary="Issue an API key",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["role"],
                            "properties": {
                                "role": {"type": "string", "enum": ["consumer", "cs", "finance", "ops", "admin"]},
                                "customer": {"type": "string"},
                                "note": {"type": "string"},
                            },
                        },
                        "example": {"role": "cs", "note": "Hangzhou service desk"},
                    }
                },
            }
        },
    )
    async def create_key(request: Request, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        svc = services(request)
        body = await json_body(request, 64 * 1024)
        if not isinstance(body, dict):
            raise ValidationFailed([Problem("(body)", "type", 'send an object like {"role": "cs"}')])
        role, customer, note = body.get("role"), body.get("customer"), body.get("note", "")
        if not isinstance(role, str):
            raise ValidationFailed([Problem("role", "required", "role is required")])
        if customer is not None and not isinstance(customer, str):
            raise ValidationFailed([Problem("customer", "type", "customer must be text")])
        if not isinstance(note, str):
            raise ValidationFailed([Problem("note", "type", "note must be text")])
        key, info = await run_in_threadpool(svc.keys.create, role, customer, note, actor=f"key:{who.key.key_id}")
        return JSON({"key": key, "key_id": info.key_id, "role": info.role, "customer": info.customer}, status_code=201)

    @r.delete("/keys/{key_id}", summary="Revoke an API key")
    async def revoke_key(request: Request, key_id: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        await run_in_threadpool(services(request).keys.revoke, key_id, "revoked via API", actor=f"key:{who.key.key_id}")
        return JSON({"key_id": key_id, "revoked": True})

    @r.delete("/customers/{customer}/personal-data", summary="Erase a customer's personal data (crypto-shredding)")
    async def erase(request: Request, customer: str, who: Annotated[Caller, Depends(caller)]) -> JSON:
        who.require("admin")
        svc = services(request)
        existed = await run_in_threadpool(forget_customer, svc.intake, customer, actor=f"key:{who.key.key_id}")
        return JSON({"customer": customer, "erased": existed})

    return r
