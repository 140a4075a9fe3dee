"""Reading a JSON request body safely: size limit first, then a clear parse error."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from orderloom.api.errors import BadRequest


async def json_body(request: Request, limit: int) -> Any:
    """The parsed body, or BadRequest naming what is wrong with it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the request body is larger than {limit:,} bytes; send smaller batches", 413, "too_large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the request body is larger than {limit:,} bytes; send smaller batches", 413, "too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON document")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
