"""SQLite access: one writer connection, a few readers, WAL, numbered migrations.

Writes go through :meth:`Database.write`, a unit of work in ``BEGIN IMMEDIATE`` on the
single writer connection (serialised by a lock within the process and by SQLite's write
lock across processes, with a busy timeout). Reads borrow one of a few reader connections
and run in parallel with the writer (WAL). All calls are async through ``aiosqlite``
(one thread per connection), so the event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import aiosqlite
import anyio

from dataproduct_mcp.errors import Internal
from dataproduct_mcp.logs import get_logger

__all__ = ["Database", "load_migrations"]

log = get_logger(__name__)

BUSY_TIMEOUT_MS = 10_000


def load_migrations(backend: str) -> list[tuple[int, str, str]]:
    """Numbered migrations ``NNNN_name.sql`` of a backend, in order: (number, name, sql)."""
    folder = resources.files("dataproduct_mcp.persistence") / "migrations" / backend
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            out.append((int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    out.sort()
    numbers = [n for n, _, _ in out]
    if len(set(numbers)) != len(numbers) or (numbers and numbers[0] < 1):
        raise RuntimeError(f"migrations of {backend} must have distinct positive numbers: {numbers}")
    return out


class Database:
    def __init__(self, path: Path, *, readers: int = 3) -> None:
        self.path = path
        self._n_readers = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
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

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A unit of work: ``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception)."""
        if self._writer is None:
            raise Internal("database is not open")
        async with self._write_lock:
            conn = self._writer
            # BEGIN/COMMIT/ROLLBACK are shielded: a cancellation landing on one of them (the statement
            # still runs in aiosqlite's thread) must not leave the writer inside an open transaction.
            with anyio.CancelScope(shield=True):
                await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
                raise
            else:
                with anyio.CancelScope(shield=True):
                    try:
                        await conn.execute("COMMIT")
                    except BaseException:
                        with contextlib.suppress(Exception):
                            await conn.execute("ROLLBACK")
                        raise

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer connection outside any transaction, under the write lock (for statements that
        cannot run in one: ``VACUUM``, ``PRAGMA wal_checkpoint``)."""
        if self._writer is None:
            raise Internal("database is not open")
        async with self._write_lock:
            yield self._writer

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Borrow a reader connection (autocommit: each statement sees the latest commit)."""
        if not self._all_readers:
            raise Internal("database is not open")
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)


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
