"""Serves the built web console under /console (built from /console by `make run`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from orderloom.api.responses import JSON
from orderloom.console import DIST


def install(app: FastAPI) -> None:
    """Mount the console's files, or explain how to build them when they are missing."""

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/")

    if (DIST / "index.html").is_file():
        app.mount("/console", StaticFiles(directory=DIST, html=True), name="console")
        return

    @app.get("/console/{rest:path}", include_in_schema=False)
    async def missing(rest: str) -> JSON:
        message = "the console is not built yet: run `make console` (needs Node.js and npm), then reload"
        return JSON({"error": {"code": "console_not_built", "message": message}}, status_code=503)
