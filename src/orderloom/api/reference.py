"""The OpenAPI document as a stable text, for the reference kept in docs/openapi.json.

Built on an in-memory store so producing it touches no database; keys are
sorted so the file only changes when the API does.
"""

from __future__ import annotations

import json

from orderloom.api.app import create_app
from orderloom.core.settings import Settings


def openapi_text() -> str:
    """The OpenAPI document of this version, as sorted, indented JSON ending in a newline."""
    spec = create_app(Settings(db_url="memory://")).openapi()
    return json.dumps(spec, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
