"""The FastAPI application factory; components are built in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orderloom import __version__
from orderloom.api import (
    admin_routes,
    analytics_routes,
    connector_routes,
    console,
    detector_routes,
    errors,
    forecast_routes,
    live_routes,
    metrics,
    monitor_routes,
    pack_routes,
    playbook_routes,
    policy_routes,
    query_routes,
    routing_routes,
    status_routes,
    valuestream_routes,
)
from orderloom.api.ratelimit import RateLimiter
from orderloom.api.responses import JSON
from orderloom.bootstrap import Services, build_services
from orderloom.core.settings import Settings
from orderloom.packs import signal_registry
from orderloom.pipeline import InProcessPipeline
from orderloom.policy.log import PolicyLog
from orderloom.policy.runtime import PolicyRuntime
from orderloom.routing.network import CHINA_YAML, load_network
from orderloom.routing.signal_book import SignalBook
from orderloom.status.live import LogTail


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; pass `services` to share them (tests, the single-process `make run`)."""
    settings = settings or (services.settings if services else Settings.from_env())
    svc = services or build_services(settings)
    owned = services is None
    tail = LogTail(svc.store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The in-process bus only exists inside this process, so relay and
        # consumers run here; with NATS or Kafka they are processes of their own.
        pipeline = InProcessPipeline(svc) if svc.settings.bus_url.startswith("memory:") else None
        if pipeline is not None:
            await pipeline.start()
        yield
        if pipeline is not None:
            await pipeline.stop()
        await tail.close()
        if owned:
            svc.close()

    app = FastAPI(
        title="Orderloom",
        version=__version__,
        description="One atomic event log for every order: intake, status chains by role, verification.",
        lifespan=lifespan,
        default_response_class=JSON,
    )
    app.state.services = svc
    app.state.limiter = RateLimiter(svc.settings.rate_per_key, svc.settings.rate_burst)
    errors.install(app)
    app.include_router(status_routes.router(svc.dictionary))
    app.include_router(analytics_routes.router())
    app.include_router(live_routes.router(tail))
    app.include_router(admin_routes.router())
    app.include_router(connector_routes.router(svc))
    app.include_router(policy_routes.router(PolicyRuntime(PolicyLog(svc.intake))))
    app.include_router(playbook_routes.router())
    app.include_router(valuestream_routes.router())
    app.include_router(detector_routes.router())
    app.include_router(query_routes.router())
    app.include_router(monitor_routes.router(svc))
    app.include_router(pack_routes.router())
    network = load_network(settings.network_path or CHINA_YAML)
    app.include_router(routing_routes.router(network, SignalBook(svc.intake, signal_registry(svc.store), network)))
    app.include_router(forecast_routes.router(network))

    metrics.install(app, svc)
    console.install(app)

    @app.get("/healthz", tags=["ops"], summary="Liveness and the log's head position")
    async def healthz() -> JSON:
        return JSON({"ok": True, "version": __version__, "position": svc.store.last_position()})

    return app
