"""list_audit_events: the caller's tenant's audit trail (issue: audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.audit import AuditEvent, AuditKind
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations


class AuditPage(BaseModel):
    events: list[AuditEvent]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def register(server: DataProductServer, app: Application) -> None:
    @server.tool(annotations=tool_annotations("List audit events", read_only=True, idempotent=True))
    async def list_audit_events(
        product_id: Annotated[str | None, Field(description="Only events of this product.", max_length=64)] = None,
        kinds: Annotated[
            list[AuditKind] | None, Field(description="Only these kinds, e.g. ['product-updated'].", max_length=10)
        ] = None,
        since: Annotated[datetime | None, Field(description="From this time (ISO 8601, inclusive).")] = None,
        until: Annotated[datetime | None, Field(description="Before this time (ISO 8601, exclusive).")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Page size, 1..100.")] = 50,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page.", max_length=512)] = None,
    ) -> AuditPage:
        """The caller's audit trail, oldest first: who (tenant, token name) created, updated, deleted or
        published which product (before/after revision, trace id), and cross-tenant misses. Append-only;
        events older than DPMCP_AUDIT_RETENTION_DAYS are pruned."""
        events, next_cursor = await app.audit.list(
            server.tenant(),
            product_id=product_id,
            kinds=kinds,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return AuditPage(events=events, next_cursor=next_cursor)
