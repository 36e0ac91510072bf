"""Backends of the one SQL store: the dialect interface (:mod:`.base`), SQLite (:mod:`.sqlite`) and
PostgreSQL (:mod:`.postgres`). The backend modules are imported only when selected."""

from __future__ import annotations

from dataproduct_mcp.persistence.dialects.base import Conn, Dialect, Row, load_migrations

__all__ = ["Conn", "Dialect", "Row", "load_migrations"]
