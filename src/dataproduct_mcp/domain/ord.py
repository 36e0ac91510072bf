"""What ``get_ord_document`` answers (contract §8): the documents when they fit in one result,
otherwise where to read them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["LIST_CAP", "OrdDocumentResult"]

LIST_CAP = 20  # lists inside a result (skipped, warnings, queued...) show this many; a *_total says all


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
