"""A data product as a Bitol Open Data Product Standard (ODPS) v1.0.0 document.

The product becomes one ODPS data product with one output port (its files, and its stream on this
server) that names the product's data contract (``contractId``, see :mod:`.export`) when the
product has a ``schema``. Each upstream product in ``input_ports`` becomes an input port with the
upstream's name, version and contract id, which needs the upstream product itself: the caller
passes what it could resolve in ``upstream`` (keyed by the reference as written, an id or an
ORD id). An input port the caller could not resolve, or whose upstream has no contract, cannot be
an ODPS v1.0.0 input port (name, version and contractId are required) and is listed under the
``customProperties`` entry ``unresolvedInputPorts`` instead of being dropped.

Documents validate against the official ODPS v1.0.0 JSON Schema bundled under ``schemas/``
(:func:`odps_problems`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator

from dataproduct_mcp.contracts.documents import dump_yaml, location_of
from dataproduct_mcp.contracts.export import (
    contract_id_for,
    description_for,
    domain_for,
    iso_utc,
    product_custom_properties,
    status_for,
)
from dataproduct_mcp.domain.products import DataProduct

__all__ = ["ODPS_VERSION", "odps_document", "odps_problems", "odps_validator", "product_to_odps"]

ODPS_VERSION = "v1.0.0"
_SCHEMA_FILE = "odps-v1.0.0.schema.json"


@functools.cache
def odps_validator() -> Draft201909Validator:
    """The bundled official ODPS v1.0.0 JSON Schema as a validator (with format checks)."""
    text = resources.files("dataproduct_mcp.contracts.schemas").joinpath(_SCHEMA_FILE).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def odps_problems(doc: Any) -> list[dict[str, str]]:
    """Every way ``doc`` fails the ODPS v1.0.0 schema, as ``{location, problem}`` (empty: valid)."""
    errors = sorted(odps_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [{"location": location_of(e.absolute_path), "problem": e.message} for e in errors]


def _input_ports(
    product: DataProduct, upstream: Mapping[str, DataProduct | str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    ports: list[dict[str, Any]] = []
    unresolved: list[dict[str, str]] = []
    for ref in product.input_ports:
        source = upstream.get(ref)
        if source is None or isinstance(source, str):
            unresolved.append({"ref": ref, "reason": source or "not found"})
        elif source.schema_ is None:
            unresolved.append({"ref": ref, "reason": "the upstream product has no schema, so no contract"})
        else:
            ports.append({"name": source.name, "version": source.version, "contractId": contract_id_for(source)})
    return ports, unresolved


def odps_document(product: DataProduct, *, upstream: Mapping[str, DataProduct | str] | None = None) -> dict[str, Any]:
    """The ODPS v1.0.0 document of ``product`` as JSON data, in a fixed key order. ``upstream``
    maps an input port as written to the product it names, or to why it names none."""
    doc: dict[str, Any] = {
        "apiVersion": ODPS_VERSION,
        "kind": "DataProduct",
        "id": product.id,
        "name": product.name,
        "version": product.version,
        "status": status_for(product),
        "domain": domain_for(product),
        "tenant": product.tenant,
        "description": description_for(product),
    }
    if product.tags:
        doc["tags"] = list(product.tags)
    ports, unresolved = _input_ports(product, upstream or {})
    if ports:
        doc["inputPorts"] = ports
    output: dict[str, Any] = {"name": product.name, "version": product.version}
    if product.short_description:
        output["description"] = product.short_description
    if product.schema_ is not None:
        output["contractId"] = contract_id_for(product)
    doc["outputPorts"] = [output]
    doc["team"] = {"name": product.owner}
    custom = product_custom_properties(product)
    if unresolved:
        custom.append({"property": "unresolvedInputPorts", "value": unresolved})
        custom.sort(key=lambda entry: entry["property"])
    doc["customProperties"] = custom
    doc["productCreatedTs"] = iso_utc(product.created_at)
    return doc


def product_to_odps(product: DataProduct, *, upstream: Mapping[str, DataProduct | str] | None = None) -> str:
    """``product`` as ODPS v1.0.0 YAML (byte-stable: the same product gives the same text)."""
    return dump_yaml(odps_document(product, upstream=upstream))
