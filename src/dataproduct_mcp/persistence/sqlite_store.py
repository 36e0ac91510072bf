"""The SQLite implementation of :class:`~dataproduct_mcp.persistence.base.Store`."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import AlreadyExists, Conflict, NotFound
from dataproduct_mcp.persistence.base import ProductFilter, ProductPage
from dataproduct_mcp.persistence.sqlite_audit import SqliteAuditMixin, insert_audit
from dataproduct_mcp.persistence.sqlite_db import Database
from dataproduct_mcp.persistence.sqlite_jobs import SqliteJobsMixin
from dataproduct_mcp.persistence.sqlite_outbox import SqliteOutboxMixin
from dataproduct_mcp.persistence.sqlite_tasks import SqliteTaskStoreMixin

__all__ = ["SqliteStore"]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _search_text(p: DataProduct) -> str:
    parts = [p.name, p.title, p.short_description or "", p.description or "", *p.tags, *p.keywords]
    return "\n".join(parts)


def _fts_query(text: str) -> tuple[str | None, list[str]]:
    """Split a user query into an FTS5 trigram MATCH (terms of 3+ chars) and LIKE terms (shorter)."""
    long_terms, short_terms = [], []
    for term in text.split():
        (long_terms if len(term) >= 3 else short_terms).append(term)
    match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms) or None
    likes = ["%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for t in short_terms]
    return match, likes


class SqliteStore(SqliteTaskStoreMixin, SqliteAuditMixin, SqliteOutboxMixin, SqliteJobsMixin):
    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.db = Database(path)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        async with self.db.read() as conn:
            await conn.execute("SELECT 1")

    async def schema_version(self) -> int:
        return await self.db.schema_version()

    async def server_secret(self, name: str) -> bytes:
        async with self.db.write() as conn:
            await conn.execute(
                "INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ'))"
                " ON CONFLICT (name) DO NOTHING",
                (name, secrets.token_bytes(32)),
            )
            row = await (await conn.execute("SELECT value FROM server_secrets WHERE name = ?", (name,))).fetchone()
        assert row is not None
        return bytes(row[0])

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
            _iso(p.created_at),
            _iso(p.updated_at),
            _iso(p.deleted_at),
        )

    async def _write_index(self, conn: aiosqlite.Connection, seq: int, p: DataProduct) -> None:
        await conn.execute("DELETE FROM product_tags WHERE product_seq = ?", (seq,))
        await conn.execute("DELETE FROM products_fts WHERE rowid = ?", (seq,))
        if p.deleted_at is None:
            await conn.executemany(
                "INSERT INTO product_tags (product_seq, tenant, tag) VALUES (?, ?, ?)",
                [(seq, p.tenant, tag) for tag in p.tags],
            )
            await conn.execute("INSERT INTO products_fts (rowid, text) VALUES (?, ?)", (seq, _search_text(p)))

    async def insert_product(self, product: DataProduct, content_hash: str, audit: AuditEvent | None = None) -> None:
        async with self.db.write() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO products (id, tenant, ord_id, name, owner, status, revision, content_hash, body,"
                    " created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (product.id, *self._row_values(product, content_hash)),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(
                    f"a live data product with ord_id {product.ord_id} already exists", ord_id=product.ord_id
                ) from exc
            assert cur.lastrowid is not None
            await self._write_index(conn, cur.lastrowid, product)
            if audit is not None:
                await insert_audit(conn, audit)

    async def get_product(self, tenant: str, product_id: str, *, include_deleted: bool = False) -> DataProduct:
        sql = "SELECT body FROM products WHERE tenant = ? AND id = ?"
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        async with self.db.read() as conn:
            row = await (await conn.execute(sql, (tenant, product_id))).fetchone()
        if row is None:
            raise NotFound(f"no data product with id {product_id!r}", id=product_id)
        return DataProduct.model_validate_json(row[0])

    async def get_product_by_ord_id(self, tenant: str, ord_id: str) -> DataProduct:
        found = await self.find_live_identity(tenant, ord_id)
        if found is None:
            raise NotFound(f"no data product with ord_id {ord_id!r}", ord_id=ord_id)
        return found[0]

    async def find_live_identity(self, tenant: str, ord_id: str) -> tuple[DataProduct, str] | None:
        async with self.db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT body, content_hash FROM products WHERE tenant = ? AND ord_id = ? AND deleted_at IS NULL",
                    (tenant, ord_id),
                )
            ).fetchone()
        return None if row is None else (DataProduct.model_validate_json(row[0]), row[1])

    async def list_products(self, tenant: str, flt: ProductFilter, limit: int, after: int | None) -> ProductPage:
        where = ["p.tenant = ?", "p.deleted_at IS NULL"]
        args: list[Any] = [tenant]
        if flt.status is not None:
            where.append("p.status = ?")
            args.append(flt.status.value)
        if flt.owner is not None:
            where.append("p.owner = ?")
            args.append(flt.owner)
        for tag in flt.tags:
            where.append("p.seq IN (SELECT product_seq FROM product_tags WHERE tenant = ? AND tag = ?)")
            args.extend((tenant, tag))
        if flt.query:
            match, likes = _fts_query(flt.query)
            if match:
                where.append("p.seq IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ?)")
                args.append(match)
            for like in likes:
                where.append("p.seq IN (SELECT rowid FROM products_fts WHERE text LIKE ? ESCAPE '\\')")
                args.append(like)
        base = " AND ".join(where)
        page_where, page_args = base, list(args)
        if after is not None:
            page_where += " AND p.seq > ?"
            page_args.append(after)
        async with self.db.read() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT p.seq, p.body FROM products p WHERE {page_where} ORDER BY p.seq LIMIT ?",
                    (*page_args, limit + 1),
                )
            ).fetchall()
            total_row = await (await conn.execute(f"SELECT COUNT(*) FROM products p WHERE {base}", args)).fetchone()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [DataProduct.model_validate_json(r[1]) for r in rows]
        return ProductPage(
            items=items,
            positions=[int(r[0]) for r in rows],
            total=int(total_row[0]) if total_row else 0,
            next_after=rows[-1][0] if more else None,
        )

    async def replace_product(
        self, product: DataProduct, expected_revision: int, content_hash: str, audit: AuditEvent | None = None
    ) -> None:
        async with self.db.write() as conn:
            row = await (
                await conn.execute(
                    "SELECT seq, revision, deleted_at FROM products WHERE tenant = ? AND id = ?",
                    (product.tenant, product.id),
                )
            ).fetchone()
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
                    "UPDATE products SET tenant = ?, ord_id = ?, name = ?, owner = ?, status = ?, revision = ?,"
                    " content_hash = ?, body = ?, created_at = ?, updated_at = ?, deleted_at = ? WHERE seq = ?",
                    (*self._row_values(product, content_hash), row[0]),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(
                    f"a live data product with ord_id {product.ord_id} already exists", ord_id=product.ord_id
                ) from exc
            await self._write_index(conn, row[0], product)
            if audit is not None:
                await insert_audit(conn, audit)

    async def list_deleted(self, tenant: str, since_iso: str) -> list[DataProduct]:
        async with self.db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT body FROM products WHERE tenant = ? AND deleted_at IS NOT NULL AND deleted_at >= ?"
                    " ORDER BY deleted_at",
                    (tenant, since_iso),
                )
            ).fetchall()
        return [DataProduct.model_validate_json(r[0]) for r in rows]

    async def product_exists_in_other_tenant(self, tenant: str, product_id: str) -> bool:
        """For the audit trail only: does this id exist under another tenant (a cross-tenant probe)?"""
        async with self.db.read() as conn:
            row = await (
                await conn.execute("SELECT 1 FROM products WHERE id = ? AND tenant != ?", (product_id, tenant))
            ).fetchone()
        return row is not None

    async def count_products(self, tenant: str | None = None) -> dict[str, int]:
        sql = "SELECT status, COUNT(*) FROM products"
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args = (tenant,)
        async with self.db.read() as conn:
            rows = await (await conn.execute(sql + " GROUP BY status", args)).fetchall()
        return {r[0]: int(r[1]) for r in rows}
