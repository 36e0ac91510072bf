"""The ``product_inputs`` index (downstream lineage) and the lookups of the lineage walk, on both
backends: written with the product, keyed like port_ref, tenant-scoped, backfilled by its migration."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from dataproduct_mcp.domain.products import DataProduct, DataProductFields, ProductStatus, content_hash, ord_id_for
from dataproduct_mcp.persistence.base import ProductRef, Store
from dataproduct_mcp.persistence.products import REF_CHUNK

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]


def make(name: str, *ports: str, tenant: str = "local") -> tuple[DataProduct, str]:
    fields = DataProductFields(name=name, title=name, version="1.0.0", owner="team", input_ports=list(ports))
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


async def consumers(store: Store, product: DataProduct, tenant: str = "local", limit: int = 100) -> list[str]:
    return [p.name for p in await store.list_consumers(tenant, [product.id, product.ord_id], limit)]


async def test_the_index_follows_inserts_updates_and_deletes(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        src, digest = make("src")
        await store.insert_product(src, digest)
        by_id, d1 = make("by-id", src.id.upper())
        by_ord, d2 = make("by-ord", src.ord_id, src.ord_id)
        other, d3 = make("other-tenant", src.id, tenant="acme")
        for product, d in ((by_id, d1), (by_ord, d2), (other, d3)):
            await store.insert_product(product, d)
        assert await consumers(store, src) == ["by-id", "by-ord"]
        assert await consumers(store, src, limit=1) == ["by-id"]  # the first in creation order
        assert await consumers(store, src, tenant="acme") == ["other-tenant"]
        changed = by_id.model_copy(update={"input_ports": ["customer.dpmcp:dataProduct:elsewhere:v1"], "revision": 2})
        await store.replace_product(changed, 1, d1)
        assert await consumers(store, src) == ["by-ord"]
        gone = by_ord.model_copy(
            update={"status": ProductStatus.deleted, "deleted_at": datetime.now(UTC), "revision": 2}
        )
        await store.replace_product(gone, 1, d2)
        assert await consumers(store, src) == []
    finally:
        await store.close()


async def test_lookups_tell_live_from_deleted_and_span_chunks(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        live = [make(f"p{i}") for i in range(REF_CHUNK + 20)]
        for product, digest in live:
            await store.insert_product(product, digest)
        dead, digest = make("dead")
        await store.insert_product(dead, digest)
        await store.replace_product(dead.model_copy(update={"deleted_at": datetime.now(UTC), "revision": 2}), 1, digest)
        ids = [p.id for p, _ in live]
        refs = await store.find_refs("local", [*ids, dead.id, str(uuid.uuid4())], [live[0][0].ord_id, dead.ord_id])
        assert len(refs) == len(live) + 1  # each product once, whether named by id, ord_id or both
        assert ProductRef(dead.id, dead.ord_id, True) in refs
        assert {r.id for r in refs if not r.deleted} == set(ids)
        assert await store.find_refs("acme", ids[:10], []) == []
        loaded = await store.get_products("local", [*reversed(ids), dead.id])
        assert [p.id for p in loaded] == ids  # creation order, live only
        hub, digest = make("hub")
        await store.insert_product(hub, digest)
        for i in range(3):
            product, digest = make(f"reader{i}", hub.id)
            await store.insert_product(product, digest)
        many_refs = [str(uuid.uuid4()) for _ in range(REF_CHUNK)] + [hub.id]
        assert [p.name for p in await store.list_consumers("local", many_refs, 2)] == ["reader0", "reader1"]
    finally:
        await store.close()


async def test_the_migration_indexes_products_stored_before_it(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    src, digest = make("src")
    reader, d1 = make("reader", src.id.upper(), src.ord_id)
    dead, d2 = make("dead", src.id)
    for product, d in ((src, digest), (reader, d1), (dead, d2)):
        await store.insert_product(product, d)
    await store.replace_product(dead.model_copy(update={"deleted_at": datetime.now(UTC), "revision": 2}), 1, d2)
    version = await store.schema_version()
    async with store.db.atomic() as conn:  # back to the schema before 0009
        await conn.execute("DROP TABLE product_inputs")
        await conn.execute("DELETE FROM schema_migrations WHERE version = 9")
    await store.close()
    again = make_store()
    await again.open()
    try:
        assert await again.schema_version() == version
        assert await consumers(again, src) == ["reader"]
        async with again.db.reading() as conn:
            rows = await conn.fetchall("SELECT ref FROM product_inputs ORDER BY ref")
        assert sorted(r[0] for r in rows) == sorted([src.id, src.ord_id])  # lower-cased id; none of the deleted
    finally:
        await again.close()
