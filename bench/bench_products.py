"""list/search latency of data products at 10 k and 100 k products (SQLite), through the MCP tool.

Seeds the store directly in large transactions (seeding speed is not what is measured), then
times list_data_products calls through an in-process MCP client: first page, deep page via
cursor, text search (trigram FTS), tag filter, owner filter. Prints p50/p99 in ms.

    .venv/bin/python bench/bench_products.py [--sizes 10000 100000] [--calls 200]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import anyio
from mcp import Client

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.domain.products import DataProduct, DataProductFields, ProductStatus, content_hash, ord_id_for
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.persistence.store import SqliteStore
from dataproduct_mcp.server.builder import build_server

WORDS = "sales orders invoices customers churn revenue forecast inventory ledger shipment returns".split()
OWNERS = [f"team-{i}" for i in range(50)]


async def seed(store: SqliteStore, n: int) -> None:
    rnd = random.Random(7)
    now = datetime.now(UTC)
    batch = 2000
    for start in range(0, n, batch):
        async with store.db.atomic() as conn:
            for i in range(start, min(n, start + batch)):
                words = rnd.sample(WORDS, 3)
                fields = DataProductFields(
                    name=f"{words[0]}-{i}",
                    title=" ".join(w.title() for w in words),
                    short_description=f"{words[1]} of {words[2]}",
                    description=f"Daily {words[0]} {words[1]} for region {i % 97}.",
                    version="1.0.0",
                    owner=rnd.choice(OWNERS),
                    tags=words[:2],
                )
                p = DataProduct(
                    **fields.model_dump(by_alias=True),
                    id=str(uuid.uuid4()),
                    ord_id=ord_id_for("customer.dpmcp", fields.name, "1.0.0"),
                    tenant="local",
                    namespace="customer.dpmcp",
                    revision=1,
                    status=ProductStatus.draft,
                    created_at=now,
                    updated_at=now,
                )
                await store._insert_row(conn, p, content_hash(fields))


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))] * 1000


async def run(size: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = Application.build(load_settings(data_dir=Path(tmp), rate_limit="off"))
        async with app:
            t0 = time.perf_counter()
            await seed(app.store, size)  # type: ignore[arg-type]
            seeded = time.perf_counter() - t0
            server = build_server(app)
            async with Client(server) as client:
                first = await client.call_tool("list_data_products", {"limit": 100})
                cursor = first.structured_content["next_cursor"]  # type: ignore[index]
                for _ in range(size // 200):  # walk deep
                    page = await client.call_tool("list_data_products", {"limit": 100, "cursor": cursor})
                    cursor = page.structured_content["next_cursor"]  # type: ignore[index]
                cases = {
                    "first page (20)": {},
                    "deep page (100)": {"limit": 100, "cursor": cursor},
                    "search 'revenue'": {"query": "revenue"},
                    "search 'reg 42'": {"query": "region 42"},
                    "tag filter": {"tags": ["churn"]},
                    "owner filter": {"owner": "team-7"},
                }
                print(f"\n{size:,} products (seeded in {seeded:.1f} s)")
                print("  (server = time inside the server's tool call; client = full round trip through an")
                print("   in-process mcp.Client, which also validates the result against the output schema)")
                for label, args in cases.items():
                    server_s, client_s = [], []
                    for _ in range(calls):
                        t = time.perf_counter()
                        result = await server.call_tool("list_data_products", dict(args))
                        server_s.append(time.perf_counter() - t)
                        assert not result.is_error, result.content
                        t = time.perf_counter()
                        await client.call_tool("list_data_products", args)
                        client_s.append(time.perf_counter() - t)
                    total = result.structured_content["total"]  # type: ignore[index]
                    print(
                        f"  {label:<18} server p50 {pct(server_s, 0.5):7.2f} ms p99 {pct(server_s, 0.99):7.2f} ms"
                        f" | client p50 {pct(client_s, 0.5):7.2f} ms p99 {pct(client_s, 0.99):7.2f} ms  total={total}"
                    )


async def main(sizes: list[int], calls: int) -> None:
    configure_logging("WARNING")
    for size in sizes:
        await run(size, calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    anyio.run(main, args.sizes, args.calls)
