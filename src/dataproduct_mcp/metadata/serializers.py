"""Serializers of mapped DCMI statements: flat JSON, JSON-LD (embedded @context), Turtle, RDF/XML
and oai_dc XML (the 15 simple-DC elements, valid against OAI's oai_dc.xsd)."""

from __future__ import annotations

from typing import Any

from lxml import etree
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD

from dataproduct_mcp.metadata.mapping import Mapped
from dataproduct_mcp.metadata.terms import DC11, DC_ELEMENTS, DCMITYPE, DCTERMS, simple_dc_element

__all__ = [
    "JSONLD_CONTEXT",
    "OAI_DC_NS",
    "to_graph",
    "to_jsonld",
    "to_oai_dc",
    "to_record",
]

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
JSONLD_CONTEXT: dict[str, str] = {
    "dcterms": DCTERMS,
    "dcmitype": DCMITYPE,
    "xsd": str(XSD),
}


def to_record(mapped: Mapped) -> dict[str, list[str]]:
    """``{"dcterms:<term>": [text, ...]}`` in statement order."""
    record: dict[str, list[str]] = {}
    for st in mapped.statements:
        record.setdefault(f"dcterms:{st.term}", []).append(st.text)
    return record


def to_graph(mapped: Mapped) -> Graph:
    graph = Graph(bind_namespaces="core")
    graph.bind("dcterms", Namespace(DCTERMS))
    graph.bind("dcmitype", Namespace(DCMITYPE))
    subject = URIRef(mapped.subject)
    graph.add((subject, RDF.type, URIRef(DCMITYPE + "Dataset")))
    for st in mapped.statements:
        graph.add((subject, URIRef(DCTERMS + st.term), st.node))
    return graph


def _compact(iri: str) -> str:
    for prefix, namespace in JSONLD_CONTEXT.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def _jsonld_value(node: URIRef | Literal) -> dict[str, str]:
    if isinstance(node, URIRef):
        return {"@id": str(node)}
    value = {"@value": str(node)}
    if node.language:
        value["@language"] = node.language
    elif node.datatype is not None:
        value["@type"] = _compact(str(node.datatype))
    return value


def to_jsonld(mapped: Mapped) -> dict[str, Any]:
    """A JSON-LD 1.1 node object whose ``@context`` is embedded (no remote context to fetch)."""
    doc: dict[str, Any] = {
        "@context": dict(JSONLD_CONTEXT),
        "@id": mapped.subject,
        "@type": "dcmitype:Dataset",
    }
    for st in mapped.statements:
        doc.setdefault(f"dcterms:{st.term}", []).append(_jsonld_value(st.node))
    return doc


def to_oai_dc(mapped: Mapped, warnings: list[str]) -> str:
    """oai_dc XML: every statement flattened to its simple-DC element, text only (no xsi:type)."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC11, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")
    by_element: dict[str, list[tuple[str, str | None]]] = {element: [] for element in DC_ELEMENTS}
    dropped: set[str] = set()
    for st in mapped.statements:
        element = simple_dc_element(st.term)
        if element is None:
            dropped.add(st.term)
            continue
        lang = st.node.language if isinstance(st.node, Literal) else None
        item = (st.text, lang)
        if item not in by_element[element]:
            by_element[element].append(item)
    for element in DC_ELEMENTS:
        for text, lang in by_element[element]:
            child = etree.SubElement(root, f"{{{DC11}}}{element}")
            child.text = text
            if lang:
                child.set(f"{{{XML_NS}}}lang", lang)
    if dropped:
        warnings.append("oai_dc has no element for dcterms:" + ", dcterms:".join(sorted(dropped)) + "; left out")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")
