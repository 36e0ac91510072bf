"""SQLite's driver errors leave the store mapped, in one place (the SQLite dialect): a database
locked past the busy timeout is the retryable DatabaseUnavailable, as a PostgreSQL outage is; a
read-only or full database is an Internal error that says so. Real files, a real second writer."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.persistence.test_sqlite_store import make

from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import DatabaseUnavailable, DpError, Internal, NotFound, is_retryable
from dataproduct_mcp.persistence.dialects.sqlite import map_error
from dataproduct_mcp.persistence.store import SqliteStore

pytestmark = pytest.mark.anyio


def new_task() -> Task:
    now = datetime.now(UTC)
    return Task(
        id=str(uuid.uuid4()), tenant="local", kind="k", status=TaskStatus.queued, created_at=now, updated_at=now
    )


@pytest.mark.parametrize(
    ("exc", "mapped", "retryable"),
    [
        (sqlite3.OperationalError("database is locked"), DatabaseUnavailable, True),
        (sqlite3.OperationalError("database table is locked"), DatabaseUnavailable, True),
        (sqlite3.OperationalError("database is busy"), DatabaseUnavailable, True),
        (sqlite3.OperationalError("attempt to write a readonly database"), Internal, False),
        (sqlite3.OperationalError("database or disk is full"), Internal, False),
        (sqlite3.OperationalError("disk I/O error"), Internal, False),
        (sqlite3.DatabaseError("database disk image is malformed"), Internal, False),
        (sqlite3.IntegrityError("UNIQUE constraint failed: tasks.id"), Internal, False),
        (sqlite3.ProgrammingError("Incorrect number of bindings supplied"), Internal, False),
    ],
)
def test_every_sqlite_error_maps_to_one_of_our_classes(exc: sqlite3.Error, mapped: type, retryable: bool) -> None:
    err = map_error(exc)
    assert type(err) is mapped and err.code == "internal" and is_retryable(err) is retryable
    nf = NotFound("x")
    assert map_error(nf) is nf


def test_a_read_only_or_full_disk_says_what_to_do_and_other_errors_do_not_pretend_to() -> None:
    generic = map_error(sqlite3.DatabaseError("database disk image is malformed")).suggestion
    assert generic == Internal.default_suggestion
    for text in ("attempt to write a readonly database", "database or disk is full", "disk I/O error"):
        assert map_error(sqlite3.OperationalError(text)).suggestion != generic, text


async def test_a_write_locked_by_another_process_past_the_busy_timeout_is_retryable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SqliteStore(path, busy_timeout_ms=50)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        kept = new_task()
        await store.create_task(kept)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(DatabaseUnavailable) as caught:
            await store.create_task(new_task())
        assert is_retryable(caught.value) and caught.value.http_status == 503
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)  # the driver error, chained
        assert (await store.get_task("local", kept.id)).id == kept.id  # readers go on (WAL)
        other.rollback()
        again = new_task()
        await store.create_task(again)  # the lock is gone: the same write succeeds
        assert (await store.list_tasks("local", status=None, kind=None, limit=10, before=None)).total == 2
    finally:
        other.close()
        await store.close()


async def test_a_read_only_database_and_a_full_one_are_internal_errors_with_their_cause(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        async with store.db.write() as conn:
            await conn.execute("PRAGMA max_page_count = 1")  # no room left for anything new
        with pytest.raises(Internal) as full:
            await store.insert_product(*make("p", description="d" * 16000))
        cause = full.value.__cause__
        assert isinstance(cause, sqlite3.Error) and cause.sqlite_errorcode & 0xFF == sqlite3.SQLITE_FULL
        assert not is_retryable(full.value) and full.value.suggestion != Internal.default_suggestion

        async with store.db.exclusive() as conn:
            await conn.execute("PRAGMA query_only = 1")  # what a read-only file system does to writes
        with pytest.raises(DpError) as read_only:
            await store.create_task(new_task())
        cause = read_only.value.__cause__
        assert type(read_only.value) is Internal and not is_retryable(read_only.value)
        assert isinstance(cause, sqlite3.Error) and cause.sqlite_errorcode & 0xFF == sqlite3.SQLITE_READONLY
    finally:
        await store.close()
