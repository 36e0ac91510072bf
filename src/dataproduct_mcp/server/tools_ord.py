"""Dublin Core and ORD tools (contract §3, §7, §8): map_dublin_core, get_ord_document, publish_to_ord;
and the ``dataproduct://ord/document`` resources."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.ord import OrdDocumentResult
from dataproduct_mcp.domain.publication import PublishResult
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.metadata import DublinCoreFormat, DublinCoreResult
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.server.progress import task_progress
from dataproduct_mcp.services.ord import DOCUMENT_RESOURCE

RESOURCE = DOCUMENT_RESOURCE


def register(server: DataProductServer, app: Application) -> None:
    ord_service = app.ord
    tenant = server.tenant

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
        relation, conformsTo (its schema, and its attached data contract as urn:uuid:<id>). `content` is the
        serialization; `record` the flat term -> values view; `unmapped` lists fields no term carries. Give
        exactly one of `product_id` or `metadata`."""
        return await ord_service.dublin_core_of(tenant(), product_id=product_id, metadata=metadata, fmt=format)

    @server.tool(annotations=tool_annotations("Get the ORD document", read_only=True, idempotent=True))
    async def get_ord_document(
        product_ids: Annotated[
            list[str] | None,
            Field(description="Only these data products (UUIDs); omit for all of yours.", max_length=100),
        ] = None,
    ) -> OrdDocumentResult:
        """Your ORD (Open Resource Discovery 1.13) description: a package, every live data product with
        its WebSocket output-port apiResource and its input ports (an integrationDependency naming the
        upstream products' output ports), and tombstones of deleted ones; valid against the official
        1.13.0 and 1.16.3 schemas. Results stay under DPMCP_MAX_RESULT_BYTES: without `product_ids`, the
        documents come in full only when they fit (complete=true); otherwise read the `resources`
        (dataproduct://ord/document/N) or the Provider API `urls`, or ask by `product_ids`. With
        `product_ids`, one document of as many as fit; call again with `remaining_product_ids`."""
        return await ord_service.document_result(tenant(), product_ids)

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
        registry is unavailable the work stays queued; with wait_seconds > 0, a delivery that cannot happen
        within the wait (circuit breaker open past it, or the task backing off past it) is the error
        'registry-unavailable' at once, with retry_after (still queued). A 4xx refusal is
        'registry-rejected'. Without a configured registry: 'invalid-argument'."""
        return await app.publication.publish_result(
            tenant(), product_id, wait_seconds=wait_seconds, on_change=task_progress(ctx)
        )

    async def _document(n: int) -> str:
        try:
            return await ord_service.document_body(tenant(), n)
        except NotFound as exc:
            raise ResourceNotFoundError(exc.message) from exc

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
