"""Persistence: the store interface and its backends (SQLite now; PostgreSQL implements the same)."""

from __future__ import annotations

from dataproduct_mcp.config import Settings
from dataproduct_mcp.errors import Internal
from dataproduct_mcp.persistence.base import ProductFilter, ProductPage, Store

__all__ = ["ProductFilter", "ProductPage", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """The store the settings select (not yet opened)."""
    if settings.backend == "sqlite":
        from dataproduct_mcp.persistence.sqlite_store import SqliteStore

        return SqliteStore(settings.sqlite_path)
    raise Internal("the PostgreSQL backend is not available in this version; unset DPMCP_DATABASE_URL")
