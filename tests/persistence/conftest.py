"""Store fixtures for both backends: tests marked ``both_backends`` get SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dataproduct_mcp.persistence.base import Store
from dataproduct_mcp.persistence.store import PgStore, SqliteStore


@pytest.fixture
def make_store(backend: str, tmp_path: Path, database_url: str | None) -> Callable[[], Store]:
    """A factory of (unopened) stores on one database: the test's SQLite file or PostgreSQL schema."""

    def make() -> Store:
        if database_url is None:
            return SqliteStore(tmp_path / "db.sqlite3")
        return PgStore(database_url, pool_min=1, pool_max=5, timeout=10)

    return make
