"""A small streaming client for tests: MCP calls over HTTP and a `websockets` reader."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pyarrow as pa
import pyarrow.ipc as ipc
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from websockets.asyncio.client import ClientConnection, connect

MAX_MESSAGE = 64 * 1024 * 1024


@contextlib.asynccontextmanager
async def mcp_client(server: Any, tenant: str = "acme") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {server.tokens[tenant]}"}) as http:
        async with Client(streamable_http_client(server.mcp_url, http_client=http)) as client:
            yield client


async def call(server: Any, tool: str, args: dict[str, Any], tenant: str = "acme") -> tuple[bool, dict[str, Any]]:
    """(ok, structured content) of one tool call."""
    async with mcp_client(server, tenant) as client:
        result = await client.call_tool(tool, args)
    assert result.structured_content is not None, result.content
    return not result.is_error, result.structured_content


async def open_stream(server: Any, tenant: str = "acme", **args: Any) -> dict[str, Any]:
    ok, body = await call(server, "open_stream", args, tenant)
    assert ok, body
    return body


async def status(server: Any, tenant: str = "acme") -> dict[str, Any]:
    ok, body = await call(server, "get_server_status", {}, tenant)
    assert ok, body
    return body["components"]["streams"]["detail"]


def ws_connect(
    stream: dict[str, Any], start_row: int | None = None, *, token: str | None = None, max_queue: int = 16
) -> connect:
    url = stream["url"] + (f"?start_row={start_row}" if start_row is not None else "")
    headers = {"Authorization": f"Bearer {token or stream['token']}"}
    return connect(
        url, additional_headers=headers, max_size=MAX_MESSAGE, compression=None, open_timeout=10, max_queue=max_queue
    )


@dataclass
class Received:
    schema: dict[str, Any]
    end: dict[str, Any] | None = None
    seqs: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # first row of each batch
    ids: list[pa.Array] = field(default_factory=list)  # the id column, batch by batch
    messages: int = 0
    bytes: int = 0


def parse_batch(message: str | bytes, fmt: str) -> tuple[int, int, Any]:
    """(seq, first row, ids) of one batch message."""
    if fmt == "arrow":
        assert isinstance(message, bytes)
        reader = ipc.open_stream(pa.py_buffer(message))
        meta = reader.schema.metadata
        table = reader.read_all()
        return int(meta[b"dpmcp.seq"]), int(meta[b"dpmcp.row"]), table.column("id").combine_chunks()
    assert isinstance(message, str)
    head, _, body = message.partition("\n")
    envelope = json.loads(head)
    assert envelope["type"] == "batch"
    lines = body.splitlines()
    assert len(lines) == envelope["rows"]
    if fmt == "jsonl":
        ids = [json.loads(line)["id"] for line in lines]
    else:
        ids = [int(line.split(",", 1)[0]) for line in lines]
    return envelope["seq"], envelope["row"], pa.array(ids, type=pa.int64())


async def read_all(ws: ClientConnection, fmt: str, *, max_batches: int | None = None) -> Received:
    first = await ws.recv()
    assert isinstance(first, str)
    received = Received(schema=json.loads(first))
    assert received.schema["type"] == "schema"
    async for message in ws:
        received.messages += 1
        received.bytes += len(message)
        if isinstance(message, str):
            kind = json.loads(message.partition("\n")[0])
            if kind["type"] == "end":
                received.end = kind
                break
            assert kind["type"] == "batch", kind
        seq, row, ids = parse_batch(message, fmt)
        received.seqs.append(seq)
        received.rows.append(row)
        received.ids.append(ids)
        if max_batches is not None and len(received.seqs) >= max_batches:
            break
    return received
