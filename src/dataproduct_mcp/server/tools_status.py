"""get_server_status: version and health of every component."""

from __future__ import annotations

from dataproduct_mcp.app import Application
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.server.models import ServerStatus


def register(server: DataProductServer, app: Application) -> None:
    @server.tool(annotations=tool_annotations("Server status", read_only=True, idempotent=True))
    async def get_server_status() -> ServerStatus:
        """Version, uptime, transport, the HTTP side's URL, the health of each component (database,
        cache, task workers, registry circuit breaker) and the caller's product counts by status."""
        return await app.health.status(server.tenant())
