"""Dublin Core and ORD tools (contract §3, §7, §8): map_dublin_core, get_ord_document, publish_to_ord;
and the ``dataproduct://ord/document`` resources."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import BaseModel, Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.context import current_tenant
from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import InvalidArgument, RegistryRejected, RegistryUnavailable
from dataproduct_mcp.metadata import DublinCoreFormat, DublinCoreResult
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.services.ord import OrdService
from dataproduct_mcp.services.publication import PublicationService

LIST_CAP = 20
RESOURCE = "dataproduct://ord/document"


class OrdDocumentResult(BaseModel):
    documents: list[dict[str, Any]] = Field(
        description="The ORD document(s), in full. Empty when they do not fit in one result (complete=false)."
    )
    complete: bool = Field(description="True when `documents` holds everything asked for.")
    document_count: int = Field(description="How many documents the tenant's ORD description has (2 MB each max).")
    products: int = Field(description="Data products described (in `documents`, or in all documents).")
    tombstones: int = Field(0, description="Tombstones of deleted products (in all documents).")
    sizes_bytes: list[int] = Field(default_factory=list, description="Size of each document as served.")
    urls: list[str] = Field(default_factory=list, description="Provider API URLs of the documents (HTTP side).")
    resources: list[str] = Field(default_factory=list, description="MCP resources with the full documents.")
    remaining_product_ids: list[str] = Field(
        default_factory=list, description="Asked products not in this result: call again with these."
    )
    not_found: list[str] = Field(default_factory=list, description="Asked ids that are not live products of yours.")
    skipped: list[dict[str, Any]] = Field(
        default_factory=list, description="Products left out because ORD cannot express them, with the field at fault."
    )
    skipped_total: int = 0
    warnings: list[str] = Field(default_factory=list)
    warnings_total: int = 0
    message: str | None = None


class PublishResult(BaseModel):
    task: Task | None = Field(description="The publish-ord task delivering the queued rows; null when nothing to do.")
    queued_total: int = Field(description="Product revisions this task delivers.")
    queued: list[dict[str, Any]] = Field(description=f"The first {LIST_CAP} of them: key, revision, attempts.")
    already_delivered: list[str] = Field(description="Idempotency keys the registry already acknowledged (not resent).")
    rejected: list[dict[str, Any]] = Field(description="Revisions the registry refused before (not resent).")
    up_to_date: list[str] = Field(description="Asked products with no change since their last publication.")
    skipped: list[dict[str, Any]] = Field(description="Products ORD cannot express, with the field at fault.")
    skipped_total: int = 0
    breaker: str = Field(description="Registry circuit breaker: closed, open or half-open.")
    message: str


def _page(items: list[Any]) -> tuple[list[Any], int]:
    return items[:LIST_CAP], len(items)


def register(server: DataProductServer, app: Application) -> None:
    assert app.ord is not None and app.publication is not None
    ord_service: OrdService = app.ord
    publication: PublicationService = app.publication

    def tenant() -> str:
        return current_tenant() or app.default_tenant()

    @server.tool(annotations=tool_annotations("Map to Dublin Core", read_only=True, idempotent=True))
    async def map_dublin_core(
        product_id: Annotated[
            str | None, Field(description="A data product UUID of yours (give this or `metadata`).", max_length=64)
        ] = None,
        metadata: Annotated[
            dict[str, Any] | None,
            Field(description="Raw product fields (register_data_product names), e.g. {'title': 'Sales', ...}."),
        ] = None,
        format: Annotated[
            DublinCoreFormat,
            Field(description="json (flat), jsonld (embedded @context), turtle, rdfxml, or oai_dc (15 elements)."),
        ] = "json",
    ) -> DublinCoreResult:
        """Describe a data product in DCMI Metadata Terms (http://purl.org/dc/terms/): title, description,
        creator/publisher, subject (tags, keywords), dates (W3CDTF), dcmitype:Dataset, format (IANA media
        types of its files), identifier, language (BCP 47), license (SPDX/CC IRIs), coverage, source and
        relation, conformsTo. `content` is the serialization; `record` the flat term -> values view;
        `unmapped` lists fields no term carries. Give exactly one of `product_id` or `metadata`."""
        if (product_id is None) == (metadata is None):
            raise InvalidArgument("give exactly one of product_id or metadata", field="product_id")
        source: Any = metadata
        if product_id is not None:
            source = await app.products.get(tenant(), product_id=product_id)
        return ord_service.dublin_core(source, format)

    @server.tool(annotations=tool_annotations("Get the ORD document", read_only=True, idempotent=True))
    async def get_ord_document(
        product_ids: Annotated[
            list[str] | None,
            Field(description="Only these data products (UUIDs); omit for all of yours.", max_length=100),
        ] = None,
    ) -> OrdDocumentResult:
        """Your ORD (Open Resource Discovery 1.13) description: a package, every live data product with
        its WebSocket output-port apiResource, and tombstones of deleted ones; valid against the official
        1.13.0 and 1.16.3 schemas. Results stay under DPMCP_MAX_RESULT_BYTES: without `product_ids`, the
        documents come in full only when they fit (complete=true); otherwise read the `resources`
        (dataproduct://ord/document/N) or the Provider API `urls`, or ask by `product_ids`. With
        `product_ids`, one document of as many as fit; call again with `remaining_product_ids`."""
        who = tenant()
        docs = await ord_service.documents(who)
        n = len(docs.bodies)
        urls = [f"{ord_service.base_url}/open-resource-discovery/v1/documents/{i}" for i in range(1, n + 1)]
        resources = [f"{RESOURCE}/{i}" for i in range(1, n + 1)]
        if product_ids:
            page = await ord_service.documents_for_products(who, product_ids)
            build = page.build
            skipped, skipped_total = _page([s.to_dict() for s in build.skipped] if build else [])
            warnings, warnings_total = _page(build.warnings if build else [])
            return OrdDocumentResult(
                documents=[page.document] if page.document is not None else [],
                complete=not page.remaining,
                document_count=n,
                products=len(page.document.get("dataProducts") or []) if page.document else 0,
                sizes_bytes=[page.size] if page.document is not None else [],
                urls=urls,
                resources=resources,
                remaining_product_ids=page.remaining,
                not_found=page.not_found,
                skipped=skipped,
                skipped_total=skipped_total,
                warnings=warnings,
                warnings_total=warnings_total,
                message=f"{len(page.remaining)} more product(s): call again with remaining_product_ids"
                if page.remaining
                else None,
            )
        total = sum(len(b) for b in docs.bodies)
        fits = total <= ord_service.max_result_bytes - 4096
        skipped, skipped_total = _page([s.to_dict() for s in docs.build.skipped])
        warnings, warnings_total = _page(docs.build.warnings)
        return OrdDocumentResult(
            documents=docs.documents if fits else [],
            complete=fits,
            document_count=n,
            products=docs.products,
            tombstones=docs.tombstones,
            sizes_bytes=[len(b) for b in docs.bodies],
            urls=urls,
            resources=resources,
            skipped=skipped,
            skipped_total=skipped_total,
            warnings=warnings,
            warnings_total=warnings_total,
            message=None
            if fits
            else f"the {n} document(s) take {total} bytes, above the result limit; read `resources` or `urls`, "
            "or ask by product_ids",
        )

    @server.tool(
        annotations=tool_annotations("Publish to the ORD registry", read_only=False, idempotent=True, open_world=True)
    )
    async def publish_to_ord(
        ctx: Context,
        product_id: Annotated[
            str | None, Field(description="One data product UUID; omit for every product changed since.", max_length=64)
        ] = None,
        wait_seconds: Annotated[
            float, Field(ge=0, le=300, description="Wait up to this long for delivery (0 = return at once).")
        ] = 0,
    ) -> PublishResult:
        """Publish to the ORD registry (DPMCP_ORD_REGISTRY_URL): queue each product revision in a durable
        outbox and return the delivering task at once (poll get_task). Without `product_id`, every product
        whose revision is ahead of what the registry acknowledged (and tombstones of deleted ones). Each
        revision is POSTed once with Idempotency-Key '{product_id}:{revision}'; a delivered revision is
        never sent again; the product's status becomes 'published' with `last_publication`. While the
        registry's circuit breaker is open the work stays queued; with wait_seconds > 0 that is the error
        'registry-unavailable' (still queued). A 4xx refusal is 'registry-rejected'. Without a configured
        registry: 'invalid-argument'."""
        who = tenant()
        outcome = await publication.publish(who, product_id)
        task = outcome.task
        if task is not None and wait_seconds > 0:
            if not publication.breaker.would_allow():
                raise RegistryUnavailable(
                    "the ORD registry circuit breaker is open; the publication is queued",
                    task_id=task.id,
                    retry_after=round(publication.breaker.retry_after, 3),
                )

            async def progress(t: Task) -> None:
                await ctx.report_progress(t.progress, 1.0, t.message)

            task = await app.tasks.wait(who, task.id, wait_seconds, on_change=progress)  # type: ignore[union-attr]
            error = task.error or {}
            if task.status is TaskStatus.failed and error.get("code") == "registry-rejected":
                raise RegistryRejected(error.get("message", "the registry rejected the publication"), task_id=task.id)
            if not task.finished and error.get("code") == "registry-unavailable":
                raise RegistryUnavailable(error.get("message", "the registry is unavailable"), task_id=task.id)
        queued, queued_total = _page([r.to_dict() for r in outcome.enqueued.queued])
        skipped, skipped_total = _page(outcome.skipped)
        if task is None:
            message = "nothing to publish: every product is up to date with the registry"
        else:
            message = f"{queued_total} revision(s) queued in task {task.id} ({task.status.value})"
        return PublishResult(
            task=task,
            queued_total=queued_total,
            queued=queued,
            already_delivered=[r.idempotency_key for r in outcome.enqueued.delivered][:LIST_CAP],
            rejected=[r.to_dict() for r in outcome.enqueued.rejected][:LIST_CAP],
            up_to_date=outcome.up_to_date,
            skipped=skipped,
            skipped_total=skipped_total,
            breaker=publication.breaker.state.value,
            message=message,
        )

    async def _document(n: int) -> str:
        docs = await ord_service.documents(tenant())
        if not 1 <= n <= len(docs.bodies):
            raise ResourceNotFoundError(f"no ORD document {n}; there are {len(docs.bodies)}")
        return docs.bodies[n - 1].decode("utf-8")

    @server.resource(
        RESOURCE,
        name="ord-document",
        description="Your ORD document (the first one when split: it holds the package and tombstones).",
        mime_type="application/json",
    )
    async def ord_document_resource() -> str:
        return await _document(1)

    @server.resource(
        RESOURCE + "/{n}",
        name="ord-document-n",
        description="Your N-th ORD document (1-based), as served by the Provider API.",
        mime_type="application/json",
    )
    async def ord_document_n_resource(n: str) -> str:
        if not n.isdigit():
            raise ResourceNotFoundError(f"no ORD document {n!r}")
        return await _document(int(n))
