"""Streaming over real sockets: a `serve --transport http` subprocess and `websockets` clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.streams.client import Received, call, open_stream, read_all, status, ws_connect
from tests.streams.conftest import BIG_ROWS, StreamServer

pytestmark = pytest.mark.anyio


def assert_rows_in_order(received: Received, start: int, total: int, batch_rows: int) -> None:
    """Every row from ``start`` to ``total`` exactly once, in order, sequence numbers 1, 2, ..."""
    assert received.end is not None
    assert received.seqs == list(range(1, len(received.seqs) + 1))
    assert received.rows == list(range(start, total, batch_rows))
    ids = pa.concat_arrays(received.ids)
    assert len(ids) == total - start
    assert ids.equals(pa.array(range(start, total), type=pa.int64()))
    assert received.end["rows"] == total - start
    assert received.end["seq"] == received.seqs[-1]
    assert received.end["next_row"] == total


@pytest.mark.parametrize("fmt", ["arrow", "jsonl"])
async def test_a_million_rows_arrive_once_in_order_and_resume_from_the_middle(
    server: StreamServer, big_parquet: Path, fmt: str
) -> None:
    with anyio.fail_after(120):
        stream = await open_stream(server, source=str(big_parquet), format=fmt, batch_rows=50_000)
        assert stream["rows_total"] == BIG_ROWS
        assert stream["url"].startswith("ws://127.0.0.1:") and stream["url"].endswith(stream["session_id"])
        # First connection: read half, then drop the connection.
        async with ws_connect(stream) as ws:
            first = await read_all(ws, fmt, max_batches=10)
        assert first.schema["columns"][0] == {"name": "id", "type": "int64", "nullable": True}
        assert first.schema["rows_total"] == BIG_ROWS
        assert pa.concat_arrays(first.ids).equals(pa.array(range(500_000), type=pa.int64()))
        # Resume where it stopped: the rest, once, in order.
        async with ws_connect(stream, start_row=500_000) as ws:
            rest = await read_all(ws, fmt)
        assert rest.schema["start_row"] == 500_000
        assert_rows_in_order(rest, 500_000, BIG_ROWS, 50_000)
        # A completed stream ends its session: the token no longer opens anything.
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(stream):
                pass
        assert refused.value.response.status_code == 401


async def test_a_whole_stream_from_row_zero_as_csv(server: StreamServer, small_parquet: Path) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, source=str(small_parquet), format="csv", batch_rows=3000)
        async with ws_connect(stream) as ws:
            received = await read_all(ws, "csv")
        assert received.schema["header"] == '"id","name","amount","note"\n'
        assert_rows_in_order(received, 0, 20_000, 3000)


async def test_a_resume_url_may_start_anywhere_and_open_stream_start_row_is_the_default(
    server: StreamServer, small_parquet: Path
) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, source=str(small_parquet), format="arrow", batch_rows=4000, start_row=12_345)
        async with ws_connect(stream) as ws:
            received = await read_all(ws, "arrow")
        assert_rows_in_order(received, 12_345, 20_000, 4000)


async def test_a_slow_reader_keeps_server_memory_flat(server: StreamServer, big_parquet: Path) -> None:
    """The server sends only as fast as the client reads: its RSS stays flat and what it has sent
    never runs more than socket buffers plus a batch ahead of what the client has read."""
    with anyio.fail_after(60):
        before = (await status(server))["bytes_sent_total"]
        stream = await open_stream(server, source=str(big_parquet), format="jsonl", batch_rows=10_000)
        async with ws_connect(stream, max_queue=1) as ws:  # the client itself buffers at most one message
            await ws.recv()  # schema
            baseline = rss_bytes(server.pid)
            peak, received = baseline, 0
            for _ in range(30):  # ~3 s of slow reading (one ~1.3 MB batch per 0.1 s)
                received += len(await ws.recv())
                await anyio.sleep(0.1)  # the slow client (this is the behaviour under test, not a wait)
                peak = max(peak, rss_bytes(server.pid))
            sent = (await status(server))["bytes_sent_total"] - before
        assert peak - baseline < 100 * 1024 * 1024, (baseline, peak)
        # The file is ~150 MB as JSON Lines; without backpressure the server would be far ahead.
        assert sent - received < 24 * 1024 * 1024, (sent, received)
        await call(server, "close_stream", {"session_id": stream["session_id"]})


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_fifty_concurrent_sessions_each_get_every_row(server: StreamServer, small_parquet: Path) -> None:
    with anyio.fail_after(120):
        streams: list[dict[str, Any]] = []
        for _ in range(50):
            streams.append(await open_stream(server, source=str(small_parquet), format="arrow", batch_rows=2000))
        assert (await status(server))["active_sessions"] >= 50
        results: dict[int, Received] = {}

        async def consume(i: int) -> None:
            async with ws_connect(streams[i]) as ws:
                results[i] = await read_all(ws, "arrow")

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(consume, i)
        for i in range(50):
            assert_rows_in_order(results[i], 0, 20_000, 2000)
        assert (await status(server))["active_sessions"] == 0


async def test_wrong_missing_or_foreign_tokens_refuse_the_handshake_with_401(
    server: StreamServer, small_parquet: Path
) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, source=str(small_parquet), format="jsonl")
        other = await open_stream(server, source=str(small_parquet), format="jsonl")
        for token in ("not-the-token", other["token"], stream["token"][:-1]):
            with pytest.raises(InvalidStatus) as refused:
                async with ws_connect(stream, token=token):
                    pass
            assert refused.value.response.status_code == 401
            body = json.loads(refused.value.response.body)
            assert body["error"]["code"] == "unauthorized"
        from websockets.asyncio.client import connect

        with pytest.raises(InvalidStatus) as refused:  # no token at all
            async with connect(stream["url"], open_timeout=10):
                pass
        assert refused.value.response.status_code == 401
        # The query-string form works where headers are impossible; nothing was streamed before.
        async with connect(f"{stream['url']}?token={stream['token']}", max_size=None, open_timeout=10) as ws:
            received = await read_all(ws, "jsonl")
        assert received.end is not None and received.end["rows"] == 20_000
        await call(server, "close_stream", {"session_id": other["session_id"]})


async def test_a_second_connection_to_a_busy_session_is_409(server: StreamServer, big_parquet: Path) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, source=str(big_parquet), format="arrow")
        async with ws_connect(stream) as ws:
            await ws.recv()
            with pytest.raises(InvalidStatus) as refused:
                async with ws_connect(stream):
                    pass
            assert refused.value.response.status_code == 409
        await call(server, "close_stream", {"session_id": stream["session_id"]})


async def test_another_tenants_session_is_not_found(server: StreamServer, small_parquet: Path) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, tenant="acme", source=str(small_parquet), format="arrow")
        ok, body = await call(server, "close_stream", {"session_id": stream["session_id"]}, tenant="globex")
        assert not ok and body["error"]["code"] == "not-found"
        ok, body = await call(server, "close_stream", {"session_id": stream["session_id"]}, tenant="acme")
        assert ok and body["closed"] is True


async def test_close_stream_ends_a_connected_stream_and_disconnects_are_cleaned_up(
    server: StreamServer, big_parquet: Path
) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, source=str(big_parquet), format="arrow", batch_rows=1000)
        # A client that disconnects mid-stream: the connection is released, the session stays resumable.
        async with ws_connect(stream) as ws:
            await ws.recv()
            await ws.recv()
        await wait_for(server, lambda d: d["connected_sessions"] == 0)
        assert (await status(server))["active_sessions"] == 1
        # close_stream while connected: the client gets close code 4410, the session is gone.
        async with ws_connect(stream, start_row=1000) as ws:
            await ws.recv()
            ok, _ = await call(server, "close_stream", {"session_id": stream["session_id"]})
            assert ok
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410
        await wait_for(server, lambda d: d["active_sessions"] == 0 and d["connected_sessions"] == 0)


async def test_a_product_id_or_ord_id_streams_the_products_file(server: StreamServer, small_parquet: Path) -> None:
    with anyio.fail_after(60):
        ok, body = await call(
            server,
            "register_data_product",
            {
                "name": "stream-me",
                "title": "Stream me",
                "short_description": "A product with a file.",
                "description": "A product whose file is streamed.",
                "version": "1.0.0",
                "owner": "tests",
                "files": [{"path": str(small_parquet), "format": "parquet"}],
            },
        )
        assert ok, body
        product = body["product"]
        for source in (product["id"], product["ord_id"]):
            stream = await open_stream(server, source=source, format="jsonl", batch_rows=7000, columns=["id"])
            assert stream["columns"] == ["id"] and stream["rows_total"] == 20_000
            async with ws_connect(stream) as ws:
                received = await read_all(ws, "jsonl")
            assert_rows_in_order(received, 0, 20_000, 7000)
        ok, body = await call(server, "open_stream", {"source": product["id"], "format": "arrow"}, tenant="globex")
        assert not ok and body["error"]["code"] == "not-found"


async def test_get_server_status_reports_stream_counters(server: StreamServer) -> None:
    detail = await status(server)
    for key in ("active_sessions", "sessions_opened_total", "bytes_sent_total", "rows_sent_total"):
        assert isinstance(detail[key], int), key
    assert detail["session_duration_seconds"]["count"] >= 0


async def wait_for(server: StreamServer, predicate: Any, timeout: float = 15) -> dict[str, Any]:
    """Poll the stream counters until ``predicate`` holds (bounded)."""
    with anyio.fail_after(timeout):
        while True:
            detail = await status(server)
            if predicate(detail):
                return detail
            await anyio.sleep(0.05)
