"""Streaming throughput: Arrow and JSON Lines sessions against raw `websockets` loopback.

One run measures, over 127.0.0.1 with compression off on both sides:
1. a real `dataproduct-mcp serve --transport http --no-auth` subprocess streaming a Parquet file
   (id int64, name string, amount float64, note string ~80 chars) as `arrow` and as `jsonl`;
2. a minimal `websockets` server subprocess that sends pre-built messages of exactly the same
   sizes and kinds (binary for arrow, text for jsonl) — the loopback ceiling for those messages.
The same client (websockets, in this process) receives both; MB/s counts message payload bytes.
Best of --runs. Bounded: --rows rows per stream, --runs runs.

    .venv/bin/python bench/bench_streams.py [--rows 1000000] [--batch-rows 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from mcp import Client
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))
MAX_MESSAGE = 256 * 1024 * 1024


def make_file(path: Path, rows: int) -> None:
    step = 100_000
    schema = None
    writer = None
    try:
        for start in range(0, rows, step):
            n = min(step, rows - start)
            ids = pa.array(range(start, start + n), type=pa.int64())
            table = pa.table(
                {
                    "id": ids,
                    "name": pc.binary_join_element_wise("row-", pc.cast(ids, pa.string()), ""),
                    "amount": pc.divide(pc.cast(ids, pa.float64()), 100.0),
                    "note": pa.array(["x" * 80] * n, type=pa.string()),
                }
            )
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


# -- the raw websockets server (runs in a subprocess: --raw-server) -----------------------------


async def _raw_handler(ws: ServerConnection) -> None:
    plan = json.loads(await ws.recv())  # {"sizes": [...], "text": bool}
    text = plan["text"]
    frames = [("x" * n) if text else os.urandom(n) for n in plan["sizes"]]
    await ws.send("ready")
    assert await ws.recv() == "go"
    for frame in frames:
        await ws.send(frame)
    await ws.send('{"type":"end"}')
    await ws.wait_closed()


async def _raw_server() -> None:
    async with serve(_raw_handler, "127.0.0.1", 0, compression=None, max_size=MAX_MESSAGE) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)  # until the parent closes stdin


# -- measuring ----------------------------------------------------------------------------------


async def receive_stream(url: str, token: str) -> tuple[float, list[int], int]:
    """(seconds, sizes of the batch messages, payload bytes) of one whole stream."""
    headers = {"Authorization": f"Bearer {token}"}
    sizes: list[int] = []
    async with connect(url, additional_headers=headers, compression=None, max_size=MAX_MESSAGE) as ws:
        started = time.perf_counter()
        await ws.recv()  # schema
        async for message in ws:
            if isinstance(message, str) and message.startswith('{"type": "end"'):
                break
            sizes.append(len(message.encode() if isinstance(message, str) else message))
        elapsed = time.perf_counter() - started
    return elapsed, sizes, sum(sizes)


async def receive_raw(port: int, sizes: list[int], text: bool) -> float:
    async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=MAX_MESSAGE) as ws:
        await ws.send(json.dumps({"sizes": sizes, "text": text}))
        assert await ws.recv() == "ready"
        started = time.perf_counter()
        await ws.send("go")
        async for message in ws:
            if message == '{"type":"end"}':
                break
        return time.perf_counter() - started


def start_server(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env.update({"DPMCP_DATA_DIR": str(tmp / "db"), "DPMCP_ALLOWED_ROOTS": str(tmp), "DPMCP_LOG_LEVEL": "WARNING"})
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0", "--no-auth"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r"listening on (http://\S+)/mcp", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
            return proc, match.group(1)
    raise SystemExit("server did not start")


async def main(rows: int, batch_rows: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "db").mkdir()
        data = tmp / "bench.parquet"
        make_file(data, rows)
        print(f"{rows} rows, batch_rows {batch_rows}, Parquet {data.stat().st_size / 1e6:.1f} MB; best of {runs}")
        server, base = start_server(tmp)
        raw = subprocess.Popen(
            [sys.executable, __file__, "--raw-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert raw.stdout is not None
            raw_port = int(raw.stdout.readline())
            head = ("format", "messages", "MB", "ours MB/s", "rows/s", "raw MB/s", "ours/raw")
            print("{:8} {:>8} {:>8} {:>10} {:>12} {:>10} {:>9}".format(*head))
            async with Client(base + "/mcp") as client:
                for fmt in ("arrow", "jsonl"):
                    best, best_raw, sizes, total = float("inf"), float("inf"), [], 0
                    for _ in range(runs):
                        result = await client.call_tool(
                            "open_stream", {"source": str(data), "format": fmt, "batch_rows": batch_rows}
                        )
                        assert not result.is_error, result.content
                        stream = result.structured_content
                        assert stream is not None
                        elapsed, sizes, total = await receive_stream(stream["url"], stream["token"])
                        best = min(best, elapsed)
                        best_raw = min(best_raw, await receive_raw(raw_port, sizes, text=fmt != "arrow"))
                    mb = total / 1e6
                    print(
                        f"{fmt:8} {len(sizes):>8} {mb:>8.1f} {mb / best:>10.1f} {rows / best:>12,.0f} "
                        f"{mb / best_raw:>10.1f} {best_raw / best:>9.2f}"
                    )
        finally:
            if raw.stdin is not None:
                raw.stdin.close()
            raw.wait(timeout=20)
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print("warning: the server did not stop within 20 s of SIGTERM; killed", file=sys.stderr)
                server.kill()
                server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--raw-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_server:
        anyio.run(_raw_server)
    else:
        anyio.run(main, args.rows, args.batch_rows, args.runs)
