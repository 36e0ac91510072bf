"""Bounded load: 50 concurrent MCP clients over Streamable HTTP for 30 s against a real server
subprocess (bearer auth on), mixing reads, writes and validations. Prints calls/s, errors and
p50/p99 per operation.

    .venv/bin/python bench/bench_load.py [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.procs import make_token, server_env, start_server  # noqa: E402

from bench.load_driver import run_load, write_files  # noqa: E402


async def main(clients: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        token = make_token(root)
        files = write_files(root)
        env = server_env(root) | {"DPMCP_AUTH_TOKENS_FILE": str(root / "tokens.json"), "DPMCP_RATE_LIMIT": "off"}
        with start_server(["--port", "0"], env) as url:
            result = await run_load(url, token, files, clients=clients, seconds=seconds)
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
                metrics = (await http.get("/metrics")).text
    print(f"{clients} clients, {result.seconds:.1f} s: {result.calls} calls ({result.calls / result.seconds:.0f}/s), "
          f"{len(result.errors)} errors")  # fmt: skip
    for op in ["all", *sorted(result.latencies)]:
        key = None if op == "all" else op
        n = sum(map(len, result.latencies.values())) if key is None else len(result.latencies[key])
        print(f"  {op:<9} n={n:<6} p50 {result.pct(key, 0.5):8.1f} ms  p99 {result.pct(key, 0.99):8.1f} ms")
    for err in result.errors[:5]:
        print("  error:", err)
    print("server-side tool latency (from the dpmcp_tool_call_duration_seconds histogram):")
    for tool, (p50, p99, n) in sorted(server_quantiles(metrics).items()):
        print(f"  {tool:<22} n={n:<6} p50 <= {p50 * 1000:7.1f} ms  p99 <= {p99 * 1000:7.1f} ms")


def server_quantiles(text: str) -> dict[str, tuple[float, float, int]]:
    """Upper bucket bounds holding the 50th and 99th percentile, per tool."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "dpmcp_tool_call_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets.setdefault(sample.labels["tool"], []).append((float(sample.labels["le"]), sample.value))
    out = {}
    for tool, points in buckets.items():
        points.sort()
        total = points[-1][1]
        if not total:
            continue
        p50 = next(le for le, n in points if n >= 0.5 * total)
        p99 = next(le for le, n in points if n >= 0.99 * total)
        out[tool] = (p50, p99, int(total))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    anyio.run(main, args.clients, args.seconds)
