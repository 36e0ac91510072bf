"""Tool-call latency of get_data_product against a trivial echo tool on the same SDK.

In-process (mcp.Client(server)) and over stdio (real subprocesses), measured in one run.
Prints p50/p99 in milliseconds and the ratio ours/echo. Bounded: N calls each.

    .venv/bin/python bench/bench_tool_latency.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent))

from dataproduct_mcp.app import Application  # noqa: E402
from dataproduct_mcp.config import load_settings  # noqa: E402
from dataproduct_mcp.logs import configure_logging  # noqa: E402
from dataproduct_mcp.server.builder import build_server  # noqa: E402
from echo_server import server as echo_server  # noqa: E402

PRODUCT = {"name": "bench", "title": "Bench", "version": "1.0.0", "owner": "bench", "description": "d" * 200}


def pct(samples: list[float], p: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * p))] * 1000


async def timed(client: Client | object, tool: str, args: dict, n: int) -> list[float]:
    """Latency of n calls; `client` is an mcp.Client or a server (its call_tool, without the client)."""
    for _ in range(min(50, n)):  # warm-up
        await client.call_tool(tool, dict(args))  # type: ignore[attr-defined]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = await client.call_tool(tool, dict(args))  # type: ignore[attr-defined]
        out.append(time.perf_counter() - t0)
        assert not result.is_error
    return out


def line(label: str, ours: list[float], base: list[float]) -> None:
    print(
        f"{label:<12} get_data_product p50 {pct(ours, 0.5):7.3f} ms p99 {pct(ours, 0.99):7.3f} ms | "
        f"echo p50 {pct(base, 0.5):7.3f} ms p99 {pct(base, 0.99):7.3f} ms | "
        f"ratio p50 {statistics.median(ours) / statistics.median(base):5.2f}x"
    )


async def main(calls: int) -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        app = Application.build(load_settings(data_dir=Path(tmp) / "data", rate_limit="off"))
        async with app:
            server = build_server(app)
            async with Client(server) as client:
                reg = await client.call_tool("register_data_product", PRODUCT)
                pid = reg.structured_content["product"]["id"]  # type: ignore[index]
                ours = await timed(client, "get_data_product", {"id": pid}, calls)
            ours_server = await timed(server, "get_data_product", {"id": pid}, calls)
            async with Client(echo_server) as client:
                base = await timed(client, "echo", {"text": "x" * 32}, calls)
            base_server = await timed(echo_server, "echo", {"text": "x" * 32}, calls)
        line("server-side", ours_server, base_server)
        line("in-process", ours, base)

        env = {
            **os.environ,
            "DPMCP_DATA_DIR": str(Path(tmp) / "data"),
            "DPMCP_LOG_LEVEL": "WARNING",
            "DPMCP_RATE_LIMIT": "off",
        }
        exe = str(Path(sys.executable).with_name("dataproduct-mcp"))
        async with Client(StdioServerParameters(command=exe, args=["serve"], env=env)) as client:
            ours = await timed(client, "get_data_product", {"id": pid}, calls // 2)
        echo = StdioServerParameters(command=sys.executable, args=[str(Path(__file__).parent / "echo_server.py")])
        async with Client(echo) as client:
            base = await timed(client, "echo", {"text": "x" * 32}, calls // 2)
        line("stdio", ours, base)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    anyio.run(main, parser.parse_args().calls)
