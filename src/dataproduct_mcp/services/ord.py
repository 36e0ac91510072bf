"""ORD documents and Dublin Core records of a tenant's products (contract §7, §8).

- The tenant's ORD documents (split under 2 MB each) are built and checked off the event loop
  (``anyio.to_thread``: a cold check of 10 k products takes ~15 s) and cached per tenant.  The
  cache key is a cheap fingerprint of the tenant's products (count, newest ``updated_at``, sum of
  revisions), the base URL and the day (tombstones age out), so repeated GETs cost one SQL
  aggregate.  One build per tenant runs at a time; concurrent callers wait for it.
- ``documents_for_products`` answers ``get_ord_document(product_ids)``: one document of the asked
  products, paged so the tool result stays under ``DPMCP_MAX_RESULT_BYTES``.
- ``publication_document`` is the one-product document the publisher pushes.
- Input ports become integration dependencies (:mod:`dataproduct_mcp.ord.inputs`). Where a
  document holds only some products (``product_ids``, publication), the upstreams it does not
  describe are passed as ``references``: its aspects name their output ports, described in the
  tenant's other documents (for the registry: in the upstream product's own publication).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from dataproduct_mcp.domain.ord import LIST_CAP, OrdDocumentResult
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import InvalidArgument, NotFound, TooLarge
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.metadata import DublinCoreFormat, DublinCoreResult, map_dublin_core
from dataproduct_mcp.ord import (
    DEFAULT_STREAM_URL,
    OPEN,
    OrdBuild,
    bearer_access_strategy,
    build_ord_configuration,
    build_ord_document,
    build_ord_documents,
    document_urls,
    serialize_ord_document,
)
from dataproduct_mcp.persistence.base import ProductFilter, Store
from dataproduct_mcp.services.lineage import LineageService
from dataproduct_mcp.services.products import ProductService

__all__ = ["DOCUMENT_RESOURCE", "OrdService", "ProductPage", "TenantDocuments", "etag_of"]

log = get_logger(__name__)

TOMBSTONE_DAYS = 31  # ORD: tombstones stay at least 31 days
LOAD_PAGE = 1000
RESULT_OVERHEAD = 4096  # room for the metadata around documents in a tool result
DOCUMENT_RESOURCE = "dataproduct://ord/document"


def _findings(build: OrdBuild | None) -> dict[str, Any]:
    """The skipped products and warnings of a build, capped at LIST_CAP each with their totals."""
    skipped = [x.to_dict() for x in build.skipped] if build is not None else []
    warnings = build.warnings if build is not None else []
    return {
        "skipped": skipped[:LIST_CAP],
        "skipped_total": len(skipped),
        "warnings": warnings[:LIST_CAP],
        "warnings_total": len(warnings),
    }


def etag_of(body: bytes) -> str:
    """A strong ETag over the served bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


@dataclass
class TenantDocuments:
    """A tenant's ORD documents as served (bodies and ETags are of the exact bytes)."""

    key: tuple[Any, ...]
    build: OrdBuild
    bodies: list[bytes]
    etags: list[str]
    products: int
    tombstones: int
    built_at: datetime
    build_seconds: float

    @property
    def documents(self) -> list[dict[str, Any]]:
        return self.build.documents


@dataclass
class ProductPage:
    """``get_ord_document(product_ids)``: one document of some of the asked products."""

    document: dict[str, Any] | None
    included: list[str]
    remaining: list[str]
    not_found: list[str]
    build: OrdBuild | None
    size: int = 0
    warnings: list[str] = field(default_factory=list)


class OrdService:
    def __init__(
        self,
        store: Store,
        products: ProductService,
        lineage: LineageService,
        *,
        namespace: str,
        base_url: Callable[[], str],
        max_result_bytes: int = 64 * 1024,
        custom_mappings: Mapping[str, str] | None = None,
        stream_url: str = DEFAULT_STREAM_URL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.products = products
        self.lineage = lineage
        self.namespace = namespace
        self._base_url = base_url
        self.max_result_bytes = max_result_bytes
        self.custom_mappings = dict(custom_mappings or {})
        self.stream_url = stream_url
        self.clock = clock
        self._cache: dict[str, TenantDocuments] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.builds = 0  # cold builds (for status and tests)

    @property
    def base_url(self) -> str:
        return self._base_url()

    # -- the tenant's documents ---------------------------------------------------------------

    async def _load(self, tenant: str) -> tuple[list[DataProduct], list[DataProduct]]:
        live: list[DataProduct] = []
        after: int | None = None
        while True:
            page = await self.store.list_products(tenant, ProductFilter(), LOAD_PAGE, after)
            live.extend(page.items)
            if page.next_after is None:
                break
            after = page.next_after
        since = (self.clock() - timedelta(days=TOMBSTONE_DAYS + 1)).isoformat()
        deleted = await self.store.list_deleted(tenant, since)
        return live, deleted

    async def documents(self, tenant: str) -> TenantDocuments:
        """The tenant's documents, rebuilt only when a product changed (or the day/base URL did)."""
        base = self.base_url
        key = (await self.store.product_fingerprint(tenant), base, self.clock().date().isoformat())
        cached = self._cache.get(tenant)
        if cached is not None and cached.key == key:
            return cached
        lock = self._locks.setdefault(tenant, anyio.Lock())
        async with lock:
            cached = self._cache.get(tenant)
            key = (await self.store.product_fingerprint(tenant), base, self.clock().date().isoformat())
            if cached is not None and cached.key == key:
                return cached
            live, deleted = await self._load(tenant)
            started = anyio.current_time()

            def build() -> OrdBuild:
                return build_ord_documents(
                    [*live, *deleted], namespace=self.namespace, base_url=base, stream_url=self.stream_url
                )

            result = await anyio.to_thread.run_sync(build)
            bodies = [serialize_ord_document(d) for d in result.documents]
            docs = TenantDocuments(
                key=key,
                build=result,
                bodies=bodies,
                etags=[etag_of(b) for b in bodies],
                products=sum(len(d.get("dataProducts") or []) for d in result.documents),
                tombstones=sum(len(d.get("tombstones") or []) for d in result.documents),
                built_at=self.clock(),
                build_seconds=anyio.current_time() - started,
            )
            self._cache[tenant] = docs
            self.builds += 1
            log.info(
                "built %d ORD document(s) for tenant %s: %d products, %d skipped, %.2f s",
                len(bodies),
                tenant,
                docs.products,
                len(result.skipped),
                docs.build_seconds,
            )
            return docs

    def configuration(self, docs: TenantDocuments, *, auth: bool) -> dict[str, Any]:
        """The Provider API configuration listing the tenant's documents (``open`` without auth,
        the bearer strategy with it)."""
        return self.configuration_for_count(len(docs.bodies), auth=auth)

    def configuration_for_count(self, count: int, *, auth: bool) -> dict[str, Any]:
        strategies = [bearer_access_strategy(self.namespace)] if auth else [OPEN]
        return build_ord_configuration(self.base_url, document_urls(max(1, count)), strategies)

    # -- get_ord_document ----------------------------------------------------------------------

    def document_urls(self, count: int) -> list[str]:
        """Provider API URLs of a tenant's ``count`` documents."""
        return [f"{self.base_url}/open-resource-discovery/v1/documents/{i}" for i in range(1, count + 1)]

    async def document_result(self, tenant: str, product_ids: Sequence[str] | None = None) -> OrdDocumentResult:
        """``get_ord_document``: all of the tenant's documents when they fit in one tool result (else
        where to read them), or with ``product_ids`` one document of as many of those as fit."""
        docs = await self.documents(tenant)
        n = len(docs.bodies)
        where: dict[str, Any] = {
            "document_count": n,
            "urls": self.document_urls(n),
            "resources": [f"{DOCUMENT_RESOURCE}/{i}" for i in range(1, n + 1)],
        }
        if product_ids:
            page = await self.documents_for_products(tenant, product_ids)
            return OrdDocumentResult(
                documents=[page.document] if page.document is not None else [],
                complete=not page.remaining,
                products=len(page.document.get("dataProducts") or []) if page.document else 0,
                sizes_bytes=[page.size] if page.document is not None else [],
                remaining_product_ids=page.remaining,
                not_found=page.not_found,
                **_findings(page.build),
                message=f"{len(page.remaining)} more product(s): call again with remaining_product_ids"
                if page.remaining
                else None,
                **where,
            )
        total = sum(len(b) for b in docs.bodies)
        fits = total <= self.max_result_bytes - RESULT_OVERHEAD
        return OrdDocumentResult(
            documents=docs.documents if fits else [],
            complete=fits,
            products=docs.products,
            tombstones=docs.tombstones,
            sizes_bytes=[len(b) for b in docs.bodies],
            **_findings(docs.build),
            message=None
            if fits
            else f"the {n} document(s) take {total} bytes, above the result limit; read `resources` or `urls`, "
            "or ask by product_ids",
            **where,
        )

    async def document_body(self, tenant: str, n: int) -> str:
        """The tenant's ``n``-th document (1-based) as served; ``NotFound`` past the last."""
        docs = await self.documents(tenant)
        if not 1 <= n <= len(docs.bodies):
            raise NotFound(f"no ORD document {n}; there are {len(docs.bodies)}")
        return docs.bodies[n - 1].decode("utf-8")

    async def documents_for_products(self, tenant: str, product_ids: Sequence[str]) -> ProductPage:
        """One document of the asked (live) products, as many as fit in a tool result; the rest are
        ``remaining`` (ask again with them)."""
        wanted = list(dict.fromkeys(product_ids))
        products: list[DataProduct] = []
        not_found: list[str] = []
        for pid in wanted:
            try:
                products.append(await self.store.get_product(tenant, pid))
            except NotFound:
                not_found.append(pid)
        if not products:
            return ProductPage(None, [], [], not_found, None)
        upstreams = await self._upstreams(tenant, products)
        budget = self.max_result_bytes - RESULT_OVERHEAD
        base = self.base_url
        count = len(products)
        while True:
            chosen = products[:count]

            def build(chosen: list[DataProduct] = chosen) -> OrdBuild:
                return build_ord_document(
                    chosen,
                    namespace=self.namespace,
                    base_url=base,
                    stream_url=self.stream_url,
                    references=upstreams,
                )

            result = await anyio.to_thread.run_sync(build)
            size = len(serialize_ord_document(result.document))
            if size <= budget:
                break
            if count == 1:
                raise TooLarge(
                    f"the ORD document of product {chosen[0].id} alone is {size} bytes, above the tool result "
                    f"limit ({self.max_result_bytes} bytes)",
                    suggestion="Read it from the Provider API (GET /open-resource-discovery/v1/documents/N) or "
                    "raise DPMCP_MAX_RESULT_BYTES.",
                )
            count = max(1, min(count - 1, int(count * budget / size)))
        return ProductPage(
            document=result.document,
            included=[p.id for p in products[:count]],
            remaining=[p.id for p in products[count:]],
            not_found=not_found,
            build=result,
            size=size,
        )

    async def _upstreams(self, tenant: str, products: Sequence[DataProduct]) -> list[DataProduct]:
        """The live upstreams of ``products`` (once each; the builder ignores those it describes)."""
        found: dict[str, DataProduct] = {}
        for product in products:
            if product.input_ports:
                found.update((u.id, u) for u in await self.lineage.upstreams(tenant, product))
        return list(found.values())

    # -- publication --------------------------------------------------------------------------

    async def publication_document(self, product: DataProduct) -> tuple[bytes, OrdBuild]:
        """The document pushed for one product (a tombstone when it is deleted), checked against both
        schemas; ``build.skipped`` non-empty means it cannot be expressed (do not send it)."""
        base = self.base_url
        upstreams = [] if product.deleted_at is not None else await self.lineage.upstreams(product.tenant, product)

        def build() -> OrdBuild:
            return build_ord_document(
                [product], namespace=self.namespace, base_url=base, stream_url=self.stream_url, references=upstreams
            )

        result = await anyio.to_thread.run_sync(build)
        return serialize_ord_document(result.document), result

    # -- Dublin Core --------------------------------------------------------------------------

    async def dublin_core_of(
        self,
        tenant: str,
        *,
        product_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        fmt: DublinCoreFormat = "json",
    ) -> DublinCoreResult:
        """``map_dublin_core``: the record of one of the tenant's products or of raw ``metadata``."""
        if (product_id is None) == (metadata is None):
            raise InvalidArgument("give exactly one of product_id or metadata", field="product_id")
        source: DataProduct | Mapping[str, Any]
        if product_id is not None:
            source = await self.products.get(tenant, product_id=product_id)
        else:
            assert metadata is not None
            source = metadata
        return self.dublin_core(source, fmt)

    def dublin_core(self, source: DataProduct | Mapping[str, Any], fmt: DublinCoreFormat) -> DublinCoreResult:
        try:
            result = map_dublin_core(
                source, format=fmt, base_uri=f"{self.base_url}/data-products/", custom_mappings=self.custom_mappings
            )
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="format") from exc
        size = len(result.model_dump_json().encode())
        if size > self.max_result_bytes - 1024:
            raise TooLarge(
                f"the Dublin Core record is {size} bytes in format {fmt}, above the tool result limit "
                f"({self.max_result_bytes} bytes)",
                suggestion="Ask for a more compact format (json or turtle) or raise DPMCP_MAX_RESULT_BYTES.",
            )
        return result
