"""The ORD configuration served at ``GET /.well-known/open-resource-discovery``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataproduct_mcp.ord.document import check_base_url
from dataproduct_mcp.ord.ids import NAMESPACE_RE

__all__ = [
    "BASIC_AUTH",
    "CONFIGURATION_SCHEMA_URL",
    "DOCUMENTS_PATH",
    "OPEN",
    "bearer_access_strategy",
    "build_ord_configuration",
    "document_urls",
]

CONFIGURATION_SCHEMA_URL = "https://open-resource-discovery.org/spec-v1/interfaces/Configuration.schema.json"
DOCUMENTS_PATH = "/open-resource-discovery/v1/documents"
OPEN: dict[str, str] = {"type": "open"}
BASIC_AUTH: dict[str, str] = {"type": "basic-auth"}


def bearer_access_strategy(namespace: str) -> dict[str, str]:
    """ORD has no standard bearer strategy: a custom one, described for the aggregator's operator."""
    if not NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(f"namespace {namespace!r} must match ^[a-z0-9]+(?:[.][a-z0-9]+)*$")
    return {
        "type": "custom",
        "customType": f"{namespace}:bearer-token:v1",
        "customDescription": (
            "Send `Authorization: Bearer <token>` with a token issued by `dataproduct-mcp token create`; "
            "the token selects the tenant whose documents are returned."
        ),
    }


def document_urls(count: int) -> list[str]:
    """Relative URLs of ``count`` documents: ``/open-resource-discovery/v1/documents/1`` ..."""
    return [f"{DOCUMENTS_PATH}/{i}" for i in range(1, count + 1)]


def build_ord_configuration(
    base_url: str,
    document_urls: Sequence[str],
    access_strategies: Sequence[Mapping[str, str]] | None = None,
    *,
    selector: bool = True,
    perspective: str = "system-instance",
) -> dict[str, Any]:
    """A configuration valid against both Configuration schemas (check with ``check_ord_configuration``).

    ``access_strategies`` default to ``open``; with auth on pass ``[bearer_access_strategy(ns)]``
    and/or ``BASIC_AUTH``.  ``selector`` announces the ``select`` capability.
    """
    strategies = [dict(s) for s in access_strategies or [OPEN]]
    return {
        "$schema": CONFIGURATION_SCHEMA_URL,
        "baseUrl": check_base_url(base_url),
        "openResourceDiscoveryV1": {
            "documents": [
                {"url": url, "perspective": perspective, "accessStrategies": strategies} for url in document_urls
            ],
            "capabilities": {"selector": selector},
        },
    }
