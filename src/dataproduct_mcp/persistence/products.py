"""Data products (:class:`~dataproduct_mcp.persistence.base.ProductStore`), once for both backends.

Every statement is scoped by tenant; products are keyset-paged on ``seq``; one live product per
(tenant, ord_id) is a partial unique index (its violation is ``AlreadyExists``); an optimistic
replace reads the row ``FOR UPDATE`` where the writer is not single. Text search is the same
case-insensitive substring match per whitespace-separated term on both backends; the dialect
stores the search text (SQLite: an FTS5 trigram table, PostgreSQL: a lower-cased column with a
``pg_trgm`` index) and turns the terms into conditions. ``product_inputs`` keys each live
product's input ports (:func:`~dataproduct_mcp.domain.lineage.port_ref`) for the downstream
lineage query; like ``product_tags`` it is written in the product's unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.domain.lineage import port_ref
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import AlreadyExists, Conflict, NotFound
from dataproduct_mcp.persistence.audit import insert_audit
from dataproduct_mcp.persistence.base import ContractDocument, ProductFilter, ProductPage, ProductRef
from dataproduct_mcp.persistence.dialects.base import Conn, Dialect

__all__ = ["REF_CHUNK", "ProductsMixin", "search_text"]

REF_CHUNK = 500  # values per IN (...) list: far below SQLite's variable limit, small plans on PostgreSQL

_COLUMNS = ("tenant", "ord_id", "name", "owner", "status", "revision", "content_hash", "body")
_TIMES = ("created_at", "updated_at", "deleted_at")


def search_text(p: DataProduct) -> str:
    parts = [p.name, p.title, p.short_description or "", p.description or "", *p.tags, *p.keywords]
    return "\n".join(parts)


def _already_exists(product: DataProduct) -> AlreadyExists:
    return AlreadyExists(f"a live data product with ord_id {product.ord_id} already exists", ord_id=product.ord_id)


class ProductsMixin:
    db: Dialect

    def _row(self, p: DataProduct, content_hash: str) -> tuple[list[str], list[str], list[Any]]:
        """Columns, value expressions and values of a product's row."""
        values: list[Any] = [
            p.tenant,
            p.ord_id,
            p.name,
            p.owner,
            p.status.value,
            p.revision,
            content_hash,
            p.model_dump_json(by_alias=True),
            *(self.db.iso_to_db(at) for at in (p.created_at, p.updated_at, p.deleted_at)),
        ]
        columns, marks = [*_COLUMNS, *_TIMES], ["?"] * len(values)
        if self.db.search_column is not None:  # the search text is part of the row
            column, mark = self.db.search_column
            columns.append(column)
            marks.append(mark)
            values.append(None if p.deleted_at is not None else search_text(p))
        return columns, marks, values

    async def _write_index(self, conn: Conn, seq: int, p: DataProduct) -> None:
        """The product's tags, input ports and (where a side table holds it) search text; none once deleted."""
        await conn.execute("DELETE FROM product_tags WHERE product_seq = ?", seq)
        await conn.execute("DELETE FROM product_inputs WHERE product_seq = ?", seq)
        live = p.deleted_at is None
        if live and p.tags:
            await conn.executemany(
                "INSERT INTO product_tags (product_seq, tenant, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(seq, p.tenant, tag) for tag in p.tags],
            )
        if live and p.input_ports:
            refs = dict.fromkeys(port_ref(port).key for port in p.input_ports)
            await conn.executemany(
                "INSERT INTO product_inputs (product_seq, tenant, ref) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(seq, p.tenant, ref) for ref in refs],
            )
        await self.db.write_search(conn, seq, search_text(p) if live else None)

    async def _insert_row(self, conn: Conn, product: DataProduct, content_hash: str) -> int:
        """INSERT a product and its index on ``conn`` (inside the caller's unit of work); its ``seq``."""
        columns, marks, values = self._row(product, content_hash)
        try:
            seq = await conn.fetchval(
                f"INSERT INTO products (id, {', '.join(columns)}) VALUES (?, {', '.join(marks)}) RETURNING seq",
                product.id,
                *values,
            )
        except self.db.unique_violation as exc:
            raise _already_exists(product) from exc
        await self._write_index(conn, int(seq), product)
        return int(seq)

    async def insert_product(self, product: DataProduct, content_hash: str, audit: AuditEvent | None = None) -> None:
        async with self.db.atomic() as conn:
            await self._insert_row(conn, product, content_hash)
            if audit is not None:
                await insert_audit(self.db, conn, audit)

    async def get_product(self, tenant: str, product_id: str, *, include_deleted: bool = False) -> DataProduct:
        sql = "SELECT body FROM products WHERE tenant = ? AND id = ?"
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        async with self.db.reading() as conn:
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
        async with self.db.reading() as conn:
            row = await conn.fetchone(
                "SELECT body, content_hash FROM products WHERE tenant = ? AND ord_id = ? AND deleted_at IS NULL",
                tenant,
                ord_id,
            )
        return None if row is None else (DataProduct.model_validate_json(row[0]), row[1])

    async def list_products(self, tenant: str, flt: ProductFilter, limit: int, after: int | None) -> ProductPage:
        where: list[str] = ["p.tenant = ?", "p.deleted_at IS NULL"]
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
            for condition, condition_args in self.db.search_terms(flt.query):
                where.append(condition)
                args.extend(condition_args)
        base = " AND ".join(where)
        page_where, page_args = base, list(args)
        if after is not None:
            page_where += " AND p.seq > ?"
            page_args.append(after)
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT p.seq, p.body FROM products p WHERE {page_where} ORDER BY p.seq LIMIT ?", *page_args, limit + 1
            )
            total = await conn.fetchval(f"SELECT COUNT(*) FROM products p WHERE {base}", *args)
        more = len(rows) > limit
        rows = rows[:limit]
        return ProductPage(
            items=[DataProduct.model_validate_json(r[1]) for r in rows],
            positions=[int(r[0]) for r in rows],
            total=int(total or 0),
            next_after=int(rows[-1][0]) if more else None,
        )

    async def replace_product(
        self,
        product: DataProduct,
        expected_revision: int,
        content_hash: str,
        audit: AuditEvent | None = None,
        contract: ContractDocument | None = None,
    ) -> None:
        async with self.db.atomic() as conn:
            row = await conn.fetchone(
                "SELECT seq, revision, deleted_at FROM products WHERE tenant = ? AND id = ?" + self.db.for_update,
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
            columns, marks, values = self._row(product, content_hash)
            assign = ", ".join(f"{c} = {m}" for c, m in zip(columns, marks, strict=True))
            try:
                await conn.execute(f"UPDATE products SET {assign} WHERE seq = ?", *values, row[0])
            except self.db.unique_violation as exc:
                raise _already_exists(product) from exc
            await self._write_index(conn, row[0], product)
            if contract is not None:
                await conn.execute("DELETE FROM product_contracts WHERE product_seq = ?", row[0])
                await conn.execute(
                    "INSERT INTO product_contracts (product_seq, tenant, sha256, document, attached_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    row[0],
                    product.tenant,
                    contract.sha256,
                    contract.document,
                    self.db.to_db(product.updated_at),
                )
            if audit is not None:
                await insert_audit(self.db, conn, audit)

    async def get_contract(self, tenant: str, product_id: str) -> ContractDocument | None:
        async with self.db.reading() as conn:
            row = await conn.fetchone(
                "SELECT c.sha256, c.document FROM product_contracts c JOIN products p ON p.seq = c.product_seq"
                " WHERE p.tenant = ? AND p.id = ? AND p.deleted_at IS NULL",
                tenant,
                product_id,
            )
        return None if row is None else ContractDocument(sha256=row[0], document=row[1])

    async def find_refs(self, tenant: str, ids: Sequence[str], ord_ids: Sequence[str]) -> list[ProductRef]:
        refs: list[ProductRef] = []
        seen: set[str] = set()
        async with self.db.reading() as conn:
            for column, values in (("id", ids), ("ord_id", ord_ids)):
                for start in range(0, len(values), REF_CHUNK):
                    of_values, args = self.db.any_of(column, values[start : start + REF_CHUNK])
                    rows = await conn.fetchall(
                        f"SELECT id, ord_id, deleted_at IS NOT NULL FROM products WHERE tenant = ? AND {of_values}",
                        tenant,
                        *args,
                    )
                    for row in rows:
                        if row[0] not in seen:  # named by both its id and its ord_id
                            seen.add(row[0])
                            refs.append(ProductRef(id=row[0], ord_id=row[1], deleted=bool(row[2])))
        return refs

    async def get_products(self, tenant: str, ids: Sequence[str]) -> list[DataProduct]:
        found: dict[int, str] = {}
        async with self.db.reading() as conn:
            for start in range(0, len(ids), REF_CHUNK):
                of_ids, args = self.db.any_of("id", ids[start : start + REF_CHUNK])
                rows = await conn.fetchall(
                    f"SELECT seq, body FROM products WHERE tenant = ? AND deleted_at IS NULL AND {of_ids}",
                    tenant,
                    *args,
                )
                found.update((int(r[0]), r[1]) for r in rows)
        return [DataProduct.model_validate_json(found[seq]) for seq in sorted(found)]

    async def list_consumers(self, tenant: str, refs: Sequence[str], limit: int) -> list[DataProduct]:
        # Driven from the index (rows exist for live products only), then the bodies by id: a plan
        # that walks products in seq order probing the index per row is what this shape avoids.
        found: dict[int, str] = {}
        async with self.db.reading() as conn:
            for start in range(0, len(refs), REF_CHUNK):
                of_refs, args = self.db.any_of("i.ref", refs[start : start + REF_CHUNK])
                rows = await conn.fetchall(
                    "SELECT DISTINCT i.product_seq, p.id FROM product_inputs i JOIN products p ON p.seq = i.product_seq"
                    f" WHERE i.tenant = ? AND {of_refs} ORDER BY i.product_seq LIMIT ?",
                    tenant,
                    *args,
                    limit,
                )
                found.update((int(r[0]), r[1]) for r in rows)
        # Each chunk's first `limit` hold the first `limit` of all: sort the union and cut.
        return await self.get_products(tenant, [found[seq] for seq in sorted(found)[:limit]])

    async def list_deleted(self, tenant: str, since_iso: str) -> list[DataProduct]:
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT body FROM products WHERE tenant = ? AND deleted_at IS NOT NULL AND deleted_at >= ?"
                " ORDER BY deleted_at",
                tenant,
                self.db.iso_to_db(since_iso),
            )
        return [DataProduct.model_validate_json(r[0]) for r in rows]

    async def product_exists_in_other_tenant(self, tenant: str, product_id: str) -> bool:
        """For the audit trail only: does this id exist under another tenant (a cross-tenant probe)?"""
        async with self.db.reading() as conn:
            found = await conn.fetchval("SELECT 1 FROM products WHERE id = ? AND tenant <> ?", product_id, tenant)
        return found is not None

    async def count_products(self, tenant: str | None = None) -> dict[str, int]:
        sql = "SELECT status, COUNT(*) FROM products"
        args = () if tenant is None else (tenant,)
        if tenant is not None:
            sql += " WHERE tenant = ?"
        async with self.db.reading() as conn:
            rows = await conn.fetchall(sql + " GROUP BY status", *args)
        return {r[0]: int(r[1]) for r in rows}
