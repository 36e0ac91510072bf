"""Structured outputs of the tools (pydantic models → output schemas)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.domain.status import ComponentHealth, ServerStatus

__all__ = ["ComponentHealth", "DeleteResult", "ProductList", "RegisterResult", "ServerStatus"]


class RegisterResult(BaseModel):
    product: DataProduct
    created: bool = Field(description="False when an identical product already existed (idempotent replay).")


class ProductList(BaseModel):
    items: list[DataProduct]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int = Field(description="Number of live products matching the filters (all pages).")


class DeleteResult(BaseModel):
    id: str
    ord_id: str
    status: str
    revision: int
    deleted_at: datetime
