"""The store interface services depend on; SQLite implements it now, PostgreSQL later.

Every method is scoped by tenant in the store itself: a record of another tenant is
simply not there. Stores raise :mod:`dataproduct_mcp.errors` classes, never driver errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dataproduct_mcp.domain.products import DataProduct, ProductStatus

__all__ = ["ProductFilter", "ProductPage", "ProductStore", "Store"]


@dataclass(frozen=True)
class ProductFilter:
    query: str | None = None
    tags: tuple[str, ...] = ()
    status: ProductStatus | None = None
    owner: str | None = None


@dataclass(frozen=True)
class ProductPage:
    items: list[DataProduct]
    positions: list[int]  # keyset position of each item (resume after any of them)
    total: int
    next_after: int | None  # keyset position for the next page, None when this is the last


class ProductStore(Protocol):
    async def insert_product(self, product: DataProduct, content_hash: str) -> None:
        """Insert; ``AlreadyExists`` if a live product has the same (tenant, ord_id)."""

    async def get_product(self, tenant: str, product_id: str, *, include_deleted: bool = False) -> DataProduct:
        """``NotFound`` if absent (or deleted, unless asked) or of another tenant."""

    async def get_product_by_ord_id(self, tenant: str, ord_id: str) -> DataProduct:
        """The live product with this ORD id; ``NotFound`` otherwise."""

    async def find_live_identity(self, tenant: str, ord_id: str) -> tuple[DataProduct, str] | None:
        """The live product with this identity and its content hash, if any."""

    async def list_products(self, tenant: str, flt: ProductFilter, limit: int, after: int | None) -> ProductPage:
        """Live products matching ``flt`` in creation order, keyset-paged after position ``after``."""

    async def replace_product(self, product: DataProduct, expected_revision: int, content_hash: str) -> None:
        """Store ``product`` (revision already bumped) if the stored revision is ``expected_revision``;
        ``Conflict`` otherwise, ``NotFound`` if gone."""

    async def list_deleted(self, tenant: str, since_iso: str) -> list[DataProduct]:
        """Products deleted at or after ``since_iso`` (for ORD tombstones)."""

    async def count_products(self, tenant: str | None = None) -> dict[str, int]:
        """Counts by status (all tenants when ``tenant`` is None)."""


class Store(ProductStore, Protocol):
    """Everything the application needs from its database."""

    backend: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot answer."""

    async def schema_version(self) -> int: ...
