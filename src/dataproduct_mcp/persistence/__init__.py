"""Persistence: the store interface and the one SQL store over its backends (SQLite embedded,
PostgreSQL for replicas). Services depend on :class:`Store` and :func:`open_store` only."""

from __future__ import annotations

from dataproduct_mcp.config import Settings
from dataproduct_mcp.persistence.base import ProductFilter, ProductPage, Store

__all__ = ["ProductFilter", "ProductPage", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """The store the settings select (not yet opened)."""
    from dataproduct_mcp.persistence.store import PgStore, SqliteStore

    if settings.backend == "postgresql":
        assert settings.database_url is not None
        return PgStore(
            settings.database_url,
            pool_min=settings.db_pool_min,
            pool_max=settings.db_pool_max,
            timeout=settings.db_timeout_seconds,
        )
    return SqliteStore(settings.sqlite_path)
