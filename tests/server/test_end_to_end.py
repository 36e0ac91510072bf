"""End to end: a real `dataproduct-mcp serve` subprocess over stdio and over Streamable HTTP."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from tests.helpers import call_err, call_ok, product_args
from tests.procs import EXE, HttpServer, authed, server_env

pytestmark = pytest.mark.anyio


async def _lifecycle(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    listing = await call_ok(client, "list_data_products", {"query": "sales"})
    assert [p["id"] for p in listing["items"]] == [product["id"]]
    updated = await call_ok(
        client, "update_data_product", {"id": product["id"], "patch": {"version": "1.0.1"}, "expected_revision": 1}
    )
    assert updated["revision"] == 2
    await call_ok(client, "delete_data_product", {"id": product["id"]})
    assert (await call_err(client, "get_data_product", {"id": product["id"]}))["code"] == "not-found"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_stdio_subprocess_register_list_update_delete(tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(command=EXE, args=["serve"], env=server_env(tmp_path))
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:
            await _lifecycle(client)
            status = await call_ok(client, "get_server_status", {})
            assert status["transport"] == "stdio"
            assert status["http_url"].startswith("http://127.0.0.1:")
            async with httpx.AsyncClient() as http:
                assert (await http.get(status["http_url"] + "/alive")).status_code == 200
                assert (await http.get(status["http_url"] + "/startup")).status_code == 200  # HTTP side included


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_streamable_http_subprocess_register_list_update_delete(http_server: HttpServer, mode: str) -> None:
    with anyio.fail_after(60):
        async with Client(authed(http_server.url + "/mcp", http_server.token), mode=mode) as client:
            await _lifecycle(client)
            status = await call_ok(client, "get_server_status", {})
            assert status["transport"] == "streamable-http"
            assert status["tenant"] == "acme"


async def test_http_side_probes_answer(http_server: HttpServer) -> None:
    headers = {"Authorization": f"Bearer {http_server.token}"}
    async with httpx.AsyncClient(base_url=http_server.url) as http:
        for path in ("/alive", "/ready", "/startup"):
            assert (await http.get(path)).status_code == 200, path
        health = await http.get("/health", headers=headers)
        assert health.status_code == 200
        assert health.json()["components"]["database"]["status"] == "ok"
