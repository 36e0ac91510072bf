"""PostgreSQL specifics on a real server: migrations under an advisory lock, the append-only audit
trigger, trigram search with SQLite's meaning, error mapping, and a database that goes away and
comes back (bounded waits, then recovery)."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import asyncpg
import pytest
from tests.persistence.test_sqlite_store import make
from tests.pg import TcpProxy

from dataproduct_mcp.domain.audit import AuditEvent, AuditKind
from dataproduct_mcp.errors import AlreadyExists, DatabaseUnavailable, Internal, NotFound, is_retryable
from dataproduct_mcp.persistence.base import ProductFilter, Store
from dataproduct_mcp.persistence.dialects import load_migrations
from dataproduct_mcp.persistence.dialects.postgres import map_error as wrap_db_errors
from dataproduct_mcp.persistence.store import PgStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "postgresql")  # PostgreSQL here, unless a test asks for both


def test_postgresql_migrations_have_the_sqlite_numbers_and_names() -> None:
    assert [(n, name) for n, name, _ in load_migrations("postgresql")] == [
        (n, name) for n, name, _ in load_migrations("sqlite")
    ]


async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    stores = [PgStore(database_url, pool_min=1, pool_max=2) for _ in range(4)]
    try:
        async with anyio.create_task_group() as tg:
            for store in stores:
                tg.start_soon(store.open)
        for store in stores:
            assert await store.schema_version() == len(load_migrations("postgresql"))
        async with stores[0].db.connection() as conn:
            rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == [n for n, _, _ in load_migrations("postgresql")]
        assert stores[0].db.trigram  # pg_trgm is available on the test server
    finally:
        for store in stores:
            await store.close()


@pytest.fixture
async def store(database_url: str):  # type: ignore[no-untyped-def]
    s = PgStore(database_url, pool_min=1, pool_max=4, timeout=5)
    await s.open()
    yield s
    await s.close()


async def test_audit_events_refuse_update_at_the_database(store: PgStore) -> None:
    event = AuditEvent(id=str(uuid.uuid4()), at=datetime.now(UTC), tenant="local", kind=AuditKind.product_created)
    seq = await store.append_audit(event)
    async with store.db.connection() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE audit_events SET actor = 'x' WHERE seq = $1", seq)
    events, _ = await store.list_audit("local")
    assert [e.id for e in events] == [event.id] and events[0].actor is None


async def test_a_failed_unit_of_work_rolls_back(store: PgStore) -> None:
    product, digest = make("ghost")
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO audit_events (id, at, tenant, kind, detail) VALUES ('x', now(), 'l', 'k', '{}')"
            )
            raise RuntimeError("boom")
    async with store.db.connection() as conn:
        assert await conn.fetchval("SELECT COUNT(*) FROM audit_events") == 0
    await store.insert_product(product, digest)
    with pytest.raises(AlreadyExists):  # the partial unique index, mapped
        await store.insert_product(*make("ghost"))


async def test_search_has_a_trigram_index_when_pg_trgm_is_available(store: PgStore) -> None:
    # Whether the planner prefers it over a scan depends on the table size: bench/bench_pg.py
    # shows the plans at 100 k and 1 M products.
    assert store.db.trigram
    async with store.db.connection() as conn:
        definition = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'products_search_trgm'"
        )
    assert "gin (search_text public.gin_trgm_ops)" in definition and "deleted_at IS NULL" in definition


@pytest.mark.both_backends
async def test_search_is_a_case_insensitive_substring_per_term_on_both_backends(
    make_store: Callable[[], Store],
) -> None:
    s = make_store()
    await s.open()
    try:
        for name, extra in [
            ("sales-orders", {"tags": ["EU"]}),
            ("hr-people", {"description": "Staff 100% of the time"}),
            ("a_b", {}),
        ]:
            await s.insert_product(*make(name, **extra))  # type: ignore[arg-type]

        async def names(query: str) -> list[str]:
            return [p.name for p in (await s.list_products("local", ProductFilter(query=query), 10, None)).items]

        assert await names("ORDER") == ["sales-orders"]
        assert await names("eu") == ["sales-orders"]  # short term (< 3 characters)
        assert await names("sales orders") == ["sales-orders"]  # every term must match
        assert await names("sales people") == []
        assert await names("100%") == ["hr-people"]  # wildcards are literal
        assert await names("%") == ["hr-people"]
        assert await names("_") == ["a_b"]
    finally:
        await s.close()


def test_driver_errors_map_to_our_classes() -> None:
    for exc in (ConnectionRefusedError(), TimeoutError(), asyncpg.TooManyConnectionsError("x")):
        err = wrap_db_errors(exc)
        assert isinstance(err, DatabaseUnavailable) and err.code == "internal" and is_retryable(err)
    syntax = wrap_db_errors(asyncpg.PostgresSyntaxError("bad"))
    assert type(syntax) is Internal and not is_retryable(syntax)
    nf = NotFound("x")
    assert wrap_db_errors(nf) is nf


async def test_an_unreachable_database_fails_fast_at_open() -> None:
    store = PgStore("postgresql://nobody@127.0.0.1:1/test", timeout=2)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await store.open()
    assert time.monotonic() - started < 5
    await store.close()


async def test_calls_fail_bounded_while_the_database_is_down_and_recover_when_it_returns(database_url: str) -> None:
    proxy = TcpProxy()
    await proxy.start()
    store = PgStore(proxy.dsn(database_url), pool_min=2, pool_max=3, timeout=2)
    await store.open()
    try:
        product, digest = make("p")
        await store.insert_product(product, digest)
        await proxy.stop()
        for call in (store.ping, lambda: store.get_product("local", product.id), store.count_tasks):
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await call()
            assert time.monotonic() - started < 5  # bounded by the timeout, never a hang
        await proxy.start()  # the same port: the database is back
        with anyio.fail_after(10):
            while True:
                try:
                    await store.ping()
                    break
                except DatabaseUnavailable:
                    await anyio.sleep(0.1)
        assert (await store.get_product("local", product.id)).id == product.id
    finally:
        await store.close()
        await proxy.stop()


def test_both_stores_implement_every_protocol_method_with_the_same_parameters() -> None:
    from dataproduct_mcp.persistence import base
    from dataproduct_mcp.persistence.store import SqliteStore

    names = {
        name
        for cls in base.Store.__mro__
        if cls.__module__ == base.__name__
        for name, value in vars(cls).items()
        if not name.startswith("_") and callable(value)
    }
    assert len(names) > 30
    for name in sorted(names):
        assert hasattr(PgStore, name), f"PgStore lacks {name}"
        pg, lite = inspect.signature(getattr(PgStore, name)), inspect.signature(getattr(SqliteStore, name))
        assert list(pg.parameters) == list(lite.parameters), name
