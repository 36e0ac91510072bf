"""The PostgreSQL implementation of :class:`~dataproduct_mcp.persistence.base.Store` (several replicas).

Same behaviour as :class:`~dataproduct_mcp.persistence.sqlite_store.SqliteStore`, query for query:
every statement is scoped by tenant, products are keyset-paged on ``seq``, one live product per
(tenant, ord_id) is a partial unique index, and text search is the same case-insensitive
substring match (``LIKE`` per whitespace-separated term on lower-cased text, served by a ``pg_trgm`` GIN
index when the extension is available).
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import AlreadyExists, Conflict, NotFound
from dataproduct_mcp.persistence.base import ProductFilter, ProductPage
from dataproduct_mcp.persistence.pg_audit import PgAuditMixin, insert_audit
from dataproduct_mcp.persistence.pg_db import PgDatabase, parse_iso
from dataproduct_mcp.persistence.pg_jobs import PgJobsMixin
from dataproduct_mcp.persistence.pg_outbox import PgOutboxMixin
from dataproduct_mcp.persistence.pg_tasks import PgTaskStoreMixin

__all__ = ["PgStore", "like_pattern", "search_text"]


def search_text(p: DataProduct) -> str:
    parts = [p.name, p.title, p.short_description or "", p.description or "", *p.tags, *p.keywords]
    return "\n".join(parts)


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards escaped (backslash is PostgreSQL's default escape)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _already_exists(product: DataProduct) -> AlreadyExists:
    return AlreadyExists(f"a live data product with ord_id {product.ord_id} already exists", ord_id=product.ord_id)


class PgStore(PgTaskStoreMixin, PgAuditMixin, PgOutboxMixin, PgJobsMixin):
    backend = "postgresql"

    def __init__(self, dsn: str, *, pool_min: int = 2, pool_max: int = 10, timeout: float = 10.0) -> None:
        self.db = PgDatabase(dsn, min_size=pool_min, max_size=pool_max, timeout=timeout)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        await self.db.ping()

    async def schema_version(self) -> int:
        return await self.db.schema_version()

    async def server_secret(self, name: str) -> bytes:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                name,
                secrets.token_bytes(32),
            )
            value = await conn.fetchval("SELECT value FROM server_secrets WHERE name = $1", name)
        return bytes(value)

    # -- products ---------------------------------------------------------------------------

    @staticmethod
    def _row_values(p: DataProduct, content_hash: str) -> tuple[Any, ...]:
        return (
            p.tenant,
            p.ord_id,
            p.name,
            p.owner,
            p.status.value,
            p.revision,
            content_hash,
            p.model_dump_json(by_alias=True),
            None if p.deleted_at is not None else search_text(p),
            p.created_at,
            p.updated_at,
            p.deleted_at,
        )

    @staticmethod
    async def _write_tags(conn: asyncpg.Connection, seq: int, p: DataProduct) -> None:
        await conn.execute("DELETE FROM product_tags WHERE product_seq = $1", seq)
        if p.deleted_at is None and p.tags:
            await conn.execute(
                "INSERT INTO product_tags (product_seq, tenant, tag)"
                " SELECT $1, $2, t FROM unnest($3::text[]) AS t ON CONFLICT DO NOTHING",
                seq,
                p.tenant,
                list(p.tags),
            )

    async def insert_product(self, product: DataProduct, content_hash: str, audit: AuditEvent | None = None) -> None:
        async with self.db.transaction() as conn:
            try:
                seq = await conn.fetchval(
                    "INSERT INTO products (id, tenant, ord_id, name, owner, status, revision, content_hash, body,"
                    " search_text, created_at, updated_at, deleted_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, lower($10), $11, $12, $13) RETURNING seq",
                    product.id,
                    *self._row_values(product, content_hash),
                )
            except asyncpg.UniqueViolationError as exc:
                raise _already_exists(product) from exc
            await self._write_tags(conn, seq, product)
            if audit is not None:
                await insert_audit(conn, audit)

    async def get_product(self, tenant: str, product_id: str, *, include_deleted: bool = False) -> DataProduct:
        sql = "SELECT body FROM products WHERE tenant = $1 AND id = $2"
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        async with self.db.connection() as conn:
            body = await conn.fetchval(sql, tenant, product_id)
        if body is None:
            raise NotFound(f"no data product with id {product_id!r}", id=product_id)
        return DataProduct.model_validate_json(body)

    async def get_product_by_ord_id(self, tenant: str, ord_id: str) -> DataProduct:
        found = await self.find_live_identity(tenant, ord_id)
        if found is None:
            raise NotFound(f"no data product with ord_id {ord_id!r}", ord_id=ord_id)
        return found[0]

    async def find_live_identity(self, tenant: str, ord_id: str) -> tuple[DataProduct, str] | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT body, content_hash FROM products WHERE tenant = $1 AND ord_id = $2 AND deleted_at IS NULL",
                tenant,
                ord_id,
            )
        return None if row is None else (DataProduct.model_validate_json(row[0]), row[1])

    async def list_products(self, tenant: str, flt: ProductFilter, limit: int, after: int | None) -> ProductPage:
        where = ["p.tenant = $1", "p.deleted_at IS NULL"]
        args: list[Any] = [tenant]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if flt.status is not None:
            where.append(f"p.status = {arg(flt.status.value)}")
        if flt.owner is not None:
            where.append(f"p.owner = {arg(flt.owner)}")
        for tag in flt.tags:
            where.append(f"p.seq IN (SELECT product_seq FROM product_tags WHERE tenant = $1 AND tag = {arg(tag)})")
        if flt.query:
            # Every whitespace-separated term is a case-insensitive substring (SQLite: trigram FTS
            # for terms of 3+ characters, LIKE for shorter ones). search_text is stored lower-cased,
            # so LIKE on a lower-cased pattern (several times faster than ILIKE, same trigram index).
            for term in flt.query.split():
                where.append(f"p.search_text LIKE lower({arg(like_pattern(term))})")
        base = " AND ".join(where)
        n_base = len(args)
        page_where = base
        if after is not None:
            page_where += f" AND p.seq > {arg(after)}"
        limit_mark = arg(limit + 1)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT p.seq, p.body FROM products p WHERE {page_where} ORDER BY p.seq LIMIT {limit_mark}", *args
            )
            total = await conn.fetchval(f"SELECT COUNT(*) FROM products p WHERE {base}", *args[:n_base])
        more = len(rows) > limit
        rows = rows[:limit]
        return ProductPage(
            items=[DataProduct.model_validate_json(r[1]) for r in rows],
            positions=[int(r[0]) for r in rows],
            total=int(total or 0),
            next_after=int(rows[-1][0]) if more else None,
        )

    async def replace_product(
        self, product: DataProduct, expected_revision: int, content_hash: str, audit: AuditEvent | None = None
    ) -> None:
        async with self.db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT seq, revision, deleted_at FROM products WHERE tenant = $1 AND id = $2 FOR UPDATE",
                product.tenant,
                product.id,
            )
            if row is None or row[2] is not None:
                raise NotFound(f"no data product with id {product.id!r}", id=product.id)
            if row[1] != expected_revision:
                raise Conflict(
                    f"data product {product.id} is at revision {row[1]}, not {expected_revision}",
                    current_revision=row[1],
                    expected_revision=expected_revision,
                )
            try:
                await conn.execute(
                    "UPDATE products SET tenant = $1, ord_id = $2, name = $3, owner = $4, status = $5, revision = $6,"
                    " content_hash = $7, body = $8, search_text = lower($9), created_at = $10, updated_at = $11,"
                    " deleted_at = $12 WHERE seq = $13",
                    *self._row_values(product, content_hash),
                    row[0],
                )
            except asyncpg.UniqueViolationError as exc:
                raise _already_exists(product) from exc
            await self._write_tags(conn, row[0], product)
            if audit is not None:
                await insert_audit(conn, audit)

    async def list_deleted(self, tenant: str, since_iso: str) -> list[DataProduct]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT body FROM products WHERE tenant = $1 AND deleted_at IS NOT NULL AND deleted_at >= $2"
                " ORDER BY deleted_at",
                tenant,
                parse_iso(since_iso),
            )
        return [DataProduct.model_validate_json(r[0]) for r in rows]

    async def product_exists_in_other_tenant(self, tenant: str, product_id: str) -> bool:
        """For the audit trail only: does this id exist under another tenant (a cross-tenant probe)?"""
        async with self.db.connection() as conn:
            found = await conn.fetchval("SELECT 1 FROM products WHERE id = $1 AND tenant <> $2", product_id, tenant)
        return found is not None

    async def count_products(self, tenant: str | None = None) -> dict[str, int]:
        async with self.db.connection() as conn:
            if tenant is None:
                rows = await conn.fetch("SELECT status, COUNT(*) FROM products GROUP BY status")
            else:
                rows = await conn.fetch(
                    "SELECT status, COUNT(*) FROM products WHERE tenant = $1 GROUP BY status", tenant
                )
        return {r[0]: int(r[1]) for r in rows}
