"""The HTTP side (contract §11): probes now; ORD, metrics and WebSocket routes plug in here."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dataproduct_mcp import __version__
from dataproduct_mcp.app import Application
from dataproduct_mcp.server.ord_http import ord_routes
from dataproduct_mcp.server.ws import stream_route
from dataproduct_mcp.server.ws_tasks import task_events_route

__all__ = ["http_routes"]


def http_routes(app: Application) -> list[BaseRoute]:
    health_service = app.health

    async def alive(_: Request) -> Response:
        """Liveness: the process answers (no dependency checks, so a slow database never kills it)."""
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        """Readiness: every required component is ok."""
        ok = await health_service.ready()
        return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)

    async def startup(_: Request) -> Response:
        """Startup: the start-up checks in dependency order (config → data dir → database → workers →
        HTTP side); 200 once all passed, 503 while starting."""
        ok, checks = health_service.startup()
        return JSONResponse({"status": "ok" if ok else "starting", "checks": checks}, status_code=200 if ok else 503)

    async def health(_: Request) -> Response:
        worst, components = await health_service.health()
        return JSONResponse(
            {"status": worst, "version": __version__, "components": components},
            status_code=503 if worst == "down" else 200,
        )

    async def metrics(_: Request) -> Response:
        """Prometheus text exposition of every metric (see docs/operations.md)."""
        await health_service.refresh_counts()
        return Response(app.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/alive", alive, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/startup", startup, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        stream_route(app),
        task_events_route(app),
        *ord_routes(app),
    ]
