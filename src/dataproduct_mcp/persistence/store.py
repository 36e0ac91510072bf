"""The one SQL store: :class:`~dataproduct_mcp.persistence.base.Store` over a dialect.

:class:`SqlStore` holds every statement and state machine once, split by concept into mixins
(products, tasks, outbox, audit, jobs); a dialect (:mod:`.dialects`) supplies connections, the
driver's error map, value conversions and the few hooks where SQLite and PostgreSQL really
differ. :class:`SqliteStore` and :class:`PgStore` only pick the dialect.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dataproduct_mcp.persistence.audit import AuditMixin
from dataproduct_mcp.persistence.dialects.base import Dialect
from dataproduct_mcp.persistence.jobs import JobsMixin
from dataproduct_mcp.persistence.outbox import OutboxMixin
from dataproduct_mcp.persistence.products import ProductsMixin
from dataproduct_mcp.persistence.tasks import TasksMixin

if TYPE_CHECKING:
    from dataproduct_mcp.persistence.dialects.postgres import PgDialect
    from dataproduct_mcp.persistence.dialects.sqlite import SqliteDialect

__all__ = ["PgStore", "SqlStore", "SqliteStore"]


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
