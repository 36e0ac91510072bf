"""ORD (Open Resource Discovery): documents, configuration and checks (contract §8).

Public surface::

    build_ord_documents(products, tombstones=(), *, namespace, base_url, stream_url=..., policy_levels=None,
                        vendor=..., package_title=None, description=None, max_bytes=2_000_000,
                        validate=True, references=()) -> OrdBuild(documents, skipped, warnings)
    build_ord_document(products, tombstones=(), **same options) -> OrdBuild   (one document, no split)
    validate_product_for_ord(product, *, namespace) -> list[FieldProblem(field, problem)]
    check_ord_document(doc, *, described_elsewhere=None) / check_ord_documents(docs, *, described_elsewhere=None)
        -> list[OrdProblem(check, path, message)]
    build_ord_configuration(base_url, document_urls, access_strategies=None, *, selector=True) -> dict
    check_ord_configuration(config) -> list[OrdProblem]
    select_configuration(config, documents, ord_id) / select_document(doc, ord_id) -> dict
    serialize_ord_document(doc) -> bytes   (what to serve; sizes and ETags are taken on these bytes)

Everything validates against the official schemas of spec 1.13.0 *and* 1.16.3, bundled as package
data under ``ord/schemas/`` with their Apache-2.0 LICENSE and NOTICE.
"""

from __future__ import annotations

from dataproduct_mcp.ord.builder import build_ord_document, build_ord_documents
from dataproduct_mcp.ord.configuration import (
    BASIC_AUTH,
    OPEN,
    bearer_access_strategy,
    build_ord_configuration,
    document_urls,
)
from dataproduct_mcp.ord.document import (
    DEFAULT_STREAM_URL,
    MAX_DOCUMENT_BYTES,
    ORD_VERSION,
    FieldProblem,
    OrdBuild,
    SkippedProduct,
    Tombstone,
    serialize_ord_document,
    validate_product_for_ord,
)
from dataproduct_mcp.ord.ids import (
    api_resource_id_for,
    integration_dependency_id_for,
    is_valid_ord_id,
    package_id_for,
    responsible_for,
)
from dataproduct_mcp.ord.select import SELECT_HTTP_STATUS, select_configuration, select_document
from dataproduct_mcp.ord.validation import (
    SCHEMA_VERSIONS,
    OrdProblem,
    check_ord_configuration,
    check_ord_document,
    check_ord_documents,
)

__all__ = [
    "BASIC_AUTH",
    "DEFAULT_STREAM_URL",
    "MAX_DOCUMENT_BYTES",
    "OPEN",
    "ORD_VERSION",
    "SCHEMA_VERSIONS",
    "SELECT_HTTP_STATUS",
    "FieldProblem",
    "OrdBuild",
    "OrdProblem",
    "SkippedProduct",
    "Tombstone",
    "api_resource_id_for",
    "bearer_access_strategy",
    "build_ord_configuration",
    "build_ord_document",
    "build_ord_documents",
    "check_ord_configuration",
    "check_ord_document",
    "check_ord_documents",
    "document_urls",
    "integration_dependency_id_for",
    "is_valid_ord_id",
    "package_id_for",
    "responsible_for",
    "select_configuration",
    "select_document",
    "serialize_ord_document",
    "validate_product_for_ord",
]
