"""A cached validate_file call (unchanged file) is answered in bounded time whatever the file size.

.venv/bin/python bench/bench_cached.py /tmp/bench_200mb.csv [/tmp/bench_2000mb.csv ...]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.server.builder import build_server


async def main(paths: list[Path]) -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        roots = sorted({p.parent for p in paths})
        app = Application.build(load_settings(data_dir=Path(tmp), allowed_roots=roots, rate_limit="off"))
        async with app:
            server = build_server(app)
            async with Client(server) as client:
                for path in paths:
                    t = time.perf_counter()
                    first = await server.call_tool("validate_file", {"path": str(path)})
                    cold = time.perf_counter() - t
                    assert not first.is_error, first.content
                    server_s, client_s = [], []
                    for _ in range(200):
                        t = time.perf_counter()
                        res = await server.call_tool("validate_file", {"path": str(path)})
                        server_s.append(time.perf_counter() - t)
                        assert res.structured_content["report"]["cached"] is True  # type: ignore[index]
                        t = time.perf_counter()
                        await client.call_tool("validate_file", {"path": str(path)})
                        client_s.append(time.perf_counter() - t)
                    size = path.stat().st_size / 1e6
                    print(
                        f"{path.name} ({size:.0f} MB): first call {cold:.2f} s; cached: server p50 "
                        f"{statistics.median(server_s) * 1000:.3f} ms, max {max(server_s) * 1000:.3f} ms; "
                        f"in-process client p50 {statistics.median(client_s) * 1000:.3f} ms"
                    )


if __name__ == "__main__":
    anyio.run(main, [Path(p) for p in sys.argv[1:]] or [Path("/tmp/bench_200mb.csv")])
