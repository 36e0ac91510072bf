"""The one SQL store: :class:`~dataproduct_mcp.persistence.base.Store` over a dialect.

:class:`SqlStore` holds every statement and state machine once, split by concept into mixins
(products, tasks, outbox, audit, jobs); a dialect (:mod:`.dialects`) supplies connections, the
driver's error map, value conversions and the few hooks where SQLite and PostgreSQL really
differ. :class:`SqliteStore` and :class:`PgStore` only pick the dialect.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dataproduct_mcp.errors import Internal
from dataproduct_mcp.persistence.audit import AuditMixin
from dataproduct_mcp.persistence.dialects.base import Dialect
from dataproduct_mcp.persistence.jobs import JobsMixin
from dataproduct_mcp.persistence.outbox import OutboxMixin
from dataproduct_mcp.persistence.products import ProductsMixin
from dataproduct_mcp.persistence.tasks import TasksMixin

if TYPE_CHECKING:
    from dataproduct_mcp.persistence.dialects.postgres import PgDialect
    from dataproduct_mcp.persistence.dialects.sqlite import SqliteDialect

__all__ = ["SECRET_BYTES", "PgStore", "SqlStore", "SqliteStore"]

SECRET_BYTES = 32


class SqlStore(ProductsMixin, TasksMixin, OutboxMixin, AuditMixin, JobsMixin):
    def __init__(self, db: Dialect) -> None:
        self.db = db
        self.backend = db.backend

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        await self.db.ping()

    async def schema_version(self) -> int:
        return await self.db.schema_version()

    async def server_secret(self, name: str) -> bytes:
        """The server's secret ``name``: 32 random bytes made on first use and stored, so every
        replica on the database (and every restart) uses the same. Racing first uses agree: the
        insert is skipped when the name exists, and all then read the one stored value."""
        async with self.db.reading() as conn:
            value = await conn.fetchval("SELECT value FROM server_secrets WHERE name = ?", name)
        if value is None:
            async with self.db.atomic() as conn:
                await conn.execute(
                    "INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    name,
                    secrets.token_bytes(SECRET_BYTES),
                    self.db.to_db(datetime.now(UTC)),
                )
                value = await conn.fetchval("SELECT value FROM server_secrets WHERE name = ?", name)
        if not isinstance(value, bytes) or len(value) != SECRET_BYTES:
            raise Internal(f"the stored server secret {name!r} is not {SECRET_BYTES} bytes")
        return value


class SqliteStore(SqlStore):
    """The embedded default: one SQLite file (``busy_timeout_ms``: how long a write waits for
    another process's write lock before failing with the retryable ``DatabaseUnavailable``)."""

    db: SqliteDialect

    def __init__(self, path: Path, *, busy_timeout_ms: int | None = None) -> None:
        from dataproduct_mcp.persistence.dialects.sqlite import BUSY_TIMEOUT_MS, SqliteDialect

        timeout = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
        super().__init__(SqliteDialect(path, busy_timeout_ms=timeout))


class PgStore(SqlStore):
    """PostgreSQL, for several replicas on one database."""

    db: PgDialect

    def __init__(self, dsn: str, *, pool_min: int = 2, pool_max: int = 10, timeout: float = 10.0) -> None:
        from dataproduct_mcp.persistence.dialects.postgres import PgDialect

        super().__init__(PgDialect(dsn, min_size=pool_min, max_size=pool_max, timeout=timeout))
