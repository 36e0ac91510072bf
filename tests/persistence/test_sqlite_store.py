"""The product store on real files (SQLite; the both_backends tests on PostgreSQL too): migrations, WAL,
concurrent writers, restart, tenant scoping."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from dataproduct_mcp.domain.products import DataProduct, DataProductFields, ProductStatus, content_hash, ord_id_for
from dataproduct_mcp.errors import AlreadyExists, Conflict, NotFound
from dataproduct_mcp.persistence.base import ProductFilter, Store
from dataproduct_mcp.persistence.dialects import load_migrations
from dataproduct_mcp.persistence.store import SqliteStore

pytestmark = pytest.mark.anyio


def make(name: str, tenant: str = "local", **extra: object) -> tuple[DataProduct, str]:
    fields = DataProductFields(name=name, title=name.title(), version="1.0.0", owner="team", **extra)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    product = DataProduct(
        **fields.model_dump(by_alias=True),
        id=str(uuid.uuid4()),
        ord_id=ord_id_for("customer.dpmcp", name, "1.0.0"),
        tenant=tenant,
        namespace="customer.dpmcp",
        revision=1,
        status=ProductStatus.draft,
        created_at=now,
        updated_at=now,
    )
    return product, content_hash(fields)


async def test_migrations_are_numbered_and_applied_once(tmp_path: Path) -> None:
    numbers = [n for n, _, _ in load_migrations("sqlite")]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    for _ in range(2):
        store = SqliteStore(tmp_path / "db.sqlite3")
        await store.open()
        assert await store.schema_version() == len(load_migrations("sqlite"))
        await store.close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(load_migrations("sqlite"))


@pytest.mark.both_backends
async def test_everything_is_there_after_close_and_reopen(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    products = [make(f"p{i}") for i in range(50)]
    for product, digest in products:
        await store.insert_product(product, digest)
    await store.close()

    reopened = make_store()
    await reopened.open()
    try:
        page = await reopened.list_products("local", ProductFilter(), 100, None)
        assert [p.id for p in page.items] == [p.id for p, _ in products]
        assert await reopened.get_product("local", products[7][0].id) == products[7][0]
        search = await reopened.list_products("local", ProductFilter(query="P42"), 10, None)
        assert [p.name for p in search.items] == ["p42"]
    finally:
        await reopened.close()


@pytest.mark.both_backends
async def test_concurrent_writers_in_two_stores_on_one_file_lose_nothing(make_store: Callable[[], Store]) -> None:
    a, b = make_store(), make_store()
    await a.open()
    await b.open()
    try:
        async with anyio.create_task_group() as tg:
            for i in range(60):
                store = a if i % 2 else b
                tg.start_soon(store.insert_product, *make(f"c{i}"))
        page = await a.list_products("local", ProductFilter(), 100, None)
        assert page.total == 60
        assert {p.name for p in page.items} == {f"c{i}" for i in range(60)}
    finally:
        await a.close()
        await b.close()


@pytest.mark.both_backends
async def test_racing_inserts_of_one_identity_admit_exactly_one(make_store: Callable[[], Store]) -> None:
    a, b = make_store(), make_store()
    await a.open()
    await b.open()
    outcomes: list[str] = []

    async def insert(store: Store) -> None:
        try:
            await store.insert_product(*make("same"))
            outcomes.append("ok")
        except AlreadyExists:
            outcomes.append("exists")

    try:
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(insert, a if i % 2 else b)
        assert sorted(outcomes) == ["exists"] * 9 + ["ok"]
    finally:
        await a.close()
        await b.close()


@pytest.mark.both_backends
async def test_optimistic_replace_detects_a_stale_revision(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        product, digest = make("p")
        await store.insert_product(product, digest)
        v2 = product.model_copy(update={"title": "Two", "revision": 2})
        await store.replace_product(v2, 1, digest)
        with pytest.raises(Conflict):
            await store.replace_product(product.model_copy(update={"revision": 2}), 1, digest)
        assert (await store.get_product("local", product.id)).title == "Two"
    finally:
        await store.close()


@pytest.mark.both_backends
async def test_another_tenants_product_is_not_found(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        product, digest = make("p", tenant="acme")
        await store.insert_product(product, digest)
        with pytest.raises(NotFound):
            await store.get_product("other", product.id)
        with pytest.raises(NotFound):
            await store.get_product_by_ord_id("other", product.ord_id)
        assert (await store.list_products("other", ProductFilter(), 10, None)).total == 0
        # The same identity in another tenant is a different product.
        await store.insert_product(*make("p", tenant="other"))
    finally:
        await store.close()


async def test_a_failed_unit_of_work_rolls_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        with pytest.raises(RuntimeError):
            async with store.db.write() as conn:
                await conn.execute("INSERT INTO products_fts (rowid, text) VALUES (999, 'ghost')")
                raise RuntimeError("boom")
        async with store.db.read() as conn:
            row = await (await conn.execute("SELECT COUNT(*) FROM products_fts")).fetchone()
        assert row[0] == 0
    finally:
        await store.close()
