"""What the one SQL store needs from a backend, and nothing more.

The store (:mod:`dataproduct_mcp.persistence.store` and its concept modules) holds every statement
and every state machine once, written with ``?`` placeholders. A dialect supplies:

- **connections**, each yielding a :class:`Conn`: ``reading()`` (each statement sees the latest
  commit), ``atomic()`` (a unit of work: all of it commits or none) and ``writing()`` (one write
  statement, its own transaction); driver errors leave them mapped to
  :mod:`dataproduct_mcp.errors` classes by the dialect's one error map (``map_error``);
- **values**: ``to_db``/``from_db`` for the queue's times (tasks, outbox, job leases),
  ``iso_to_db`` for product and audit times and the ISO strings callers filter them by, and
  ``any_of`` for a list of text values;
- **the hooks where the SQL really differs**: ``claim`` (take one row of a queue exclusively),
  ``lock`` (serialise a unit of work per key where SQLite has its single writer), ``for_update``,
  text search (``search_column``, ``write_search``, ``search_terms``) and ``maintenance``.

Booleans need no hook: the shared SQL uses ``TRUE``/``FALSE`` and bare boolean columns, which
SQLite (integers 0/1) and PostgreSQL (``BOOLEAN``) read alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from importlib import resources
from typing import Any, Protocol

__all__ = ["Conn", "Dialect", "Row", "load_migrations"]


class Row(Protocol):
    """A result row: by position or by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Conn(Protocol):
    """A connection borrowed from a dialect; SQL uses ``?`` placeholders."""

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None without a row)."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the number of rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Dialect(Protocol):
    @property
    def backend(self) -> str: ...

    @property
    def unique_violation(self) -> type[Exception]:
        """Raised by a statement that breaks a unique index (the store, knowing what it means, maps it)."""

    @property
    def for_update(self) -> str:
        """Appended to a SELECT of a row the unit of work then changes ("" under a single writer)."""

    @property
    def search_column(self) -> tuple[str, str] | None:
        """(column, value expression) of the products row holding its search text; None if a side table does."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot answer."""

    async def schema_version(self) -> int: ...

    def reading(self) -> AbstractAsyncContextManager[Conn]: ...

    def atomic(self) -> AbstractAsyncContextManager[Conn]: ...

    def writing(self) -> AbstractAsyncContextManager[Conn]: ...

    def to_db(self, at: datetime) -> Any:
        """A queue time as stored (SQLite: fixed-width UTC text, so text order is time order)."""

    def from_db(self, value: Any) -> datetime | None: ...

    def iso_to_db(self, value: datetime | str | None) -> Any:
        """A product or audit time, or a caller's ISO 8601 bound on one, as stored and compared."""

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """A condition ``column`` is one of ``values`` (text), and its arguments."""

    async def lock(self, conn: Conn, key: str) -> None:
        """Serialise units of work on ``key`` until this one ends (no-op under a single writer)."""

    async def claim(
        self,
        conn: Conn,
        table: str,
        candidates: Sequence[tuple[str, Sequence[Any]]],
        assign: str,
        assign_args: Sequence[Any],
        returning: str,
    ) -> Row | None:
        """Inside ``atomic()``: take the row of ``table`` whose ``seq`` the first of ``candidates``
        (``SELECT seq ... LIMIT 1`` queries, in order of preference) that finds one selects, so that
        no concurrent claimer takes it too; ``UPDATE ... SET {assign}`` it and return ``returning``."""

    def search_terms(self, query: str) -> list[tuple[str, list[Any]]]:
        """Conditions on products ``p`` (with their arguments) that every whitespace-separated term
        of ``query`` is a case-insensitive substring of the product's search text."""

    async def write_search(self, conn: Conn, seq: int, text: str | None) -> None:
        """Store (or, with None, drop) the search text of product ``seq`` where a side table holds it."""

    async def maintenance(self) -> dict[str, Any]:
        """Backend upkeep; what it did."""


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
