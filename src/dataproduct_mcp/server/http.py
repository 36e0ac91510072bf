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
from dataproduct_mcp.services.status import component_health, refresh_counts

__all__ = ["http_routes"]


def http_routes(app: Application) -> list[BaseRoute]:
    async def alive(_: Request) -> Response:
        """Liveness: the process answers (no dependency checks, so a slow database never kills it)."""
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        """Readiness: every required component is ok."""
        components = await component_health(app)
        # The ORD registry is external and optional: its outage queues publications, it does not
        # make this process unready.
        ok = all(c["status"] in ("ok", "disabled") for name, c in components.items() if name != "registry")
        return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)

    async def startup(_: Request) -> Response:
        """Startup: the start-up checks in dependency order (config → data dir → database → workers →
        HTTP side); 200 once all passed, 503 while starting."""
        checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in app.startup_checks]
        if app.started:
            checks.append({"name": "http", "ok": True, "detail": app.http_url or "listening"})
        ok = app.started and all(c["ok"] for c in checks)
        return JSONResponse({"status": "ok" if ok else "starting", "checks": checks}, status_code=200 if ok else 503)

    async def health(_: Request) -> Response:
        components = await component_health(app)
        worst = "ok"
        for c in components.values():
            if c["status"] == "down":
                worst = "down"
            elif c["status"] == "degraded" and worst == "ok":
                worst = "degraded"
        return JSONResponse(
            {"status": worst, "version": __version__, "components": components},
            status_code=503 if worst == "down" else 200,
        )

    async def metrics(_: Request) -> Response:
        """Prometheus text exposition of every metric (see docs/operations.md)."""
        await refresh_counts(app)
        assert app.metrics is not None
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
