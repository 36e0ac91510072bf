"""Audit events: an append-only record of security- and governance-relevant actions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["AuditEvent", "AuditKind"]


class AuditKind(StrEnum):
    auth_failure = "auth-failure"
    cross_tenant_miss = "cross-tenant-miss"
    product_created = "product-created"
    product_updated = "product-updated"
    product_deleted = "product-deleted"
    product_published = "product-published"
    config_loaded = "config-loaded"
    breaker_transition = "breaker-transition"


class AuditEvent(BaseModel):
    """Who (tenant and token name), what (kind, product, revisions), when, and the trace id."""

    id: str
    seq: int | None = Field(None, description="Position in the audit stream (increasing).")
    at: datetime
    tenant: str
    kind: AuditKind
    actor: str | None = Field(None, description="Name of the token (never the token itself), or 'local'.")
    product_id: str | None = None
    ord_id: str | None = None
    before_revision: int | None = None
    after_revision: int | None = None
    trace_id: str | None = None
    detail: dict[str, Any] = {}
