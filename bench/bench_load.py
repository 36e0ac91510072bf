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
    print(f"{clients} clients, {result.seconds:.1f} s: {result.calls} calls ({result.calls / result.seconds:.0f}/s), "
          f"{len(result.errors)} errors")  # fmt: skip
    for op in ["all", *sorted(result.latencies)]:
        key = None if op == "all" else op
        n = sum(map(len, result.latencies.values())) if key is None else len(result.latencies[key])
        print(f"  {op:<9} n={n:<6} p50 {result.pct(key, 0.5):8.1f} ms  p99 {result.pct(key, 0.99):8.1f} ms")
    for err in result.errors[:5]:
        print("  error:", err)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    anyio.run(main, args.clients, args.seconds)
