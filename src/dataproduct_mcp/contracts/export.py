"""A data product as an ODCS v3.1.0 data contract (docs/contracts.md has the field table).

The document is built in a fixed key order from the product alone, so the same product always
gives the same bytes; it validates against the official ODCS v3.1.0 JSON Schema and parses back
(:func:`~dataproduct_mcp.contracts.parse.parse_contract` then
:func:`~dataproduct_mcp.contracts.mapping.contract_checks`) to the product's own ``schema``.
Constraints ODCS has no key for on a given type (a minimum on a string column, lengths on a
number column) travel in the property's ``customProperties`` entry ``dpmcpConstraints``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from dataproduct_mcp.contracts.documents import dump_json, dump_yaml
from dataproduct_mcp.contracts.mapping import CUSTOM_CONSTRAINTS
from dataproduct_mcp.contracts.parse import ODCS_VERSION
from dataproduct_mcp.domain.products import DataProduct, ProductStatus, ReleaseStatus
from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType

__all__ = [
    "contract_id_for",
    "description_for",
    "domain_for",
    "dump_contract",
    "iso_utc",
    "product_custom_properties",
    "product_to_contract",
    "status_for",
]

# Contract ids are UUIDs derived from the product id, so a product keeps its contract id.
_CONTRACT_NAMESPACE = uuid.UUID("5b0e36f4-51b5-4c4e-9a49-3f3c3a4f0d13")
_LOGICAL = {
    ColumnType.string: "string",
    ColumnType.integer: "integer",
    ColumnType.number: "number",
    ColumnType.boolean: "boolean",
    ColumnType.date: "date",
    ColumnType.datetime: "timestamp",
}


def contract_id_for(product: DataProduct) -> str:
    """The id of the product's contract: the attached contract's own id, else a UUID derived from
    the product id (stable)."""
    if product.contract is not None:
        return product.contract.id
    return str(uuid.uuid5(_CONTRACT_NAMESPACE, product.id))


def status_for(product: DataProduct) -> str:
    """ODCS/ODPS status (proposed, draft, active, deprecated, retired) of a product."""
    if product.status is ProductStatus.deleted or product.release_status is ReleaseStatus.sunset:
        return "retired"
    if product.status is ProductStatus.deprecated or product.release_status is ReleaseStatus.deprecated:
        return "deprecated"
    return "draft" if product.status is ProductStatus.draft else "active"


def domain_for(product: DataProduct) -> str:
    """The business domain: the first value of the product's ``domain`` label, else its owner."""
    values = product.labels.get("domain") or []
    return values[0] if values else product.owner


def iso_utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def description_for(product: DataProduct) -> dict[str, str]:
    """``purpose`` from the short description (or the description), ``usage`` from the description."""
    purpose = product.short_description or product.description or product.title
    out = {"purpose": purpose}
    if product.description and product.description != purpose:
        out["usage"] = product.description
    return out


def product_custom_properties(product: DataProduct) -> list[dict[str, Any]]:
    """Product fields that neither standard has a key for, as customProperties (sorted by name)."""
    values: dict[str, Any] = {
        "ordId": product.ord_id,
        "productId": product.id,
        "title": product.title,
        "productType": product.type.value,
        "category": product.category.value,
        "visibility": product.visibility.value,
        "releaseStatus": product.release_status.value,
        "license": product.license,
        "language": product.language,
        "homepage": str(product.homepage) if product.homepage else None,
        "publisher": product.publisher,
        "keywords": list(product.keywords) or None,
        "contributors": list(product.contributors) or None,
    }
    return [{"property": k, "value": v} for k, v in sorted(values.items()) if v is not None]


def _bound(value: float | str, ctype: ColumnType) -> float | int | str:
    if ctype is ColumnType.integer and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _property(col: ColumnSpec) -> dict[str, Any]:
    prop: dict[str, Any] = {"name": col.name, "logicalType": _LOGICAL[col.type]}
    if col.required:
        prop["required"] = True
    if col.unique:
        prop["unique"] = True
    options: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    quality: list[dict[str, Any]] = []
    for key, value in (("minimum", col.minimum), ("maximum", col.maximum)):
        if value is None:
            continue
        numeric = col.type in (ColumnType.integer, ColumnType.number) and not isinstance(value, str)
        temporal = col.type in (ColumnType.date, ColumnType.datetime) and isinstance(value, str)
        (options if numeric or temporal else custom)[key] = _bound(value, col.type)
    for key, length in (("minLength", col.min_length), ("maxLength", col.max_length)):
        if length is not None:
            (options if col.type is ColumnType.string else custom)[key] = length
    if col.pattern is not None:
        if col.type is ColumnType.string:
            options["pattern"] = col.pattern
        else:
            quality.append(_invalid_values_rule({"pattern": col.pattern}, "Values must fully match the pattern."))
    if col.enum is not None:
        quality.insert(0, _invalid_values_rule({"validValues": list(col.enum)}, "Values must be one of validValues."))
    if options:
        prop["logicalTypeOptions"] = options
    if quality:
        prop["quality"] = quality
    if custom:
        prop["customProperties"] = [{"property": CUSTOM_CONSTRAINTS, "value": custom}]
    return prop


def _invalid_values_rule(arguments: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "library",
        "metric": "invalidValues",
        "arguments": arguments,
        "mustBe": 0,
        "unit": "rows",
        "description": description,
    }


def product_to_contract(product: DataProduct) -> dict[str, Any]:
    """The ODCS v3.1.0 contract of ``product`` as JSON data (module docstring)."""
    doc: dict[str, Any] = {
        "apiVersion": ODCS_VERSION,
        "kind": "DataContract",
        "id": contract_id_for(product),
        "name": product.name,
        "version": product.version,
        "status": status_for(product),
        "tenant": product.tenant,
        "domain": domain_for(product),
        "dataProduct": product.name,
        "description": description_for(product),
    }
    if product.tags:
        doc["tags"] = list(product.tags)
    doc["team"] = {"name": product.owner}
    if product.schema_ is not None:
        obj: dict[str, Any] = {"name": product.name, "logicalType": "object", "businessName": product.title}
        if product.short_description:
            obj["description"] = product.short_description
        obj["properties"] = [_property(col) for col in product.schema_.columns]
        doc["schema"] = [obj]
    doc["customProperties"] = product_custom_properties(product)
    doc["contractCreatedTs"] = iso_utc(product.created_at)
    return doc


def dump_contract(doc: dict[str, Any], format: Literal["yaml", "json"] = "yaml") -> str:
    """Serialize a contract (or any JSON data) as block YAML or indented JSON, keys in their order."""
    if format == "yaml":
        return dump_yaml(doc)
    if format == "json":
        return dump_json(doc)
    raise ValueError(f"format must be yaml or json, got {format!r}")
