"""A data product's input ports in ORD: one ``integrationDependency`` per product with inputs.

ORD (1.13 and 1.16) describes a data product's inputs as ``inputPorts``: references to
integration dependencies, whose *aspects* are the actual input ports. For a product whose input
ports name live products (by id or ORD id, :func:`~dataproduct_mcp.domain.lineage.port_ref`: the
rule lineage and Dublin Core use), the document carries:

- ``{namespace}:integrationDependency:{name}:v{major}`` (mandatory, the product's version,
  visibility, release status and package), with one mandatory aspect per upstream product whose
  ``apiResources`` names that product's output port (``{namespace}:apiResource:{name}.stream:v{major}``);
- ``inputPorts: [{"ordId": <that dependency>}]`` on the data product.

An upstream is either described in the same set of documents or one of the build's
``references``: products described in *other* documents of this provider (the registry receives
one document per product), whose output ports the aspects then name across documents -- ORD
allows that (an aspect may name the integration target's resources; the official example does),
and :func:`~dataproduct_mcp.ord.validation.check_ord_documents` checks them against
``described_elsewhere``. A port naming nothing expressible (unknown, deleted, another tenant's,
or a product ORD cannot express) is left out with a build warning; a product with no such port left
has no dependency and no ``inputPorts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dataproduct_mcp.domain.lineage import port_ref
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.ord.document import rfc3339, truncate
from dataproduct_mcp.ord.ids import api_resource_id_for, integration_dependency_id_for, package_id_for

__all__ = ["InputIndex", "dependency_entry"]


class InputIndex:
    """What input ports may name in one build: the products it describes, the ``references``
    described elsewhere, and (for the warnings) the deleted and the inexpressible ones."""

    def __init__(
        self,
        described: Iterable[DataProduct],
        references: Iterable[DataProduct] = (),
        *,
        deleted: Iterable[DataProduct] = (),
        skipped: Iterable[DataProduct] = (),
    ) -> None:
        self._live: dict[tuple[str, str], DataProduct] = {}
        self._other: dict[tuple[str, str], str] = {}
        for product in references:  # described ones (added last) win over references
            self._put(product)
        for product in described:
            self._put(product)
        for reason, products in (("deleted", deleted), ("skipped", skipped)):
            for product in products:
                for key in (("id", product.id), ("ord_id", product.ord_id)):
                    if key not in self._live:
                        self._other.setdefault(key, reason)

    def _put(self, product: DataProduct) -> None:
        self._live[("id", product.id)] = product
        self._live[("ord_id", product.ord_id)] = product

    def upstreams(self, product: DataProduct) -> tuple[list[DataProduct], list[str]]:
        """The products ``product``'s ports name (once each, in port order) and a note per port left out."""
        found: dict[str, DataProduct] = {}
        notes: list[str] = []
        for port in product.input_ports:
            ref = port_ref(port)
            upstream = self._live.get((ref.kind, ref.key))
            if upstream is not None:
                found.setdefault(upstream.id, upstream)
                continue
            reason = self._other.get((ref.kind, ref.key))
            if reason == "deleted":
                why = "names a deleted data product"
            elif reason == "skipped":
                why = "names a data product that ORD cannot express (see skipped)"
            else:
                why = "names no data product of this tenant"
            notes.append(f"{product.ord_id}: input port {port!r} {why}; left out of the ORD document")
        return list(found.values()), notes


def dependency_entry(product: DataProduct, upstreams: list[DataProduct], *, namespace: str) -> dict[str, Any] | None:
    """The ``integrationDependencies`` entry of ``product``'s inputs (None without upstreams, or
    when its ORD id would be too long)."""
    dep_id = integration_dependency_id_for(product.ord_id)
    ports = [(u, api_resource_id_for(u.ord_id)) for u in upstreams]
    aspects = [
        {
            "title": truncate(f"Data of {upstream.title}", 255),
            "description": f"The rows of data product `{upstream.ord_id}`, streamed from its output port.",
            "mandatory": True,
            "apiResources": [{"ordId": port}],
        }
        for upstream, port in ports
        if port is not None
    ]
    if dep_id is None or not aspects:
        return None
    last = max([product.updated_at, *(u.updated_at for u in upstreams)])
    return {
        "ordId": dep_id,
        "title": truncate(f"Inputs of {product.title}", 255),
        "shortDescription": truncate(f"The data products that {product.title} is derived from.", 255),
        "description": (
            f"The input ports of data product `{product.ord_id}`: each aspect names the output port of one "
            "upstream data product whose rows it reads."
        ),
        "version": product.version,
        "lastUpdate": rfc3339(last),
        "visibility": str(getattr(product.visibility, "value", product.visibility)),
        "releaseStatus": str(getattr(product.release_status, "value", product.release_status)),
        "partOfPackage": package_id_for(namespace),
        "mandatory": True,
        "aspects": aspects,
    }
