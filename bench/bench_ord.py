"""ORD document build and check time, and document sizes, at 1 k and 10 k products.

    .venv/bin/python bench/bench_ord.py [N ...]

Products are realistic: a ~600-character description, tags, labels, three files, a homepage.
"build" = build_ord_documents(validate=False) (entries, size split); "check" = check_ord_documents
(both official schemas with format checking + cross-references) with an empty verdict cache;
"rebuild" = the default build path (build + check + drop unexpressible products) again on unchanged
products, where entry verdicts come from the cache; "rebuild, 1 % changed" the same after 1 % of
the products got a new updated_at.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.ord import build_ord_documents, check_ord_documents, serialize_ord_document
from dataproduct_mcp.ord.validation import clear_check_cache

NAMESPACE = "customer.dpmcp"
DESCRIPTION = (
    "Read-optimised data set of sales orders of all customers, one row per order line item, with prices, "
    "currencies, discounts and the sales organisation. Refreshed nightly from the order management system; "
    "late corrections arrive within three days. Amounts are in the document currency; convert with the "
    "exchange-rate product. Personal data is pseudonymised: customer ids are stable hashes. "
) * 2


def make_products(count: int) -> list[DataProduct]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        DataProduct(
            id=f"00000000-0000-4000-8000-{i:012d}",
            ord_id=f"{NAMESPACE}:dataProduct:sales-orders-{i}:v2",
            tenant="bench",
            namespace=NAMESPACE,
            revision=3,
            status="validated",
            created_at=start,
            updated_at=start + timedelta(minutes=i),
            name=f"sales-orders-{i}",
            title=f"Sales orders {i}",
            short_description="Sales orders of all customers, one row per line item.",
            description=DESCRIPTION,
            version="2.3.1",
            owner="Sales Data Team",
            release_status="active",
            category="business-object",
            tags=["sales", "orders", "finance"],
            keywords=["revenue"],
            labels={"region": ["EMEA", "APJ"], "cost-center": ["4711"]},
            homepage="https://example.org/data/sales-orders",
            files=[{"path": f"/data/orders-{i}.{ext}"} for ext in ("csv", "parquet", "jsonl")],
        )
        for i in range(count)
    ]


def run(count: int) -> dict[str, float]:
    products = make_products(count)
    base = "http://127.0.0.1:8080"
    clear_check_cache()
    t0 = time.perf_counter()
    build = build_ord_documents(products, namespace=NAMESPACE, base_url=base, validate=False)
    t1 = time.perf_counter()
    problems = check_ord_documents(build.documents)
    t2 = time.perf_counter()
    validated = build_ord_documents(products, namespace=NAMESPACE, base_url=base)
    t3 = time.perf_counter()
    changed = [
        p.model_copy(update={"updated_at": p.updated_at + timedelta(days=1)}) if i % 100 == 0 else p
        for i, p in enumerate(products)
    ]
    t4 = time.perf_counter()
    rebuilt = build_ord_documents(changed, namespace=NAMESPACE, base_url=base)
    t5 = time.perf_counter()
    assert not problems and not validated.skipped and not rebuilt.skipped, (problems[:3], validated.skipped[:3])
    sizes = [len(serialize_ord_document(d)) for d in build.documents]
    described = sum(len(d.get("dataProducts", [])) for d in build.documents)
    assert described == count and max(sizes) < 2_000_000
    return {
        "products": count,
        "build_s": t1 - t0,
        "check_s": t2 - t1,
        "rebuild_s": t3 - t2,
        "rebuild_changed_s": t5 - t4,
        "documents": len(sizes),
        "total_mb": sum(sizes) / 1e6,
        "largest_mb": max(sizes) / 1e6,
    }


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}")  # fmt: skip
    print(
        "| products | build | check, cold | rebuild, unchanged | rebuild, 1 % changed | documents | total | largest |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in counts:
        r = run(count)
        print(
            f"| {r['products']:,} | {r['build_s']:.2f} s | {r['check_s']:.2f} s | {r['rebuild_s']:.2f} s "
            f"| {r['rebuild_changed_s']:.2f} s "
            f"| {r['documents']} | {r['total_mb']:.2f} MB | {r['largest_mb']:.2f} MB |"
        )


if __name__ == "__main__":
    main()
