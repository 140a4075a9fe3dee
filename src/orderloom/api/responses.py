"""JSON responses rendered with orjson (our payloads are plain dicts, so no model pass is needed)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    """application/json rendered by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def batch_answer(results: list[Any]) -> JSON:
    """Per-item results of a batch: 200 all stored, 207 some rejected, 422 none stored."""
    counts = {s: sum(1 for x in results if x.status == s) for s in ("accepted", "duplicate", "rejected")}
    stored = counts["accepted"] + counts["duplicate"]
    status = 200 if counts["rejected"] == 0 else (207 if stored else 422)
    return JSON({**counts, "results": [x.as_dict() for x in results]}, status_code=status)
