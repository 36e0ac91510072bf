"""Dublin Core (DCMI Metadata Terms) descriptions of data products (contract §7).

Public surface::

    map_dublin_core(product, *, format, base_uri, custom_mappings=None) -> DublinCoreResult
    dublin_core_graph(product, *, base_uri, custom_mappings=None) -> rdflib.Graph
    load_custom_mappings(path) -> dict[label_key, "dcterms:<term>"]   (ValueError listing problems)

Pure functions: no I/O except ``load_custom_mappings`` reading its file, and nothing ever fetches
from the network (the JSON-LD ``@context`` is embedded). The mapping and its serializers (rdflib,
lxml) are imported on the first description, not with this package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.metadata.custom_mappings import load_custom_mappings, parse_custom_mappings

if TYPE_CHECKING:
    from rdflib import Graph

__all__ = [
    "DC_FORMATS",
    "DublinCoreFormat",
    "DublinCoreResult",
    "dublin_core_graph",
    "load_custom_mappings",
    "map_dublin_core",
    "parse_custom_mappings",
]

DublinCoreFormat = Literal["json", "jsonld", "turtle", "rdfxml", "oai_dc"]
DC_FORMATS: dict[str, str] = {
    "json": "application/json",
    "jsonld": "application/ld+json",
    "turtle": "text/turtle",
    "rdfxml": "application/rdf+xml",
    "oai_dc": "application/xml",
}


class DublinCoreResult(BaseModel):
    """A Dublin Core description of one data product."""

    format: DublinCoreFormat = Field(description="Serialization of `content`.")
    media_type: str = Field(description="Media type of `content`, e.g. text/turtle.")
    subject: str = Field(description="IRI of the described data product.")
    content: str = Field(description="The serialized description.")
    record: dict[str, list[str]] = Field(
        description='Flat view: DCMI term -> values, e.g. {"dcterms:title": ["Sales orders"]}.'
    )
    unmapped: list[str] = Field(description="Product fields (and labels.<key>) that no DCMI term carries.")
    warnings: list[str] = Field(description="What was changed or left out on the way, one line each.")


def dublin_core_graph(
    product: DataProduct | Mapping[str, Any], *, base_uri: str, custom_mappings: Mapping[str, str] | None = None
) -> Graph:
    """The RDF graph every RDF serialization of ``map_dublin_core`` parses back to."""
    from dataproduct_mcp.metadata.mapping import map_statements
    from dataproduct_mcp.metadata.serializers import to_graph

    return to_graph(map_statements(product, base_uri=base_uri, custom_mappings=custom_mappings))


def map_dublin_core(
    product: DataProduct | Mapping[str, Any],
    *,
    format: DublinCoreFormat = "json",
    base_uri: str,
    custom_mappings: Mapping[str, str] | None = None,
) -> DublinCoreResult:
    """Describe a stored product, or raw metadata with the §5 field names, in DCMI terms.

    Raises ``InvalidArgument`` for raw metadata that does not validate, ``ValueError`` for a bad
    ``format``, ``base_uri`` or custom mapping term.
    """
    from dataproduct_mcp.metadata.mapping import map_statements
    from dataproduct_mcp.metadata.serializers import to_graph, to_jsonld, to_oai_dc, to_record

    if format not in DC_FORMATS:
        raise ValueError(f"format must be one of {', '.join(DC_FORMATS)}, got {format!r}")
    mapped = map_statements(product, base_uri=base_uri, custom_mappings=custom_mappings)
    warnings = mapped.warnings
    record = to_record(mapped)
    if format == "json":
        content = json.dumps({"subject": mapped.subject, **record}, ensure_ascii=False, indent=2)
    elif format == "jsonld":
        content = json.dumps(to_jsonld(mapped), ensure_ascii=False, indent=2)
    elif format == "turtle":
        content = to_graph(mapped).serialize(format="turtle")
    elif format == "rdfxml":
        content = to_graph(mapped).serialize(format="pretty-xml")
    else:
        content = to_oai_dc(mapped, warnings)
    return DublinCoreResult(
        format=format,
        media_type=DC_FORMATS[format],
        subject=mapped.subject,
        content=content,
        record=record,
        unmapped=mapped.unmapped,
        warnings=warnings,
    )
