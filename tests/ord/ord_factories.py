"""DataProduct instances for the ORD tests (built through the pydantic model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dataproduct_mcp.domain.products import DataProduct

NAMESPACE = "customer.dpmcp"
BASE_URL = "http://127.0.0.1:8765"


def make_product(i: int = 1, **overrides: Any) -> DataProduct:
    name = overrides.pop("name", f"orders-{i}")
    version = overrides.pop("version", "1.4.2")
    major = version.split(".")[0]
    fields: dict[str, Any] = dict(
        id=f"00000000-0000-4000-8000-{i:012d}",
        ord_id=f"{NAMESPACE}:dataProduct:{name}:v{major}",
        tenant="local",
        namespace=NAMESPACE,
        revision=2,
        status="validated",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        updated_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=i),
        name=name,
        title=f"Orders {i}",
        short_description="Sales orders, one row per line item.",
        description="Every sales order line item with prices and currencies. Refreshed nightly.",
        version=version,
        owner="Sales Data Team",
        type="derived",
        category="business-object",
        visibility="internal",
        release_status="active",
        tags=["sales", "orders"],
        labels={"region": ["EMEA"]},
        homepage="https://example.org/orders",
    )
    fields.update(overrides)
    return DataProduct.model_validate(fields)
