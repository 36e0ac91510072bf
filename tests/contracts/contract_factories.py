"""Small ODCS contracts for the contract tests, built as data and parsed through parse_contract."""

from __future__ import annotations

from typing import Any

import yaml

from dataproduct_mcp.contracts import DataContract, parse_contract
from dataproduct_mcp.domain.schema import TableSchema


def contract(
    properties: list[dict[str, Any]],
    *,
    version: str = "1.0.0",
    quality: list[dict[str, Any]] | None = None,
    name: str = "orders",
    **top: Any,
) -> DataContract:
    obj: dict[str, Any] = {"name": name, "properties": properties}
    if quality is not None:
        obj["quality"] = quality
    doc: dict[str, Any] = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "0b3f3c57-8d7e-4a43-9a0c-3f0f0e5a6b21",
        "version": version,
        "status": "active",
        "schema": [obj],
        **top,
    }
    return parse_contract(yaml.safe_dump(doc, sort_keys=False))


def columns(schema: TableSchema) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, type, constraints other than the defaults) of each column: a compact table."""
    out = []
    for col in schema.columns:
        extra = col.model_dump(exclude_defaults=True, exclude={"name", "type"})
        out.append((col.name, col.type.value, extra))
    return out
