"""A bounded mixed load against a real server over Streamable HTTP: N concurrent MCP clients for
D seconds mixing reads, writes and validations. Used by bench/bench_load.py (30 s, figures) and by
tests/faults/test_load.py (a short run that must have zero errors)."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    calls: int = 0
    seconds: float = 0.0

    def pct(self, op: str | None, p: float) -> float:
        samples = sorted(self.latencies[op] if op else [x for v in self.latencies.values() for x in v])
        return samples[min(len(samples) - 1, int(len(samples) * p))] * 1000 if samples else float("nan")


def write_files(root: Path, n: int = 10) -> list[Path]:
    files = []
    for i in range(n):
        path = root / f"load-{i}.csv"
        path.write_text("id,name,amount\n" + "".join(f"{j},n{j},{j * 0.5}\n" for j in range(2000 + i * 100)))
        files.append(path)
    return files


async def _worker(n: int, url: str, token: str | None, files: list[Path], until: float, out: LoadResult) -> None:
    rnd = random.Random(n)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
            mine: list[tuple[str, int]] = []

            async def call(op: str, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
                started = time.perf_counter()
                result = await client.call_tool(tool, args)
                out.latencies[op].append(time.perf_counter() - started)
                out.calls += 1
                if result.is_error:
                    out.errors.append(f"{op}: {result.content[0].text[:300]}")  # type: ignore[union-attr]
                    return None
                return result.structured_content

            seq = 0
            while time.monotonic() < until:
                roll = rnd.random()
                if roll < 0.15 or not mine:
                    seq += 1
                    res = await call("register", "register_data_product", {
                        "name": f"w{n}-p{seq}", "title": f"Worker {n} product {seq}", "version": "1.0.0",
                        "owner": f"team-{n % 5}", "tags": ["load", f"w{n}"],
                    })  # fmt: skip
                    if res:
                        mine.append((res["product"]["id"], res["product"]["revision"]))
                elif roll < 0.25:
                    i = rnd.randrange(len(mine))
                    pid, rev = mine[i]
                    res = await call("update", "update_data_product", {
                        "id": pid, "patch": {"description": f"updated {time.time()}"}, "expected_revision": rev,
                    })  # fmt: skip
                    if res:
                        mine[i] = (pid, res["revision"])
                elif roll < 0.45:
                    await call("get", "get_data_product", {"id": rnd.choice(mine)[0]})
                elif roll < 0.60:
                    await call("list", "list_data_products", {"limit": 20})
                elif roll < 0.75:
                    await call("search", "list_data_products", {"query": f"product {rnd.randrange(1, 50)}"})
                else:
                    await call("validate", "validate_file", {"path": str(rnd.choice(files))})


async def run_load(url: str, token: str | None, files: list[Path], *, clients: int, seconds: float) -> LoadResult:
    out = LoadResult()
    started = time.monotonic()
    until = started + seconds
    with anyio.fail_after(seconds + 120):
        async with anyio.create_task_group() as tg:
            for n in range(clients):
                tg.start_soon(_worker, n, url, token, files, until, out)
    out.seconds = time.monotonic() - started
    return out
