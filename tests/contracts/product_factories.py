"""Products for the contract export tests (built through the pydantic model, like the ORD tests)."""

from __future__ import annotations

from typing import Any

from tests.ord.ord_factories import make_product

from dataproduct_mcp.domain.products import DataProduct

ORDERS_SCHEMA: dict[str, Any] = {
    "columns": [
        {"name": "order_id", "type": "integer", "required": True, "unique": True, "minimum": 1},
        {"name": "currency", "type": "string", "required": True, "enum": ["EUR", "USD"], "pattern": "[A-Z]{3}"},
        {"name": "amount", "type": "number", "minimum": 0, "maximum": 1000000},
        {"name": "ordered_on", "type": "date", "minimum": "2020-01-01"},
        {"name": "shipped_at", "type": "datetime"},
        {"name": "gift", "type": "boolean"},
        {"name": "note", "type": "string", "min_length": 1, "max_length": 500},
    ]
}


def orders_product(**overrides: Any) -> DataProduct:
    fields: dict[str, Any] = {
        "schema": ORDERS_SCHEMA,
        "keywords": ["line items"],
        "license": "CC-BY-4.0",
        "language": "en",
        "labels": {"domain": ["sales"], "region": ["EMEA"]},
        "input_ports": ["customer.dpmcp:dataProduct:customers:v1", "00000000-0000-4000-8000-000000000099"],
    }
    fields.update(overrides)
    return make_product(1, **fields)
