"""A short bounded load (50 concurrent MCP clients over Streamable HTTP, 8 s) has zero errors.
The 30-second run with latency figures is bench/bench_load.py (figures in docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.load_driver import run_load, write_files
from tests.procs import make_token, server_env, start_server

pytestmark = pytest.mark.anyio


async def test_fifty_concurrent_clients_mixing_reads_writes_and_validations_see_no_errors(tmp_path: Path) -> None:
    token = make_token(tmp_path)
    files = write_files(tmp_path, 4)
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json"), "DPMCP_RATE_LIMIT": "off"}
    with start_server(["--port", "0"], env) as url:
        result = await run_load(url, token, files, clients=50, seconds=8)
    assert result.errors == []
    assert result.calls >= 50  # every client got through at least one call
    assert {"register", "get", "list", "validate"} <= set(result.latencies)
