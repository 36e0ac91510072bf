"""get_lineage over a layered graph: how long a walk of ~500 products takes, per direction.

The tenant holds ``layers x width`` products; each product of layer k reads ``fan_in`` random
products of layer k-1 (by id or by ORD id), plus ``extra`` unrelated products that only make the
tables bigger. SQLite by default; pass a
PostgreSQL URL (a schema named by ``?search_path=``) to measure that backend.

.venv/bin/python bench/bench_lineage.py [--layers 10] [--width 50] [--fan-in 8] [--extra 5000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.logs import configure_logging


def args_for(name: str, ports: list[str]) -> dict[str, Any]:
    return {"name": name, "title": name, "version": "1.0.0", "owner": "bench", "input_ports": ports}


async def main(opts: argparse.Namespace) -> None:
    configure_logging("WARNING")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        extra: dict[str, Any] = {"database_url": opts.database_url} if opts.database_url else {}
        settings = load_settings(data_dir=Path(tmp), rate_limit="off", max_result_bytes=16 * 1024 * 1024, **extra)
        async with Application.build(settings) as app:
            started = time.perf_counter()
            layers: list[list[Any]] = []
            for k in range(opts.layers):
                layer = []
                for i in range(opts.width):
                    ports = (
                        [p.id if rng.random() < 0.5 else p.ord_id for p in rng.sample(layers[-1], opts.fan_in)]
                        if layers
                        else []
                    )
                    product, _ = await app.products.register("local", args_for(f"l{k}-{i}", ports))
                    layer.append(product)
                layers.append(layer)
            for i in range(opts.extra):
                await app.products.register("local", args_for(f"other-{i}", []))
            print(
                f"{app.store.backend}: {opts.layers * opts.width} products in the graph + {opts.extra} others,"
                f" registered in {time.perf_counter() - started:.1f} s"
            )
            cases = [
                ("upstream from a sink", layers[-1][0].id, "upstream"),
                ("downstream from a source", layers[0][0].id, "downstream"),
                ("both from the middle", layers[opts.layers // 2][0].id, "both"),
            ]
            for label, root, direction in cases:
                times = []
                for _ in range(opts.runs):
                    t = time.perf_counter()
                    graph = await app.lineage.get_lineage("local", root, direction, 10)  # type: ignore[arg-type]
                    times.append(time.perf_counter() - t)
                size = len(graph.model_dump_json(by_alias=True).encode())
                print(
                    f"  {label}: {graph.nodes_total} products, {graph.edges_total} edges, {size / 1024:.0f} KiB;"
                    f" p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
                    f" ({opts.runs} runs; limits: {graph.limits_hit or 'none'})"
                )
            fitted = await app.lineage.get_lineage("local", layers[-1][0].id, "upstream", 10)
            app.lineage.max_result_bytes = 64 * 1024
            t = time.perf_counter()
            fitted = await app.lineage.get_lineage("local", layers[-1][0].id, "upstream", 10)
            print(
                f"  with the default 64 KiB result limit: {len(fitted.nodes)} of {fitted.nodes_total} products kept,"
                f" {(time.perf_counter() - t) * 1000:.1f} ms"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--fan-in", type=int, default=8)
    parser.add_argument("--extra", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url")
    anyio.run(main, parser.parse_args())
