"""PostgreSQL for several replicas: an ``asyncpg`` pool, bounded waits, numbered migrations, the PG hooks.

- A pool of ``DPMCP_DB_POOL_MIN``..``DPMCP_DB_POOL_MAX`` connections. Connecting, waiting for a
  pooled connection and every statement are bounded by ``DPMCP_DB_TIMEOUT_SECONDS``: a database
  that is down or stuck makes a call fail fast with :class:`DatabaseUnavailable` (code
  ``internal``, retryable for tasks), never hang. A connection that broke is dropped by the pool
  and a new one is opened on the next use, so the server recovers by itself when the database
  returns.
- :meth:`PgDialect.transaction` is a unit of work (READ COMMITTED). Where SQLite relies on its
  single writer, this dialect locks: claims take their row with ``FOR UPDATE SKIP LOCKED``, a row a
  unit of work reads then changes is read ``FOR UPDATE``, and :meth:`PgDialect.lock` is a
  transaction-scoped advisory lock keyed by schema and key. :meth:`PgDialect.connection` borrows
  a connection in autocommit (reads, and single-statement writes).
- The shared SQL's ``?`` placeholders become ``$1``, ``$2``, ... (:func:`dollar_params`).
- Migrations ``migrations/postgresql/NNNN_*.sql`` carry the same numbers and meaning as the
  SQLite ones. They run at start-up under ``pg_advisory_lock`` (keyed by the schema), so replicas
  starting together migrate once; ``schema_migrations`` records them.
- The schema is the first of the connection's ``search_path`` (``?search_path=NAME`` in the URL);
  it must exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from dataproduct_mcp.errors import DatabaseUnavailable, DpError, Internal
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.dialects.base import Conn, Row, load_migrations

__all__ = ["PgConn", "PgDialect", "dollar_params", "map_error", "parse_iso", "rowcount"]

log = get_logger(__name__)

MIGRATION_LOCK = ":dataproduct-mcp:migrations"
PING_TIMEOUT_S = 5.0
_TABLES = ("products", "product_tags", "product_inputs", "tasks", "ord_outbox", "audit_events", "job_leases")

# Errors that mean "the database is not there right now" rather than "this statement is wrong".
_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "53300",  # too_many_connections
    "08000",
    "08003",
    "08006",
    "08001",
    "08004",
}
_WRAPPED = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, asyncio.TimeoutError)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | ConnectionError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, OSError):  # refused, reset, unreachable: the network or the server is down
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in _TRANSIENT_SQLSTATES
    return False


def map_error(exc: BaseException) -> DpError:
    """The one map of driver and network exceptions to our error classes (logged here with their cause)."""
    if isinstance(exc, DpError):
        return exc
    if _is_transient(exc):
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__})")
    log.error("database error: %s: %s", type(exc).__name__, exc)
    return Internal("a database error occurred")


def parse_iso(value: str) -> datetime:
    """An ISO 8601 time from a caller (``Z`` allowed); naive means UTC."""
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def rowcount(tag: str) -> int:
    """Rows affected, from asyncpg's command tag (``UPDATE 3``, ``INSERT 0 1``)."""
    last = tag.rsplit(" ", 1)[-1] if tag else ""
    return int(last) if last.isdigit() else 0


@functools.lru_cache(maxsize=1024)
def dollar_params(sql: str) -> str:
    """``?`` placeholders as ``$1``, ``$2``, ... (a ``?`` inside a quoted literal or name stays)."""
    out: list[str] = []
    n, quote = 0, ""
    for ch in sql:
        if quote:
            quote = "" if ch == quote else quote  # a doubled quote closes and reopens: still inside
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


class PgConn:
    """:class:`~dataproduct_mcp.persistence.dialects.base.Conn` over an asyncpg connection."""

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.raw.fetch(dollar_params(sql), *args))

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self.raw.fetchrow(dollar_params(sql), *args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.raw.fetchval(dollar_params(sql), *args)

    async def execute(self, sql: str, *args: Any) -> int:
        return rowcount(await self.raw.execute(dollar_params(sql), *args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(dollar_params(sql), rows)


class PgDialect:
    backend = "postgresql"
    unique_violation = asyncpg.UniqueViolationError
    for_update = " FOR UPDATE"
    # search_text is stored lower-cased, so LIKE on a lower-cased pattern (several times faster
    # than ILIKE, the same trigram index).
    search_column = ("search_text", "lower(?)")

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10, timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max(max_size, 1)
        self.timeout = timeout
        self.schema: str | None = None
        self.trigram = False
        self._pool: asyncpg.Pool | None = None

    # -- connections --------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            self._pool = await asyncio.wait_for(
                asyncpg.create_pool(
                    self.dsn,
                    min_size=min(self.min_size, self.max_size),
                    max_size=self.max_size,
                    timeout=self.timeout,  # connect
                    command_timeout=self.timeout,  # each statement
                    max_inactive_connection_lifetime=300.0,
                    server_settings={"application_name": "dataproduct-mcp", "jit": "off"},
                ),
                timeout=self.timeout * 2,
            )
        except _WRAPPED as exc:
            raise map_error(exc) from exc
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=self.timeout)
            except (TimeoutError, *_WRAPPED):
                pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise Internal("database is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await self.pool.acquire(timeout=self.timeout)
        except _WRAPPED as exc:
            raise map_error(exc) from exc
        try:
            yield conn
        except _WRAPPED as exc:
            raise map_error(exc) from exc
        finally:
            # Pool.release is shielded and bounded; a broken connection is closed and replaced later.
            with contextlib.suppress(Exception):
                await self.pool.release(conn, timeout=self.timeout)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a connection in autocommit: each statement is its own transaction and sees the
        latest commit (reads, and single-statement writes)."""
        async with self._connection() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A unit of work: COMMIT at the end, ROLLBACK on any exception."""
        async with self._connection() as conn:
            try:
                async with conn.transaction():
                    yield conn
            except _WRAPPED as exc:
                raise map_error(exc) from exc

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[PgConn]:
        async with self.connection() as conn:
            yield PgConn(conn)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[PgConn]:
        async with self.transaction() as conn:
            yield PgConn(conn)

    # One write statement runs in autocommit: its own transaction, without BEGIN/COMMIT round trips.
    writing = reading

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(min(self.timeout, PING_TIMEOUT_S)):
                async with self.connection() as conn:
                    await conn.fetchval("SELECT 1")
        except TimeoutError as exc:
            raise DatabaseUnavailable("the database did not answer in time") from exc

    async def migrate(self) -> None:
        """Apply pending numbered migrations, each in its own transaction, under an advisory lock."""
        async with self.connection() as conn:
            self.schema = await conn.fetchval("SELECT current_schema()")
            if self.schema is None:
                path = await conn.fetchval("SHOW search_path")
                raise Internal(
                    f"no schema of search_path {path!r} exists in the database",
                    suggestion="Create the schema (CREATE SCHEMA ...) or fix search_path in DPMCP_DATABASE_URL.",
                )
            # Session-level lock: held across the per-migration transactions; bounded by the
            # statement timeout would be wrong here (another replica may migrate for a while).
            await conn.execute("SELECT pg_advisory_lock(hashtext(current_schema() || $1))", MIGRATION_LOCK, timeout=300)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                applied = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for number, name, sql in load_migrations("postgresql"):
                    if number in applied:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql, timeout=600)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", number, name
                        )
                    log.info("applied migration %04d_%s (schema %s)", number, name, self.schema)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext(current_schema() || $1))", MIGRATION_LOCK)
            self.trigram = bool(
                await conn.fetchval(
                    "SELECT 1 FROM pg_indexes"
                    " WHERE schemaname = current_schema() AND indexname = 'products_search_trgm'"
                )
            )
        if not self.trigram:
            log.warning(
                "pg_trgm is not available in schema %s: product search scans the tenant's products"
                " (ask the DBA for CREATE EXTENSION pg_trgm, then re-create index products_search_trgm)",
                self.schema,
            )

    async def schema_version(self) -> int:
        async with self.connection() as conn:
            return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    # -- values -------------------------------------------------------------------------------

    def to_db(self, at: datetime) -> datetime:
        return at

    def from_db(self, value: datetime | None) -> datetime | None:
        return value

    def iso_to_db(self, value: datetime | str | None) -> datetime | None:
        return parse_iso(value) if isinstance(value, str) else value

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?::text[])", [list(values)]

    # -- hooks --------------------------------------------------------------------------------

    async def lock(self, conn: Conn, key: str) -> None:
        """A transaction advisory lock on (schema, key): concurrent units of work on ``key`` take turns."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ?))", key)

    async def claim(
        self,
        conn: Conn,
        table: str,
        candidates: Sequence[tuple[str, Sequence[Any]]],
        assign: str,
        assign_args: Sequence[Any],
        returning: str,
    ) -> Row | None:
        # Rows another replica is claiming right now are skipped, not waited for.
        for sql, args in candidates:
            seq = await conn.fetchval(sql + " FOR UPDATE SKIP LOCKED", *args)
            if seq is not None:
                return await conn.fetchone(
                    f"UPDATE {table} SET {assign} WHERE seq = ? RETURNING {returning}", *assign_args, seq
                )
        return None

    def search_terms(self, query: str) -> list[tuple[str, list[Any]]]:
        """``LIKE`` per term on the lower-cased search text (a ``pg_trgm`` GIN index serves it)."""
        escape = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})  # backslash: PostgreSQL's default
        return [("p.search_text LIKE lower(?)", ["%" + term.translate(escape) + "%"]) for term in query.split()]

    async def write_search(self, conn: Conn, seq: int, text: str | None) -> None:
        """Nothing to do: the search text is a column written with the row (``search_column``)."""

    async def maintenance(self) -> dict[str, Any]:
        """Refresh the planner's statistics of our tables (autovacuum does the vacuuming; a manual
        VACUUM would compete with it on a shared server) and report their dead-row counts."""
        async with self.connection() as conn:
            for table in _TABLES:
                await conn.execute(f"ANALYZE {table}", timeout=max(self.timeout, 300))
            rows = await conn.fetch(
                "SELECT relname, n_live_tup, n_dead_tup, last_autovacuum FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema() AND relname = ANY($1::text[]) ORDER BY relname",
                list(_TABLES),
            )
        out = {
            "backend": "postgresql",
            "analyzed": list(_TABLES),
            "tables": {
                r[0]: {
                    "live_rows": int(r[1]),
                    "dead_rows": int(r[2]),
                    "last_autovacuum": r[3].isoformat() if r[3] else None,
                }
                for r in rows
            },
        }
        log.info("postgresql maintenance: %s", out)
        return out
