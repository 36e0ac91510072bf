"""SQLite: one writer connection, a few readers, WAL, numbered migrations, and the SQLite hooks.

Writes go through :meth:`SqliteDialect.write`, a unit of work in ``BEGIN IMMEDIATE`` on the
single writer connection (serialised by a lock within the process and by SQLite's write lock
across processes, with a busy timeout). Reads borrow one of a few reader connections and run in
parallel with the writer (WAL). All calls are async through ``aiosqlite`` (one thread per
connection), so the event loop never blocks on the database.

The single writer is what PostgreSQL needs locks for: a claim is one ``UPDATE ... WHERE seq =
(SELECT ...)`` and per-key locks are no-ops. Driver errors are mapped here (:func:`map_error`):
a database still locked after the busy timeout is :class:`DatabaseUnavailable` (retryable, like
a PostgreSQL outage), a read-only, full or failing disk an :class:`Internal` error saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from dataproduct_mcp.errors import DatabaseUnavailable, DpError, Internal
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.dialects.base import Conn, Row, load_migrations

__all__ = ["BUSY_TIMEOUT_MS", "SqliteConn", "SqliteDialect", "map_error", "utc_text"]

log = get_logger(__name__)

BUSY_TIMEOUT_MS = 10_000
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# Primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL = 5, 6, 8, 10, 13
VACUUM_MIN_FREE_PAGES = 256  # a VACUUM rewrites the whole file: only when a quarter of it is free pages
VACUUM_FREE_RATIO = 0.25


def map_error(exc: BaseException) -> DpError:
    """The one map of SQLite's errors to ours (logged here with their cause)."""
    if isinstance(exc, DpError):
        return exc
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary in (_BUSY, _LOCKED) or any(s in text for s in ("database is locked", "is busy", "table is locked")):
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return DatabaseUnavailable("the database is busy: another writer held it past the busy timeout")
    if primary == _READONLY or "readonly" in text or "read-only" in text:
        log.error("database error: %s: %s", type(exc).__name__, exc)
        return Internal(
            "the database is read-only; nothing was written",
            suggestion="Make DPMCP_DATA_DIR writable, then retry.",
        )
    if primary in (_FULL, _IOERR) or "disk is full" in text or "disk i/o error" in text:
        log.error("database error: %s: %s", type(exc).__name__, exc)
        return Internal(
            "the data directory is full or failing; nothing was written",
            suggestion="Free space in DPMCP_DATA_DIR, then retry; the database is consistent.",
        )
    log.error("database error: %s: %s", type(exc).__name__, exc)
    return Internal(f"a database error occurred ({getattr(exc, 'sqlite_errorname', None) or type(exc).__name__})")


def utc_text(value: datetime) -> str:
    """Fixed-width UTC text, so SQL string comparison is time comparison."""
    return value.astimezone(UTC).strftime(_TS_FORMAT)


class SqliteConn:
    """:class:`~dataproduct_mcp.persistence.dialects.base.Conn` over an aiosqlite connection."""

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.raw.execute_fetchall(sql, args))

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await (await self.raw.execute(sql, args)).fetchone()
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await (await self.raw.execute(sql, args)).fetchone()
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> int:
        return (await self.raw.execute(sql, args)).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(sql, rows)


class SqliteDialect:
    backend = "sqlite"
    unique_violation = sqlite3.IntegrityError
    for_update = ""  # the unit of work holds the write lock already
    search_column = None  # the FTS5 table products_fts holds the search text

    def __init__(self, path: Path, *, readers: int = 3, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._n_readers = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()

    # -- connections --------------------------------------------------------------------------

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            mode = await (await self._writer.execute("PRAGMA journal_mode = WAL")).fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                log.warning("SQLite did not switch to WAL (journal_mode=%s)", mode[0] if mode else None)
            await self.migrate()
            for _ in range(self._n_readers):
                conn = await self._connect()
                await conn.execute("PRAGMA query_only = ON")
                self._all_readers.append(conn)
                self._readers.put_nowait(conn)
        except sqlite3.Error as exc:
            raise map_error(exc) from exc

    async def close(self) -> None:
        for conn in self._all_readers:
            with contextlib.suppress(Exception):
                await conn.close()
        self._all_readers.clear()
        self._readers = asyncio.Queue()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer.execute("PRAGMA optimize")
            await self._writer.close()
            self._writer = None

    async def migrate(self) -> None:
        """Apply pending numbered migrations, each in its own IMMEDIATE transaction."""
        assert self._writer is not None
        await self._writer.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        for number, name, sql in load_migrations("sqlite"):
            async with self.write() as conn:
                row = await (
                    await conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (number,))
                ).fetchone()
                if row is not None:
                    continue
                # executescript would COMMIT our transaction; run statements one by one instead.
                for statement in _split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)"
                    " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (number, name),
                )
                log.info("applied migration %04d_%s", number, name)

    async def schema_version(self) -> int:
        async with self.read() as conn:
            row = await (await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")).fetchone()
            return int(row[0]) if row else 0

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute("SELECT 1")

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A unit of work: ``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception)."""
        if self._writer is None:
            raise Internal("database is not open")
        async with self._write_lock:
            conn = self._writer
            # BEGIN/COMMIT/ROLLBACK are shielded: a cancellation landing on one of them (the statement
            # still runs in aiosqlite's thread) must not leave the writer inside an open transaction.
            try:
                with anyio.CancelScope(shield=True):
                    await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:  # still locked by another process after the busy timeout
                raise map_error(exc) from exc
            try:
                yield conn
            except BaseException as exc:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise map_error(exc) from exc
                raise
            else:
                with anyio.CancelScope(shield=True):
                    try:
                        await conn.execute("COMMIT")
                    except BaseException as exc:
                        with contextlib.suppress(Exception):
                            await conn.execute("ROLLBACK")
                        if isinstance(exc, sqlite3.Error):
                            raise map_error(exc) from exc
                        raise

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer connection outside any transaction, under the write lock (for statements that
        cannot run in one: ``VACUUM``, ``PRAGMA wal_checkpoint``)."""
        if self._writer is None:
            raise Internal("database is not open")
        async with self._write_lock:
            try:
                yield self._writer
            except sqlite3.Error as exc:
                raise map_error(exc) from exc

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Borrow a reader connection (autocommit: each statement sees the latest commit)."""
        if not self._all_readers:
            raise Internal("database is not open")
        conn = await self._readers.get()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise map_error(exc) from exc
        finally:
            self._readers.put_nowait(conn)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[SqliteConn]:
        async with self.read() as conn:
            yield SqliteConn(conn)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[SqliteConn]:
        async with self.write() as conn:
            yield SqliteConn(conn)

    # One write statement is a unit of work on the single writer like any other.
    writing = atomic

    # -- values -------------------------------------------------------------------------------

    def to_db(self, at: datetime) -> str:
        return utc_text(at)

    def from_db(self, value: str | None) -> datetime | None:
        return None if value is None else datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)

    def iso_to_db(self, value: datetime | str | None) -> str | None:
        """Product and audit times are the ISO text of the value; callers' bounds compare as given."""
        return value.isoformat() if isinstance(value, datetime) else value

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    # -- hooks --------------------------------------------------------------------------------

    async def lock(self, conn: Conn, key: str) -> None:
        """Nothing to do: the unit of work holds SQLite's write lock, which serialises every writer."""

    async def claim(
        self,
        conn: Conn,
        table: str,
        candidates: Sequence[tuple[str, Sequence[Any]]],
        assign: str,
        assign_args: Sequence[Any],
        returning: str,
    ) -> Row | None:
        # One statement under the write lock: exclusive across connections and processes.
        picks = [f"({sql})" for sql, _ in candidates]
        pick = picks[0] if len(picks) == 1 else f"COALESCE({', '.join(picks)})"
        args = [*assign_args, *(a for _, cargs in candidates for a in cargs)]
        return await conn.fetchone(f"UPDATE {table} SET {assign} WHERE seq = {pick} RETURNING {returning}", *args)

    def search_terms(self, query: str) -> list[tuple[str, list[Any]]]:
        """Terms of 3+ characters in one FTS5 trigram MATCH; shorter ones by LIKE over the same table."""
        long_terms: list[str] = []
        short_terms: list[str] = []
        for term in query.split():
            (long_terms if len(term) >= 3 else short_terms).append(term)
        out: list[tuple[str, list[Any]]] = []
        if long_terms:
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
            out.append(("p.seq IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ?)", [match]))
        for term in short_terms:
            like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            out.append(("p.seq IN (SELECT rowid FROM products_fts WHERE text LIKE ? ESCAPE '\\')", [like]))
        return out

    async def write_search(self, conn: Conn, seq: int, text: str | None) -> None:
        await conn.execute("DELETE FROM products_fts WHERE rowid = ?", seq)
        if text is not None:
            await conn.execute("INSERT INTO products_fts (rowid, text) VALUES (?, ?)", seq, text)

    async def maintenance(self) -> dict[str, Any]:
        """``PRAGMA optimize``, a VACUUM when a quarter of the file is free pages, a WAL checkpoint."""
        async with self.exclusive() as conn:

            async def one(sql: str) -> Any:
                row = await (await conn.execute(sql)).fetchone()
                return None if row is None else row[0]

            await conn.execute("PRAGMA optimize")
            pages, free, auto_vacuum = (
                await one("PRAGMA page_count"),
                await one("PRAGMA freelist_count"),
                await one("PRAGMA auto_vacuum"),
            )
            action = "none"
            if auto_vacuum == 2 and free:
                await conn.execute("PRAGMA incremental_vacuum")
                action = "incremental_vacuum"
            elif free >= VACUUM_MIN_FREE_PAGES and free >= VACUUM_FREE_RATIO * pages:
                await conn.execute("VACUUM")
                action = "vacuum"
            row = await (await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")).fetchone()
            after_pages, after_free = await one("PRAGMA page_count"), await one("PRAGMA freelist_count")
        out = {
            "backend": "sqlite",
            "optimized": True,
            "vacuum": action,
            "pages_before": pages,
            "free_pages_before": free,
            "pages_after": after_pages,
            "free_pages_after": after_free,
            "wal_checkpoint": {"busy": row[0], "log_frames": row[1], "checkpointed": row[2]} if row else None,
        }
        log.info("sqlite maintenance: %s", out)
        return out


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations keep ';' out of string literals;
    a CREATE TRIGGER statement runs to its ``END;`` line)."""
    statements, buf = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0]
        buf.append(stripped)
        in_trigger = "\n".join(buf).lstrip().upper().startswith("CREATE TRIGGER")
        if in_trigger and stripped.strip().upper() != "END;":
            continue
        if stripped.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip().rstrip(";")
            if stmt:
                statements.append(stmt)
            buf = []
    tail = "\n".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements
