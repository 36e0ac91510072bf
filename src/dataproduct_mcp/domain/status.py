"""Server status and component health (for get_server_status and the health probes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ComponentHealth", "ServerStatus"]


class ComponentHealth(BaseModel):
    status: str = Field(description="ok | degraded | down | disabled")
    detail: dict[str, Any] = {}


class ServerStatus(BaseModel):
    name: str
    version: str
    transport: str
    tenant: str
    uptime_s: float
    http_url: str | None
    components: dict[str, ComponentHealth]
    products: dict[str, int] = Field(description="The caller's products by status.")
    tasks: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="The caller's durable tasks by kind, then status."
    )
