"""Data product tools (contract §3): register, get, list/search, update, delete, lineage (issue 13);
and the product resource."""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import Field
from pydantic.fields import FieldInfo

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.lineage import DEFAULT_DEPTH, MAX_DEPTH, Direction, LineageGraph
from dataproduct_mcp.domain.products import DataProduct, DataProductFields, ProductStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.server.models import DeleteResult, ProductList, RegisterResult

FIELD_DOCS: dict[str, str] = {
    "name": "ORD resource name, unique per tenant and major version; letters, digits, '.', '_', '-'. "
    "Example: 'sales-orders'.",
    "title": "Human title, one line, max 255 chars. Example: 'Sales Orders'.",
    "short_description": "One-line summary, max 255 chars (required for ORD publication).",
    "description": "Full description, max 16384 chars, Markdown allowed (required for ORD publication).",
    "version": "SemVer 2.0.0. Example: '1.0.0'. The major version is part of the identity (ord_id).",
    "owner": "Responsible team. Example: 'sales-analytics'.",
    "type": "'primary' (source data) or 'derived' (computed from other products).",
    "category": "'business-object', 'analytical' or 'other'.",
    "visibility": "'public', 'internal' or 'private'.",
    "release_status": "'beta', 'active', 'deprecated' or 'sunset'.",
    "tags": "Up to 64 tags (searchable, filterable). Example: ['sales', 'orders'].",
    "keywords": "Up to 64 free keywords (Dublin Core subject).",
    "license": "SPDX id or license URL. Example: 'CC-BY-4.0'.",
    "language": "BCP 47 language tag. Example: 'en' or 'de-CH'.",
    "publisher": "Publishing organisation.",
    "contributors": "Up to 100 contributor names.",
    "temporal": "Temporal coverage {start, end} as ISO 8601 dates. Example: {'start': '2024-01-01'}.",
    "spatial": "Spatial coverage. Example: 'Switzerland'.",
    "homepage": "http(s) URL of the product's documentation.",
    "files": "Up to 200 data files [{path, format?, description?}]; paths inside the allowed roots.",
    "schema": "Expected columns {columns: [{name, type, required?, unique?, minimum?, maximum?, pattern?, "
    "enum?, min_length?, max_length?}]}, applied when validating the files.",
    "input_ports": "Upstream data product ids or ord_ids (lineage).",
    "labels": "Labels: key -> list of strings. Example: {'domain': ['sales']}.",
}


def _register_signature() -> inspect.Signature:
    """Top-level arguments = the fields of §5, with their types, limits and descriptions."""
    params = []
    for name, info in DataProductFields.model_fields.items():
        arg = info.alias or name
        doc = FieldInfo.merge_field_infos(info, description=FIELD_DOCS.get(arg, info.description))
        doc.alias = None
        annotation = Annotated[info.annotation, doc]  # type: ignore[name-defined]
        default = inspect.Parameter.empty if info.is_required() else info.get_default(call_default_factory=True)
        params.append(inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default))
    params.sort(key=lambda p: p.default is not inspect.Parameter.empty)
    return inspect.Signature(params, return_annotation=RegisterResult)


def register(server: DataProductServer, app: Application) -> None:
    products = app.products
    lineage = app.lineage
    tenant = server.tenant

    async def register_data_product(**arguments: Any) -> RegisterResult:
        product, created = await products.register(tenant(), arguments)
        return RegisterResult(product=product, created=created)

    register_data_product.__signature__ = _register_signature()  # type: ignore[attr-defined]
    server.add_tool(
        register_data_product,
        description=(
            "Register a data product (status 'draft'). Idempotent: the same call again returns the same "
            "product with created=false; the same name and major version with different content is "
            "'already-exists'. Its ord_id is '{namespace}:dataProduct:{name}:v{major}'."
        ),
        annotations=tool_annotations("Register a data product", read_only=False, idempotent=True),
    )

    @server.tool(annotations=tool_annotations("Get a data product", read_only=True, idempotent=True))
    async def get_data_product(
        id: Annotated[str | None, Field(description="Product UUID.", max_length=64)] = None,
        ord_id: Annotated[
            str | None,
            Field(description="ORD id, e.g. 'customer.dpmcp:dataProduct:sales-orders:v1'.", max_length=255),
        ] = None,
    ) -> DataProduct:
        """One live data product by `id` or by `ord_id` (give exactly one). Unknown ids are 'not-found'."""
        return await products.get(tenant(), product_id=id, ord_id=ord_id)

    @server.tool(annotations=tool_annotations("List data products", read_only=True, idempotent=True))
    async def list_data_products(
        query: Annotated[
            str | None,
            Field(description="Text searched in name, title, descriptions and tags.", max_length=200),
        ] = None,
        tags: Annotated[list[str] | None, Field(description="Products having all these tags.", max_length=20)] = None,
        status: Annotated[ProductStatus | None, Field(description="Only products in this status.")] = None,
        owner: Annotated[str | None, Field(description="Only products of this owner (exact).", max_length=255)] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Page size, 1..100.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page.", max_length=512)] = None,
    ) -> ProductList:
        """List live data products, oldest first, `limit` per page (default 20, max 100). `total` counts
        every match; follow `next_cursor` until it is null. A page also ends early rather than exceed the
        result size limit (DPMCP_MAX_RESULT_BYTES)."""
        page = await products.list(
            tenant(), query=query, tags=tags, status=status, owner=owner, limit=limit, cursor=cursor
        )
        return ProductList(items=page.items, next_cursor=page.next_cursor, total=page.total)

    @server.tool(annotations=tool_annotations("Update a data product", read_only=False, idempotent=False))
    async def update_data_product(
        id: Annotated[str, Field(description="Product UUID.", max_length=64)],
        patch: Annotated[
            dict[str, Any],
            Field(description="Fields to change (same names as register_data_product); null clears a field."),
        ],
        expected_revision: Annotated[
            int, Field(ge=1, description="The revision you read; a different current revision is 'conflict'.")
        ],
    ) -> DataProduct:
        """Change fields of a data product with optimistic concurrency. `name` and the major version are
        identity and cannot change; versions only move forward. Returns the product at its new revision."""
        return await products.update(tenant(), id, patch, expected_revision)

    @server.tool(
        annotations=tool_annotations("Delete a data product", read_only=False, destructive=True, idempotent=False)
    )
    async def delete_data_product(
        id: Annotated[str, Field(description="Product UUID.", max_length=64)],
        expected_revision: Annotated[
            int | None,
            Field(ge=1, description="If given, delete only at this revision ('conflict' otherwise)."),
        ] = None,
    ) -> DeleteResult:
        """Soft-delete a data product: it leaves listings and appears as an ORD tombstone; its record is
        kept. Deleting again is 'not-found'."""
        product = await products.delete(tenant(), id, expected_revision)
        assert product.deleted_at is not None
        return DeleteResult(
            id=product.id,
            ord_id=product.ord_id,
            status=product.status.value,
            revision=product.revision,
            deleted_at=product.deleted_at,
        )

    @server.tool(annotations=tool_annotations("Get the lineage of a data product", read_only=True, idempotent=True))
    async def get_lineage(
        product_id: Annotated[
            str, Field(description="Product UUID, e.g. '0b7d7a35-1c2f-4f5e-8a9b-3c4d5e6f7a8b'.", max_length=64)
        ],
        direction: Annotated[
            Direction,
            Field(
                description="'upstream' (the products it reads, following input_ports), 'downstream' (the "
                "products reading it) or 'both'."
            ),
        ] = "upstream",
        depth: Annotated[
            int, Field(ge=1, le=MAX_DEPTH, description=f"Hops to walk in each direction, 1..{MAX_DEPTH}.")
        ] = DEFAULT_DEPTH,
    ) -> LineageGraph:
        """The lineage graph of one of your data products, from the `input_ports` of your products: `nodes`
        (the root first, then nearest first, each with its upstream/downstream depth), `edges` {from, to} in
        the direction data flows (from the upstream product to the one naming it as an input port), `cycles`
        (each once, as the product ids around it; the walk does not loop), and `unresolved` input ports that
        name no live product of yours (reason 'not-found' or 'deleted'). An input port is a product id or an
        ord_id. At most 500 products per answer, and the answer stays under DPMCP_MAX_RESULT_BYTES:
        `truncated` with `limits_hit` ('depth', 'max_nodes', 'result_bytes') and the `*_total` counts say
        what was left out. An unknown product id is 'not-found'."""
        return await lineage.get_lineage(tenant(), product_id, direction, depth)

    @server.resource(
        "dataproduct://products/{id}",
        name="data-product",
        description="A live data product as JSON.",
        mime_type="application/json",
    )
    async def product_resource(id: str) -> str:
        with_tenant = tenant()
        try:
            product = await products.get(with_tenant, product_id=id)
        except NotFound as exc:
            raise ResourceNotFoundError(f"no data product with id {id!r}") from exc
        return json.dumps(product.model_dump(mode="json", by_alias=True), ensure_ascii=False)
